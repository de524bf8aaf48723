"""`mailpolicy preview` on the command line: usage errors, the port, the browser, the missing extra."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest
from click.testing import CliRunner

from mailpolicy.cli import cli
from mailpolicy.preview.server import can_open_browser
from tests.preview.helpers import INVOICE_CC, edit_rule, rule_position


def test_two_selection_options_are_a_usage_error(workspace: Path) -> None:
    """GIVEN --relation and --all THEN exit 2 naming both, before anything is served."""
    result = CliRunner().invoke(
        cli,
        ["preview", str(workspace / "firm-settings.mail"), "--data", str(workspace / "data.yaml"),
         "--relation", "R001", "--all", "--no-open"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert (
        "Error: choose at most one of --relation, --document, --audience or --all (got --relation, --all)"
        in (result.output)
    )


def test_missing_data_file_is_a_usage_error(workspace: Path) -> None:
    """GIVEN a data path that does not exist THEN exit 2 naming it."""
    result = CliRunner().invoke(
        cli, ["preview", str(workspace / "firm-settings.mail"), "--data", str(workspace / "nope.yaml")]
    )
    assert result.exit_code == 2
    assert "nope.yaml' does not exist" in result.output


def test_port_in_use_is_a_clear_error(workspace: Path) -> None:
    """GIVEN a port another program holds THEN exit 2 with a message that says what to do."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            cli,
            ["preview", str(workspace / "firm-settings.mail"), "--data", str(workspace / "data.yaml"),
             "--port", str(port), "--no-open"],
        )  # fmt: skip
    assert result.exit_code == 2
    assert result.output == f"error: port {port} is in use on 127.0.0.1; pass --port 0 to take a free one\n"


def test_the_browser_is_never_opened_in_ci_or_without_a_display(monkeypatch: pytest.MonkeyPatch) -> None:
    """CI=true or no display (Linux) means no browser; a desktop session means one."""
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("DISPLAY", ":0")
    assert can_open_browser() is False
    monkeypatch.delenv("CI")
    if sys.platform.startswith("linux"):
        assert can_open_browser() is True
        monkeypatch.delenv("DISPLAY")
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
        assert can_open_browser() is False


def run_preview(workspace: Path) -> tuple[str, str, str]:
    """Run `mailpolicy preview --port 0 --no-open` on WORKSPACE, fetch its gallery, stop it with Ctrl-C.

    Returns (the gallery's HTML, what the command printed, what it wrote to stderr).
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "mailpolicy.cli", "preview", str(workspace / "firm-settings.mail"),
         "--data", str(workspace / "data.yaml"), "--port", "0", "--no-open"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CI": "true"},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.fullmatch(r"mailpolicy preview: (http://127\.0\.0\.1:\d+/)  \(Ctrl-C to stop\)\n", line)
        assert match, line
        response = httpx2.get(match.group(1), timeout=10)
        assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        try:
            stdout, stderr = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    return response.text, line + stdout, stderr


def test_preview_serves_until_interrupted(workspace: Path) -> None:
    """GIVEN `preview --port 0 --no-open` THEN it prints the URL, serves the gallery, and stops on Ctrl-C."""
    html, stdout, stderr = run_preview(workspace)
    assert '<span id="count">72</span> of 72 messages' in html
    assert stdout.endswith("(Ctrl-C to stop)\nmailpolicy preview: stopped\n")
    assert stderr == ""


def test_preview_of_a_broken_policy_prints_its_diagnostics_and_serves_them(workspace: Path) -> None:
    """GIVEN a policy that does not compile THEN the diagnostics on stderr, and the page shows them too."""
    edit_rule(workspace / "firm-settings.mail", INVOICE_CC, "invoice.cc = responsibel")
    line, _ = rule_position(workspace / "firm-settings.mail", r"^invoice\.cc = responsibel$")
    html, _, stderr = run_preview(workspace)
    assert "error[MP103]</b>: unknown address source 'responsibel'" in html
    path = workspace.resolve() / "firm-settings.mail"
    pad = " " * len(str(line))
    assert stderr.startswith(
        f"{path}:{line}:14: error[MP103]: unknown address source 'responsibel'\n"
        f"{pad} |\n{line} | invoice.cc = responsibel\n{pad} |              ^^^^^^^^^^^\n"
        "  help: did you mean 'responsible'?\n"
        "the preview shows these errors at http://127.0.0.1:"
    )


def test_missing_web_stack_is_named(tmp_path: Path, workspace: Path) -> None:
    """GIVEN an install without the preview extra THEN a message saying what to install, exit 1."""
    # A meta-path finder that refuses Starlette stands in for an environment without it.
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'starlette':\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "mailpolicy.cli", "preview", str(workspace / "firm-settings.mail"),
         "--data", str(workspace / "data.yaml"), "--no-open"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"},
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == (
        "error: the preview needs its web stack (starlette is missing): pip install 'mailpolicy[preview]'\n"
    )


def test_other_commands_do_not_import_the_web_stack() -> None:
    """Loading the CLI (as every command does) imports neither Starlette, uvicorn nor watchfiles."""
    code = (
        "import sys, mailpolicy.cli, mailpolicy.preview\n"
        "print(sorted(m for m in ('starlette', 'uvicorn', 'watchfiles') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout == "[]\n", result.stderr

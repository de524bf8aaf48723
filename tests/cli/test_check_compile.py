"""`mailpolicy check` and `mailpolicy compile`: output, exit codes 0/1/2, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clirun import run

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "firm-settings.mail"

FIRM = """firm {
  name = "Cabinet"
  company = "info@firm.be"
  platform = "inbox@mailer.example"
  verified_domains = ["firm.be"]
}
"""


def write(tmp_path: Path, text: str, name: str = "policy.mail") -> str:
    """A policy file in TMP_PATH; its path as a string."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_check_example_passes() -> None:
    """The bundled example checks clean."""
    code, out, err = run("check", str(EXAMPLE))
    assert (code, out, err) == (0, "", "checked 1 policy: 0 errors, 0 warnings\n")


def test_check_reports_every_error_with_excerpt_and_help(tmp_path: Path) -> None:
    """Text diagnostics: location, code, message, source line, caret, help; then a summary; exit 1."""
    path = write(tmp_path, FIRM + "reply_to = responsable else company\ninvoce.bcc = sender\n")
    code, out, err = run("check", path)
    assert code == 1
    assert out == ""
    assert err == (
        f"{path}:7:12: error[MP103]: unknown address source 'responsable'\n"
        "  |\n"
        "7 | reply_to = responsable else company\n"
        "  |            ^^^^^^^^^^^\n"
        "  help: did you mean 'responsible'?\n"
        "\n"
        f"{path}:8:1: error[MP101]: unknown kind 'invoce'\n"
        "  |\n"
        "8 | invoce.bcc = sender\n"
        "  | ^^^^^^\n"
        "  help: did you mean 'invoice'?\n"
        "\n"
        "checked 1 policy: 2 errors, 0 warnings\n"
    )


def test_check_syntax_error(tmp_path: Path) -> None:
    """A syntax error is a diagnostic in words, exit 1."""
    path = write(tmp_path, "bcc = sender else\n")
    code, _, err = run("check", path)
    assert code == 1
    assert err.startswith(f"{path}:1:18: error[MP001]: expected an address source after 'else'\n")


def test_warnings_fail_only_with_strict(tmp_path: Path) -> None:
    """A warning passes by default and fails with --strict (which also adds MP502)."""
    path = write(tmp_path, FIRM + "reply_to = responsible\n")
    code, _, err = run("check", path)
    assert code == 0
    assert "warning[MP501]" in err and err.endswith("checked 1 policy: 0 errors, 1 warning\n")
    code, _, err = run("check", "--strict", path)
    assert code == 1
    assert "warning[MP502]: kind 'general' has no subject and no template" in err
    assert err.endswith("checked 1 policy: 0 errors, 2 warnings\n")


def test_check_several_policies(tmp_path: Path) -> None:
    """All files are checked; the summary counts them; one bad file fails the run."""
    good = write(tmp_path, FIRM + "bcc = sender\n", "good.mail")
    bad = write(tmp_path, FIRM + "bcc = sendr\n", "bad.mail")
    code, _, err = run("check", good, bad)
    assert code == 1
    assert f"{bad}:7:7: error[MP103]" in err
    assert err.endswith("checked 2 policies: 1 error, 0 warnings\n")


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    """A missing policy exits 2 with a one-line message."""
    code, out, err = run("check", str(tmp_path / "nope.mail"))
    assert (code, out, err) == (2, "", f"error: no such file: {tmp_path / 'nope.mail'}\n")
    code, _, err = run("compile", str(tmp_path / "nope.mail"))
    assert (code, err) == (2, f"error: no such file: {tmp_path / 'nope.mail'}\n")


def test_a_folder_given_as_policy_is_a_usage_error(tmp_path: Path) -> None:
    """A folder where a policy file is expected exits 2 and says it is a folder."""
    for command in ("check", "compile", "fmt"):
        assert run(command, str(tmp_path)) == (2, "", f"error: {tmp_path} is a folder, not a file\n")


def test_undecodable_file(tmp_path: Path) -> None:
    """A file that is not UTF-8 is a located diagnostic, exit 1."""
    path = tmp_path / "latin.mail"
    path.write_bytes('subject = "caf\xe9"\n'.encode("latin-1"))
    code, _, err = run("check", str(path))
    assert code == 1
    assert err.startswith(
        f"{path}:1:15: error[MP005]: the file is not UTF-8 text (byte 0xe9 cannot be decoded)\n"
    )


def test_compile_to_stdout_and_file(tmp_path: Path) -> None:
    """compile prints the table, or writes it with -o; both are the same bytes."""
    code, out, err = run("compile", str(EXAMPLE))
    assert (code, err) == (0, "")
    table = json.loads(out)
    assert (table["format"], table["format_version"], table["policy"]) == (
        "mailpolicy-ruletable",
        1,
        "firm-settings.mail",
    )
    target = tmp_path / "table.json"
    code, out2, _ = run("compile", str(EXAMPLE), "-o", str(target))
    assert (code, out2) == (0, "")
    assert target.read_text(encoding="utf-8") == out


def test_compile_refuses_a_policy_with_errors(tmp_path: Path) -> None:
    """No table is written for a policy with errors; exit 1."""
    path = write(tmp_path, FIRM + "bcc = sendr\n")
    target = tmp_path / "table.json"
    code, out, err = run("compile", path, "-o", str(target))
    assert code == 1 and out == ""
    assert err.endswith(f"error: {path}: the policy has errors; no rule table was written\n")
    assert not target.exists()


@pytest.mark.parametrize(
    "text",
    [
        "bcc = " + "(" * 5000 + "sender" + ")" * 5000 + "\n",
        "bcc = " + "(" * 5000 + "sender\n",
        FIRM + "x = a when " + "not " * 5000 + "b\n",
        "\x00",
        "firm {",
        "}}}}",
    ],
    ids=["deep", "unclosed", "not-chain", "nul", "open-brace", "braces"],
)
def test_hostile_input_never_gives_a_traceback(tmp_path: Path, text: str) -> None:
    """Through the real console script: a diagnostic and exit 1, never a Python traceback."""
    path = write(tmp_path, text)
    proc = subprocess.run(
        [sys.executable, "-m", "mailpolicy.cli", "check", path], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "error[MP" in proc.stderr


def test_template_diagnostic_shows_the_template_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A placeholder error inside an MJML template is shown with the template's own line."""
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "a.mjml").write_text(
        "<mjml>\n  <mj-body>\n    <mj-section><mj-column><mj-text>Hello {{ relation.nme }}</mj-text>"
        "</mj-column></mj-section>\n  </mj-body>\n</mjml>\n",
        encoding="utf-8",
    )
    write(tmp_path, FIRM + 'invoice.template = "templates/a.mjml"\n')
    monkeypatch.chdir(tmp_path)
    code, _, err = run("check", "policy.mail")
    assert code == 1
    assert err.startswith(
        "templates/a.mjml:3:43: error[MP104]: unknown path 'relation.nme'\n"
        "  |\n"
        "3 |     <mj-section><mj-column><mj-text>Hello {{ relation.nme }}</mj-text>"
        "</mj-column></mj-section>\n"
    )


def test_check_stays_light(tmp_path: Path) -> None:
    """`check` of a policy without templates loads neither MJML, jsonschema nor Babel."""
    path = write(tmp_path, FIRM + "bcc = sender\n")
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from mailpolicy.cli import cli\n"
        f"result = CliRunner().invoke(cli, ['check', {path!r}])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(sorted(m for m in ('mjml', 'jsonschema', 'babel', 'css_inline') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout) == (0, "[]\n"), proc.stderr

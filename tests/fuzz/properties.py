"""The properties every policy file must satisfy, shared by the default test run and `fuzz_check.py`.

For any bytes at all: the library (`compile_file`) returns diagnostics instead of raising, and
each diagnostic is located in the policy (PATH:LINE:COL inside the file); `mailpolicy check`,
run in-process through click's CliRunner, exits 0 or 1, prints no traceback, and every
diagnostic line it prints starts with PATH:LINE:COL (and `--format json` gives the same findings,
each with its path, line and column); `mailpolicy compile` fails exactly when `check` finds
errors, and every table it writes loads in the runtime.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from click.testing import CliRunner

from mailpolicy.cli import cli
from mailpolicy.compiler import compile_file
from mailpolicy.compiler.lint import lint_table
from mailpolicy.runtime.table import load_table

# The first line of each diagnostic in the text form; excerpt and help lines start with a space.
_DIAGNOSTIC = re.compile(r"^(?!\s)(?!checked \d)(.*?)(error|warning)\[([A-Z]+\d+)\]: ")
_SUMMARY = re.compile(r"^checked 1 policy: (\d+) errors?, (\d+) warnings?$", re.M)


def check_policy_bytes(data: bytes) -> tuple[int, list[str]]:
    """Assert every property for one policy file's bytes; returns (exit code, diagnostic codes)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "policy.mail"
        path.write_bytes(data)
        lines = data.split(b"\n")

        result = compile_file(path)
        diagnostics = list(result.diagnostics)
        if result.table is not None:
            # `check` adds the linter's warnings to the compiler's findings.
            diagnostics += lint_table(result.table, str(path), result.source)
        for diag in diagnostics:
            assert diag.span is not None, f"{diag.code} has no location: {diag.message}"
            # A diagnostic about a template file points into that file; all others into the policy.
            if diag.span.path == str(path):
                assert 1 <= diag.span.line <= len(lines), (diag, len(lines))
                assert diag.span.column >= 1, diag
        if result.table is not None:
            assert not result.errors

        runner = CliRunner()
        run = runner.invoke(cli, ["check", str(path)], catch_exceptions=True)
        assert run.exception is None or isinstance(run.exception, SystemExit), repr(run.exception)
        assert run.exit_code in (0, 1), (run.exit_code, run.output)
        stderr = run.stderr
        assert "Traceback" not in stderr
        located = f"{path}:"
        codes = []
        for line in stderr.splitlines():
            match = _DIAGNOSTIC.match(line)
            if match is None:
                continue
            assert re.fullmatch(re.escape(located) + r"\d+:\d+: ", match.group(1)), line
            codes.append(match.group(3))
        summary = _SUMMARY.search(stderr)
        assert summary is not None, stderr
        errors, warnings = int(summary.group(1)), int(summary.group(2))
        assert len(codes) == errors + warnings, stderr
        assert run.exit_code == (1 if errors else 0)
        assert sorted(codes) == sorted(d.code for d in diagnostics)

        as_json = runner.invoke(cli, ["check", "--format", "json", str(path)], catch_exceptions=True)
        assert as_json.exception is None or isinstance(as_json.exception, SystemExit), repr(as_json.exception)
        assert as_json.exit_code == run.exit_code
        items = json.loads(as_json.stdout)
        assert sorted(item["code"] for item in items) == sorted(codes)
        for item in items:
            assert item["path"] == str(path) and item["line"] >= 1 and item["column"] >= 1, item

        # `compile` agrees with `check`, and whatever it writes the runtime loads.
        compiled = runner.invoke(cli, ["compile", str(path)], catch_exceptions=True)
        assert compiled.exception is None or isinstance(compiled.exception, SystemExit), repr(
            compiled.exception
        )
        assert compiled.exit_code == (1 if errors else 0), (compiled.exit_code, compiled.stderr)
        if compiled.exit_code == 0:
            load_table(json.loads(compiled.stdout))
        else:
            assert compiled.stdout == ""
        return run.exit_code, codes


def check_pipeline(text: str, data_text: str) -> int:
    """Compile TEXT; when it compiles, resolve and build every kind for every relation of DATA_TEXT
    by both message paths. Only MessageError may stop a message, and every message built holds
    exactly its envelope's headers and recipients. Returns how many messages were built."""
    from mailpolicy.compiler import compile_text
    from mailpolicy.runtime.data import load_data
    from mailpolicy.runtime.errors import MessageError
    from mailpolicy.runtime.resolve import resolve_message
    from tests.security.pipeline import assert_exact_headers, both_paths

    with tempfile.TemporaryDirectory() as folder:
        result = compile_text(text, "policy.mail", policy_dir=folder)
        if result.table is None:
            assert result.errors, "no table and no error"
            return 0
        table = load_table(result.table)
        data_path = Path(folder) / "data.yaml"
        data_path.write_text(data_text, encoding="utf-8")
        data = load_data(data_path)
        built = 0
        for kind in sorted(table.kinds):
            for relation in data.relation_order:
                for sender in (None, "jan"):
                    try:
                        envelope = resolve_message(
                            table,
                            data,
                            kind=kind,
                            relation=relation,
                            sender=sender,
                            recipients=["new@client.be"],
                        )
                        produced = both_paths(table, data, envelope)
                    except MessageError:
                        continue
                    for message in produced:
                        assert_exact_headers(message, envelope)
                    built += 1
        return built

"""The one in-process runner of the `mailpolicy` command that the CLI tests share."""

from __future__ import annotations

from click.testing import CliRunner

from mailpolicy.cli import cli


def run(*args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `mailpolicy ARGS...`; any exception but SystemExit fails the test."""
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stdout, result.stderr

"""Machine-readable diagnostics fed to CI: policy text cannot forge annotations or break the JSON.

GitHub reads `::error file=...,line=...::message` workflow commands line by line; a file name or
a string from the policy holding `,line=`, `::` or an encoded line break must stay inert.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailpolicy.cli import cli

FIRM = (
    'firm {\n  name = "F"\n  company = "info@firm.be"\n  platform = "inbox@mailer.example"\n'
    '  verified_domains = ["firm.be"]\n}\n'
)
TRICK = "x%0A::error file=evil::pwned,line=1.mjml"
NAME = "p,line=9:x.mail"


@pytest.fixture(autouse=True)
def _policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A policy with a hostile file name and a hostile template path, in the working directory."""
    (tmp_path / NAME).write_text(FIRM + f'invoice.template = "{TRICK}"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)


def test_github_annotations_escape_file_names_and_messages() -> None:
    """GIVEN a file name with `,line=` and `:` and a message quoting `%0A::error ...`
    WHEN checked with --format github THEN one annotation line, its properties and data escaped."""
    run = CliRunner().invoke(cli, ["check", "--format", "github", NAME])
    assert run.exit_code == 1
    assert run.stdout.splitlines() == [
        "::error file=p%2Cline=9%3Ax.mail,line=7,col=20::template file not found: "
        "'x%250A::error file=evil::pwned,line=1.mjml' [MP402]"
    ]


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_json_formats_keep_hostile_text_as_data(fmt: str) -> None:
    """GIVEN the same policy WHEN checked with --format json or sarif THEN valid JSON holding the
    file name and the template path as plain strings."""
    run = CliRunner().invoke(cli, ["check", "--format", fmt, NAME])
    assert run.exit_code == 1
    payload = json.loads(run.stdout)
    assert TRICK in json.dumps(payload, ensure_ascii=False)
    if fmt == "json":
        assert [(d["path"], d["line"], d["column"], d["code"]) for d in payload] == [(NAME, 7, 20, "MP402")]

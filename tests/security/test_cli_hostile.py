"""The whole pipeline from the command line with a hostile data file: `resolve` and `render`.

One bad relation fails alone with a clear line; the others are written as .eml files that hold
exactly their validated headers; nothing prints a traceback.
"""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mailpolicy.cli import cli
from tests.security.test_bodies import POLICY, TEMPLATE

DATA = """\
relations:
  - {id: R1, name: "x\\r\\nBcc: evil@evil.example",
     emails: [good@client.be, "alice@example.org)<bob@evil.com"], attributes: {portal: "https://ok.example"}}
  - {id: R2, name: "=?utf-8?q?a=0ABcc:_x@evil?=", emails: [b@client.be],
     attributes: {portal: "javascript:alert(1)"}}
  - {id: R3, name: "{{ relation.name }}", emails: ["c@client.be, d@evil.com", c@client.be],
     attributes: {portal: "https://ok.example"}}
"""


@pytest.fixture(autouse=True)
def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Policy, template and hostile data in a temporary folder, which is the working directory."""
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "invoice.mjml").write_text(TEMPLATE, encoding="utf-8")
    (tmp_path / "policy.mail").write_text(POLICY, encoding="utf-8")
    (tmp_path / "data.yaml").write_text(DATA, encoding="utf-8")
    monkeypatch.chdir(tmp_path)


def run(*argv: str) -> Result:
    """`mailpolicy ARGV...` in-process; never an exception or a traceback."""
    result = CliRunner().invoke(cli, list(argv))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output + result.stderr
    return result


def test_resolve_shows_only_validated_addresses_and_one_line_subjects() -> None:
    """GIVEN a relation with a CRLF name and a hostile address WHEN resolved THEN the JSON holds the
    valid address only, a one-line subject, and the skipped address in the trace."""
    result = run(
        "resolve", "policy.mail", "--data", "data.yaml", "--kind", "invoice", "--relation", "R1", "--explain"
    )
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["to"] == ["good@client.be"]
    assert out["subject"] == "Facture x  Bcc: evil@evil.example"
    assert "alice@example.org)<bob@evil.com" in json.dumps(out["trace"])


def test_render_writes_clean_messages_and_fails_the_dangerous_one_alone(tmp_path: Path) -> None:
    """GIVEN three hostile relations WHEN rendered THEN R1 and R3 are written with exactly their
    headers, R2 (a javascript: link) fails alone with its reason, and the exit code is 1."""
    result = run("render", "policy.mail", "--data", "data.yaml", "--kind", "invoice", "--all", "--out", "out")
    assert result.exit_code == 1
    assert (
        "failed: relation 'R2': 'relation.attributes.portal' would make a 'javascript:' link "
        "in the template; only http, https, mailto and tel links are filled in"
    ) in result.stderr.splitlines()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["R1.eml", "R3.eml"]
    for name, to, subject in (
        ("R1.eml", ["good@client.be"], "Facture x Bcc: evil@evil.example"),
        ("R3.eml", ["c@client.be"], "Facture {{ relation.name }}"),
    ):
        raw = (tmp_path / "out" / name).read_bytes()
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert parsed["Bcc"] is None
        assert [a.addr_spec for a in parsed["To"].addresses] == to
        assert str(parsed["Subject"]) == subject
        assert b"evil.com" not in raw


def test_render_file_names_never_leave_the_output_folder(tmp_path: Path) -> None:
    """GIVEN relation ids like `../../escape` and `/etc/cron.d/x` WHEN rendered THEN every .eml file is
    written inside --out, with the id made safe."""
    Path("data.yaml").write_text(
        "relations:\n"
        '  - {id: "../../escape", name: A, emails: [a@client.be], attributes: {portal: "https://ok.example"}}\n'
        '  - {id: "/etc/cron.d/x", name: B, emails: [b@client.be], attributes: {portal: "https://ok.example"}}\n'
        '  - {id: "..", name: C, emails: [c@client.be], attributes: {portal: "https://ok.example"}}\n',
        encoding="utf-8",
    )
    result = run("render", "policy.mail", "--data", "data.yaml", "--kind", "invoice", "--all", "--out", "out")
    assert result.exit_code == 0, result.stderr
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.eml"))
    assert written == ["out/_.._escape.eml", "out/_etc_cron.d_x.eml", "out/message.eml"]

"""Template and attachment paths that try to leave their folder: `..`, absolute paths, symbolic links.

Templates are checked at compile time (MP401, located in the policy); attachments when the data
file is loaded (the document fails alone, naming its field), so no message can carry a file from
outside the data file's folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mailpolicy.cli import cli
from mailpolicy.runtime.data import load_data
from mailpolicy.runtime.errors import MessageError
from mailpolicy.runtime.resolve import resolve_message
from mailpolicy.runtime.table import load_table
from tests.runtime.tables import make_table

FIRM = (
    'firm {\n  name = "F"\n  company = "info@firm.be"\n  platform = "inbox@mailer.example"\n'
    '  verified_domains = ["firm.be"]\n}\n'
)
MJML = (
    "<mjml><mj-body><mj-section><mj-column><mj-text>Hi</mj-text></mj-column></mj-section></mj-body></mjml>\n"
)
OUTSIDE = "leads outside the policy's folder"
HELP = "  help: templates must live in the policy's folder or below it"


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp/policy/ (the policy's folder, with templates/) next to tmp/outside/evil.mjml; cwd = policy/."""
    policy = tmp_path / "policy"
    (policy / "templates").mkdir(parents=True)
    (policy / "templates" / "invoice.mjml").write_text(MJML, encoding="utf-8")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "evil.mjml").write_text(MJML, encoding="utf-8")
    (policy / "templates" / "link.mjml").symlink_to(tmp_path / "outside" / "evil.mjml")
    (policy / "templates" / "dirlink").symlink_to(tmp_path / "outside", target_is_directory=True)
    (policy / "templates" / "inside.mjml").symlink_to(policy / "templates" / "invoice.mjml")
    monkeypatch.chdir(policy)
    return policy


def check_rule(rule: str) -> tuple[int, list[str]]:
    """`mailpolicy check policy.mail` for a policy holding RULE on line 7: (exit code, stderr lines)."""
    Path("policy.mail").write_text(FIRM + rule + "\n", encoding="utf-8")
    run = CliRunner().invoke(cli, ["check", "policy.mail"])
    assert run.exception is None or isinstance(run.exception, SystemExit), repr(run.exception)
    return run.exit_code, run.stderr.splitlines()


@pytest.mark.parametrize(
    ("path", "message", "helped"),
    [
        ("../outside/evil.mjml", f"the template '../outside/evil.mjml' {OUTSIDE}", True),
        (
            "templates/../../outside/evil.mjml",
            f"the template 'templates/../../outside/evil.mjml' {OUTSIDE}",
            True,
        ),
        (
            "templates/link.mjml",
            f"the template 'templates/link.mjml' {OUTSIDE} through a symbolic link",
            True,
        ),
        (
            "templates/dirlink/evil.mjml",
            f"the template 'templates/dirlink/evil.mjml' {OUTSIDE} through a symbolic link",
            True,
        ),
        (
            "/etc/passwd",
            "the template path '/etc/passwd' is absolute; write it relative to the policy file",
            False,
        ),
        (
            "C:/x.mjml",
            "the template path 'C:/x.mjml' is absolute; write it relative to the policy file",
            False,
        ),
    ],
    ids=["dotdot", "dotdot-inside", "file-symlink", "folder-symlink", "absolute", "drive-letter"],
)
def test_template_paths_leaving_the_policy_folder_are_refused(
    tree: Path, path: str, message: str, helped: bool
) -> None:
    """GIVEN a template path that leads outside the policy's folder WHEN checked THEN MP401 at the string."""
    code, lines = check_rule(f'invoice.template = "{path}"')
    assert code == 1
    assert lines[0] == f"policy.mail:7:20: error[MP401]: {message}"
    assert (HELP in lines) is helped
    assert lines[-1] == "checked 1 policy: 1 error, 0 warnings"


def test_template_paths_inside_the_folder_are_accepted(tree: Path) -> None:
    """GIVEN `templates/./x/../invoice.mjml` and a symlink that stays inside WHEN checked THEN no error."""
    (tree / "templates" / "x").mkdir()
    code, lines = check_rule(
        'invoice.template = "templates/./x/../invoice.mjml"\ntask.template = "templates/inside.mjml"'
    )
    assert (code, lines) == (0, ["checked 1 policy: 0 errors, 0 warnings"])


DOCUMENT = (
    "  - {{id: {id}, kind: invoice, relation: R1, number: '1', date: 2026-01-01, amount: 1, "
    "currency: EUR, file: '{file}'}}\n"
)


@pytest.fixture
def data_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp/data/ (with invoices/ok.pdf and symlinks out) next to tmp/secret/key.pem; cwd = data/."""
    data = tmp_path / "data"
    (data / "invoices").mkdir(parents=True)
    (data / "invoices" / "ok.pdf").write_bytes(b"%PDF-1.4\n")
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "key.pem").write_text("-----BEGIN PRIVATE KEY-----\n", encoding="utf-8")
    (data / "invoices" / "link.pdf").symlink_to(tmp_path / "secret" / "key.pem")
    (data / "invoices" / "dirlink").symlink_to(tmp_path / "secret", target_is_directory=True)
    monkeypatch.chdir(data)
    return data


@pytest.mark.parametrize(
    "file",
    [
        "../secret/key.pem",
        "invoices/../../secret/key.pem",
        "invoices/link.pdf",
        "invoices/dirlink/key.pem",
        "ABSOLUTE",
    ],
    ids=["dotdot", "dotdot-inside", "file-symlink", "folder-symlink", "absolute"],
)
def test_attachment_paths_leaving_the_data_folder_are_refused(data_tree: Path, file: str) -> None:
    """GIVEN a document whose file leads outside the data file's folder WHEN loaded
    THEN that document fails alone, naming its field, and no message can attach the file."""
    file = str(data_tree.parent / "secret" / "key.pem") if file == "ABSOLUTE" else file
    text = "relations:\n  - {id: R1, name: X, emails: [a@client.be]}\ndocuments:\n"
    text += DOCUMENT.format(id="D1", file=file) + DOCUMENT.format(id="D2", file="invoices/ok.pdf")
    Path("data.yaml").write_text(text, encoding="utf-8")
    data = load_data("data.yaml")
    assert [str(e) for e in data.errors] == [
        "data.yaml: document 'D1', field 'file': must be a path inside the data file's folder"
    ]
    assert data.documents["D2"].file == str(data_tree / "invoices" / "ok.pdf")
    table = load_table(make_table())
    with pytest.raises(MessageError) as info:
        resolve_message(table, data, kind="invoice", document="D1")
    assert (
        str(info.value)
        == "data.yaml: document 'D1', field 'file': must be a path inside the data file's folder"
    )
    assert resolve_message(table, data, kind="invoice", document="D2").attach == str(
        data_tree / "invoices" / "ok.pdf"
    )

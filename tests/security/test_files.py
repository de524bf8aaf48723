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


def _loaded_with_attachment(data_tree: Path) -> tuple[object, object]:
    """The table and the data of one invoice attaching invoices/ok.pdf, checked and accepted."""
    text = "relations:\n  - {id: R1, name: X, emails: [a@client.be]}\ndocuments:\n"
    text += DOCUMENT.format(id="D1", file="invoices/ok.pdf")
    Path("data.yaml").write_text(text, encoding="utf-8")
    data = load_data("data.yaml")
    assert data.errors == []
    return load_table(make_table()), data


def _attach_error(table: object, data: object) -> str:
    from mailpolicy.runtime.message import compose_message

    envelope = resolve_message(table, data, kind="invoice", document="D1")  # type: ignore[arg-type]
    with pytest.raises(MessageError) as info:
        compose_message(table, data, envelope)
    return str(info.value)


def test_an_attachment_still_in_place_is_attached(data_tree: Path) -> None:
    """GIVEN the file checked at load time, unchanged WHEN composed THEN its bytes are attached."""
    from mailpolicy.runtime.message import compose_message

    table, data = _loaded_with_attachment(data_tree)
    envelope = resolve_message(table, data, kind="invoice", document="D1")  # type: ignore[arg-type]
    message = compose_message(table, data, envelope)  # type: ignore[arg-type]
    assert b'filename="ok.pdf"' in message.data and b"JVBERi0xLjQK" in message.data


def test_an_attachment_swapped_for_a_symlink_after_loading_is_refused(data_tree: Path) -> None:
    """GIVEN invoices/ok.pdf replaced by a link to a secret after the data was loaded
    WHEN the message is composed THEN it fails alone and the secret is not read."""
    table, data = _loaded_with_attachment(data_tree)
    pdf = data_tree / "invoices" / "ok.pdf"
    pdf.unlink()
    pdf.symlink_to(data_tree.parent / "secret" / "key.pem")
    message = _attach_error(table, data)
    assert message.endswith(f"cannot attach {pdf}: the file is now a symbolic link"), message


def test_an_attachment_folder_swapped_for_a_symlink_after_loading_is_refused(data_tree: Path) -> None:
    """GIVEN the invoices folder replaced by a link to a folder outside, holding an ok.pdf too
    WHEN the message is composed THEN it fails: the file opened is not the one checked."""
    table, data = _loaded_with_attachment(data_tree)
    (data_tree.parent / "secret" / "ok.pdf").write_bytes(b"secret")
    (data_tree / "invoices").rename(data_tree / "old")
    (data_tree / "invoices").symlink_to(data_tree.parent / "secret", target_is_directory=True)
    message = _attach_error(table, data)
    pdf = data_tree / "invoices" / "ok.pdf"
    assert message.endswith(f"cannot attach {pdf}: the path now goes through a symbolic link"), message


def test_an_attachment_swapped_for_a_fifo_fails_without_blocking(data_tree: Path) -> None:
    """GIVEN the attachment replaced by a FIFO nobody writes to WHEN composed
    THEN the message fails at once (a regular file only) instead of waiting forever."""
    import os

    table, data = _loaded_with_attachment(data_tree)
    pdf = data_tree / "invoices" / "ok.pdf"
    pdf.unlink()
    os.mkfifo(pdf)
    message = _attach_error(table, data)
    assert message.endswith(f"cannot attach {pdf}: not a regular file"), message

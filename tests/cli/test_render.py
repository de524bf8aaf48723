"""`mailpolicy render`: one .eml per selected message, failures reported, usage errors exit 2."""

from __future__ import annotations

import email
import email.policy
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mailpolicy.cli import cli

ROOT = Path(__file__).resolve().parents[2]
POLICY = str(ROOT / "examples" / "firm-settings.mail")
DATA = str(ROOT / "examples" / "data.yaml")
SNAPSHOTS = ROOT / "tests" / "snapshots" / "runtime" / "test_message_example"


def render(*args: str) -> Result:
    return CliRunner().invoke(cli, ["render", *args])


def parse(path: Path) -> email.message.EmailMessage:
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    assert [d for part in msg.walk() for d in part.defects] == []
    return msg


def without_date_and_id(text: str) -> str:
    return re.sub(r"(?m)^(Date|Message-ID): .*$", r"\1: -", text)


def test_render_invoices_by_document(tmp_path: Path) -> None:
    """GIVEN the example WHEN invoices are rendered by document THEN one .eml per document, named
    after relation and document, identical to the composed messages apart from Date and Message-ID."""
    docs = ["F2026-0042", "F2026-0043", "F2026-0044", "F2026-0045", "NC2026-0003"]
    args = [POLICY, "--data", DATA, "--sender", "jan", "--out", str(tmp_path)]
    for doc in docs:
        args += ["--document", doc]
    result = render(*args)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"5 written to {tmp_path}\n"
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "R001_F2026-0042.eml",
        "R001_NC2026-0003.eml",
        "R002_F2026-0043.eml",
        "R003_F2026-0044.eml",
        "R005_F2026-0045.eml",
    ]
    for name in names:
        raw = (tmp_path / name).read_bytes()
        assert b"\n" not in raw.replace(b"\r\n", b"")
        parse(tmp_path / name)
        snapshot = SNAPSHOTS / f"test_example_messages_snapshot[invoices][invoices-{name[:-4]}].eml"
        expected = snapshot.read_text("utf-8")
        assert without_date_and_id(raw.decode("ascii").replace("\r\n", "\n")) == without_date_and_id(expected)
    # The invalid address of R005 is reported as a warning, once.
    assert result.stderr.count("'not-an-address' is not a valid address") == 1


def test_render_mailing_reports_skipped_relations(tmp_path: Path) -> None:
    result = render(POLICY, "--data", DATA, "--kind", "mailing", "--all", "--out", str(tmp_path))
    assert result.exit_code == 0
    assert result.stdout == f"3 written to {tmp_path}, 3 skipped\n"
    assert result.stderr.splitlines() == [
        "skipped: relation 'R002': relation 'R002' does not accept promotional mail: mailing skipped",
        "skipped: relation 'R004': relation 'R004' does not accept promotional mail: mailing skipped",
        "skipped: relation 'R005': relation 'R005' does not accept promotional mail: mailing skipped",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["R001.eml", "R003.eml", "R006.eml"]


def test_render_audience(tmp_path: Path) -> None:
    result = render(
        POLICY, "--data", DATA, "--kind", "mailing", "--audience", "garages", "--out", str(tmp_path)
    )
    assert result.exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["R001.eml", "R003.eml"]


def test_one_failure_does_not_stop_the_others(tmp_path: Path) -> None:
    result = render(
        POLICY, "--data", DATA, "--document", "NOPE", "--document", "F2026-0042", "--out", str(tmp_path)
    )
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"failed: document 'NOPE': unknown document 'NOPE' in {DATA}"]
    assert result.stdout == f"1 written to {tmp_path}, 1 failed\n"
    assert [p.name for p in tmp_path.iterdir()] == ["R001_F2026-0042.eml"]


def test_missing_placeholder_value_fails_that_message(tmp_path: Path) -> None:
    """An invoice without a document cannot fill {{ document.number }}: it fails, naming the path."""
    result = render(POLICY, "--data", DATA, "--kind", "invoice", "--relation", "R001", "--out", str(tmp_path))
    assert result.exit_code == 1
    # The subject rule is the first to need the value: its line and column in the example policy.
    lines = Path(POLICY).read_text("utf-8").splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.startswith("invoice.subject "))
    column = lines[line - 1].index("{{ document.number }}") + 1
    assert result.stderr == (
        "failed: relation 'R001': 'document.number' has no value for this message "
        f"(placeholder at line {line}:{column})\n"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "invoice"], "choose exactly one of --relation, --document, --audience or --all"),
        (
            ["--kind", "invoice", "--relation", "R001", "--all"],
            "choose exactly one of --relation, --document, --audience or --all (got --relation, --all)",
        ),
        (["--all"], "--kind is required unless messages are selected with --document"),
        (
            ["--kind", "mailing", "--audience", "garage"],
            "unknown audience 'garage' (known: all_promotional, garages); did you mean 'garages'?",
        ),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = render(POLICY, "--data", DATA, *args, "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert f"Error: {message}" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "invoce", "--all"], "error: unknown kind 'invoce'; did you mean 'invoice'?"),
        (["--kind", "general", "--all", "--sender", "nobody"], f"error: unknown user 'nobody' in {DATA}"),
    ],
)
def test_unknown_kind_or_sender_is_one_error_not_one_per_message(
    tmp_path: Path, args: list[str], message: str
) -> None:
    """GIVEN a mistyped --kind or --sender WHEN rendering every relation THEN one error line,
    exit 1, and nothing written (not the same failure once per relation)."""
    result = render(POLICY, "--data", DATA, *args, "--out", str(tmp_path / "out"))
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", message + "\n")
    assert not (tmp_path / "out").exists()


def test_bad_data_file_exits_1_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "data.yaml"
    bad.write_text("relations: [1, 2\n", encoding="utf-8")
    result = render(POLICY, "--data", str(bad), "--kind", "general", "--all", "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {bad}")
    assert "Traceback" not in result.output


def test_hostile_relation_names(tmp_path: Path) -> None:
    """A name with markup arrives escaped in HTML; one with CRLF + Bcc adds no header or recipient."""
    data = Path(DATA).read_text("utf-8")
    data = data.replace("name: Garage Martin SPRL", 'name: "<script>alert(1)</script>"')
    data = data.replace("name: Bakkerij Peeters BV", 'name: "Bakkerij\\r\\nBcc: x@evil.example"')
    shutil.copytree(ROOT / "examples" / "templates", tmp_path / "templates")
    shutil.copy(POLICY, tmp_path / "p.mail")
    (tmp_path / "data.yaml").write_text(data, encoding="utf-8")
    out = tmp_path / "out"
    result = render(
        str(tmp_path / "p.mail"),
        "--data",
        str(tmp_path / "data.yaml"),
        "--kind",
        "mailing",
        "--relation",
        "R001",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    html = parse(out / "R001.eml").get_body(("html",))
    assert html is not None
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html.get_content()  # type: ignore[attr-defined]
    assert "<script>" not in html.get_content()  # type: ignore[attr-defined]

    result = render(
        str(tmp_path / "p.mail"),
        "--data",
        str(tmp_path / "data.yaml"),
        "--kind",
        "notification",
        "--relation",
        "R002",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    msg = parse(out / "R002.eml")
    assert "Bcc" not in msg
    assert msg.keys() == [
        "From",
        "To",
        "Reply-To",
        "Subject",
        "Date",
        "Message-ID",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
    ]
    assert str(msg["Subject"]) == "[Cabinet Dupont & Associés] Notification pour Bakkerij Bcc: x@evil.example"
    assert "evil" not in str(msg["To"])


def test_progress_on_large_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mailpolicy.cli

    monkeypatch.setattr(mailpolicy.cli, "RENDER_PROGRESS_EVERY", 2)
    result = render(POLICY, "--data", DATA, "--kind", "notification", "--all", "--out", str(tmp_path))
    assert result.exit_code == 0
    assert [line for line in result.stderr.splitlines() if line.startswith("...")] == [
        "... 2 messages",
        "... 4 messages",
        "... 6 messages",
    ]


def test_render_from_a_compiled_table(tmp_path: Path) -> None:
    """A sending service renders from the compiled JSON table: same message as from the policy."""
    table = tmp_path / "table.json"
    compiled = CliRunner().invoke(cli, ["compile", POLICY, "-o", str(table)])
    assert compiled.exit_code == 0, compiled.output
    result = render(str(table), "--data", DATA, "--document", "F2026-0042", "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    raw = (tmp_path / "out" / "R001_F2026-0042.eml").read_bytes().decode("ascii").replace("\r\n", "\n")
    expected = (
        SNAPSHOTS / "test_example_messages_snapshot[invoices][invoices-R001_F2026-0042].eml"
    ).read_text()
    # The snapshot was sent by jan; this run has no sender, so From, Bcc and the From name differ.
    body = raw[raw.index("\n\n") :]
    assert without_date_and_id(body) == without_date_and_id(expected[expected.index("\n\n") :])

"""`mailpolicy send` end to end: rule table + data → SMTP server on loopback (STARTTLS, AUTH)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from mailpolicy.cli import cli
from tests.runtime.tables import Rule, free, make_table, role, smtp_block
from tests.smtp_server import TestServer

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "s3cret-Pa55word!"
NO_TO = (
    "no 'to' address for kind 'general', relation 'R003' (general built-in default); "
    "tried: contact (relation 'R003' has no valid emails)"
)

DATA = """\
users:
  - {id: jan, name: Jan Janssens, email: jan@dupont-associes.be}
relations:
  - {id: R001, name: Garage Martin, emails: [compta@garage-martin.be], roles: {responsible: jan},
     accepts_promotional: true}
  - {id: R002, name: Bakkerij Peeters, emails: "info@bakkerij.be, boekhouding@bakkerij.be",
     accepts_promotional: true}
  - {id: R003, name: Sans adresse, emails: []}
  - {id: R004, name: Pas de promo, emails: [x@client.be]}
documents:
  - {id: F1, kind: invoice, relation: R001, number: "2026-0001", date: 2026-11-20, amount: 100,
     currency: EUR}
  - {id: F2, kind: invoice, relation: R002, number: "2026-0002", date: 2026-11-21, amount: 200,
     currency: EUR}
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[TestServer]:
    """A STARTTLS server requiring AUTH, its certificate trusted through SSL_CERT_FILE."""
    srv = TestServer(tmp_path, password=PASSWORD).start()
    yield srv
    srv.stop()


def write_table(
    folder: Path,
    srv: TestServer,
    *,
    audiences: dict[str, Any] | None = None,
    senders: dict[str, Any] | None = None,
) -> Path:
    table = make_table(
        [
            Rule("invoice.cc", role("responsible")),
            Rule("invoice.bcc", free("office@firm.be")),
            Rule("invoice.subject", "Facture {{ document.number }}"),
            Rule("subject", "Nouvelles du cabinet"),
        ]
    )
    table["smtp"] = {
        "default": smtp_block("127.0.0.1", srv.port),
        "senders": senders or {},
    }
    table["audiences"] = audiences or {}
    path = folder / "table.json"
    path.write_text(json.dumps(table, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (folder / "data.yaml").write_text(DATA, encoding="utf-8")
    return path


def smtp_env(srv: TestServer, password: str = PASSWORD) -> dict[str, str]:
    return {"SMTP_LOGIN": srv.login, "SMTP_PASSWORD": password, "SSL_CERT_FILE": str(srv.cert_path)}


def send(folder: Path, srv: TestServer, *args: str, env: dict[str, str] | None = None) -> Result:
    argv = [
        "send",
        str(folder / "table.json"),
        "--data",
        str(folder / "data.yaml"),
        "--retry-delay",
        "0",
        *args,
    ]
    return CliRunner().invoke(
        cli, argv, env=env if env is not None else smtp_env(srv), catch_exceptions=False
    )


def test_send_documents_with_exact_envelopes(server: TestServer, tmp_path: Path) -> None:
    """GIVEN two invoices WHEN sent THEN each goes to To+CC+BCC exactly, Bcc not in headers, exit 0."""
    write_table(tmp_path, server)
    result = send(tmp_path, server, "--document", "F1", "--document", "F2")
    assert result.exit_code == 0, result.output
    assert result.stdout == "sent: 2, partially refused: 0, failed: 0, unknown: 0, skipped: 0\n"
    assert [(m.mail_from, m.rcpt_tos) for m in server.messages] == [
        ("inbox@mailer.example", ["compta@garage-martin.be", "jan@dupont-associes.be", "office@firm.be"]),
        ("inbox@mailer.example", ["info@bakkerij.be", "boekhouding@bakkerij.be", "office@firm.be"]),
    ]
    assert all(b"office@firm.be" not in m.data for m in server.messages)
    assert b"Subject: Facture 2026-0001" in server.messages[0].data
    assert server.connections == 1


def test_dry_run_prints_the_plan_and_sends_nothing(server: TestServer, tmp_path: Path) -> None:
    """GIVEN --dry-run WHEN run without any SMTP variable THEN one line per message, nothing sent."""
    write_table(tmp_path, server)
    journal = tmp_path / "outbox.sqlite"
    result = send(
        tmp_path, server, "--kind", "general", "--all", "--dry-run", "--journal", str(journal), env={}
    )
    via = f"via 127.0.0.1:{server.port} (starttls)"
    assert result.stdout.splitlines() == [
        f"general R001: MAIL FROM:<inbox@mailer.example> To: compta@garage-martin.be CC: - BCC: - {via}",
        f"general R002: MAIL FROM:<inbox@mailer.example> To: info@bakkerij.be, boekhouding@bakkerij.be "
        f"CC: - BCC: - {via}",
        f"general R003: error: {NO_TO}",
        f"general R004: MAIL FROM:<inbox@mailer.example> To: x@client.be CC: - BCC: - {via}",
        "dry run, nothing sent: 3 to send, 0 already sent, 0 unknown, 1 cannot be built, 0 skipped",
    ]
    assert result.exit_code == 1  # one message cannot be built
    assert server.messages == [] and server.connections == 0
    assert not journal.exists()


def test_a_bad_relation_fails_alone(server: TestServer, tmp_path: Path) -> None:
    """GIVEN a relation without address among four WHEN sending to all THEN the others go out, exit 1."""
    write_table(tmp_path, server)
    result = send(tmp_path, server, "--kind", "general", "--all")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "sent: 3, partially refused: 0, failed: 1, unknown: 0, skipped: 0",
        f"failed: general R003: {NO_TO}",
    ]
    assert len(server.messages) == 3


def test_mailing_to_an_audience_skips_relations_without_consent(server: TestServer, tmp_path: Path) -> None:
    """GIVEN a mailing to everyone WHEN sending THEN relations without consent are skipped, exit 0."""
    write_table(tmp_path, server)
    result = send(tmp_path, server, "--kind", "mailing", "--all")
    assert result.stdout.splitlines()[0] == "sent: 2, partially refused: 0, failed: 0, unknown: 0, skipped: 2"
    assert result.exit_code == 0
    assert sorted(r for m in server.messages for r in m.rcpt_tos) == [
        "boekhouding@bakkerij.be",
        "compta@garage-martin.be",
        "info@bakkerij.be",
    ]


def test_journal_second_run_sends_nothing_again(server: TestServer, tmp_path: Path) -> None:
    """GIVEN a batch sent with a journal WHEN the same command runs again THEN everything is skipped."""
    write_table(tmp_path, server)
    journal = str(tmp_path / "outbox.sqlite")
    server.fail_next_data("550 5.7.1 Rejected for policy reasons")
    first = send(tmp_path, server, "--document", "F1", "--document", "F2", "--journal", journal)
    assert first.exit_code == 1
    second = send(tmp_path, server, "--document", "F1", "--document", "F2", "--journal", journal)
    assert second.exit_code == 0, second.output
    assert second.stdout.splitlines()[0] == "sent: 1, partially refused: 0, failed: 0, unknown: 0, skipped: 1"
    third = send(tmp_path, server, "--document", "F1", "--document", "F2", "--journal", journal)
    assert third.stdout.splitlines()[0] == "sent: 0, partially refused: 0, failed: 0, unknown: 0, skipped: 2"
    dry = send(tmp_path, server, "--document", "F1", "--document", "F2", "--journal", journal, "--dry-run")
    assert (
        dry.stdout.splitlines()[-1]
        == "dry run, nothing sent: 0 to send, 2 already sent, 0 unknown, 0 cannot be built, 0 skipped"
    )
    assert server.copies_by_recipient()["office@firm.be"] == 2


def test_report_json_with_failures_and_refusals(
    server: TestServer, tmp_path: Path, file_snapshot: Any
) -> None:
    """GIVEN a 550 for one message and a refused recipient in another WHEN sending with --report
    THEN the JSON report tells each, and the exit status is 1."""
    write_table(tmp_path, server)
    server.fail_next_data("550 5.7.1 Rejected for policy reasons")
    server.refuse_recipient("boekhouding@bakkerij.be", "550 5.1.1 <boekhouding@bakkerij.be>: No such user")
    report = tmp_path / "report.json"
    result = send(tmp_path, server, "--document", "F1", "--document", "F2", "--report", str(report))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "sent: 0, partially refused: 1, failed: 1, unknown: 0, skipped: 0",
        "partially refused: invoice R002 F2: delivered to info@bakkerij.be, office@firm.be; "
        "refused boekhouding@bakkerij.be: 550 5.1.1 <boekhouding@bakkerij.be>: No such user",
        "failed: invoice R001 F1: message refused after its data: 550 5.7.1 Rejected for policy reasons",
    ]
    data = json.loads(report.read_text(encoding="utf-8"))
    for message in data["messages"]:
        message["message_id"] = "<varies>"
        message["server"] = "127.0.0.1:<port>"
    assert json.dumps(data, indent=2, sort_keys=True) + "\n" == file_snapshot


def test_wrong_password_is_clear_and_never_shown(server: TestServer, tmp_path: Path) -> None:
    """GIVEN a wrong password WHEN sending with a journal and a report THEN a clear failure, exit 1, and
    the password is in neither stdout, stderr, the report nor the journal."""
    wrong = "Wr0ng-P4ssw0rd-XYZ"
    write_table(tmp_path, server)
    report = tmp_path / "report.json"
    journal = tmp_path / "outbox.sqlite"
    result = send(
        tmp_path,
        server,
        "--document",
        "F1",
        "--document",
        "F2",
        "--journal",
        str(journal),
        "--report",
        str(report),
        env=smtp_env(server, wrong),
    )
    assert result.exit_code == 1
    where = f"127.0.0.1:{server.port} (the firm's smtp block)"
    reason = (
        f"login to {where} refused: 535 5.7.8 Authentication credentials invalid; "
        "check SMTP_LOGIN and SMTP_PASSWORD"
    )
    assert result.stdout.splitlines() == [
        "sent: 0, partially refused: 0, failed: 2, unknown: 0, skipped: 0",
        f"failed: invoice R001 F1: {reason}",
        f"failed: invoice R002 F2: not attempted: {reason}",
    ]
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("outbox.sqlite*"))
    assert reason.encode() in stored
    for text in (result.stdout, result.stderr, report.read_text()):
        assert wrong not in text
    assert wrong.encode() not in stored
    assert server.messages == []


def test_missing_variable_stops_before_sending(server: TestServer, tmp_path: Path) -> None:
    """GIVEN SMTP_PASSWORD unset WHEN sending THEN exit 1 naming the variable, nothing sent."""
    write_table(tmp_path, server)
    result = send(tmp_path, server, "--document", "F1", env={"SMTP_LOGIN": "x"})
    assert result.exit_code == 1
    assert result.stderr == (
        "error: SMTP password of the firm's smtp block: environment variable SMTP_PASSWORD is not set\n"
    )
    assert server.connections == 0


def test_usage_errors(server: TestServer, tmp_path: Path) -> None:
    """GIVEN no selection, or an unknown audience WHEN sending THEN usage error, exit 2."""
    write_table(tmp_path, server)
    result = send(tmp_path, server, "--kind", "general")
    assert result.exit_code == 2
    assert "Error: choose exactly one of --relation, --document, --audience or --all" in result.stderr
    result = send(tmp_path, server, "--kind", "mailing", "--audience", "promo")
    assert result.exit_code == 2
    assert "unknown audience 'promo' (known: none)" in result.stderr
    journal_dir = tmp_path / "journal-is-a-dir"
    journal_dir.mkdir()
    result = send(tmp_path, server, "--document", "F1", "--journal", str(journal_dir))
    assert result.exit_code == 2
    assert f"Error: Invalid value for '--journal': File '{journal_dir}' is a directory." in result.stderr
    assert server.connections == 0


def test_unknown_kind_is_one_error_before_any_connection(server: TestServer, tmp_path: Path) -> None:
    """GIVEN a mistyped --kind WHEN sending to every relation THEN one error, exit 1, no connection."""
    write_table(tmp_path, server)
    result = send(tmp_path, server, "--kind", "invoce", "--all")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == "error: unknown kind 'invoce'; did you mean 'invoice'?\n"
    assert server.connections == 0


def test_killed_send_resumed_with_the_same_journal(server: TestServer, tmp_path: Path) -> None:
    """GIVEN `mailpolicy send --all` killed with SIGKILL mid-batch WHEN the same command runs again
    THEN every recipient has exactly one copy, except at most the message in flight (unknown)."""
    relations = "\n".join(
        f"  - {{id: R{i:03}, name: Client {i}, emails: [c{i}@client.be]}}" for i in range(15)
    )
    write_table(tmp_path, server)
    (tmp_path / "data.yaml").write_text(f"relations:\n{relations}\n", encoding="utf-8")
    journal = tmp_path / "outbox.sqlite"
    argv = [
        sys.executable,
        "-m",
        "mailpolicy.cli",
        "send",
        str(tmp_path / "table.json"),
        "--data",
        str(tmp_path / "data.yaml"),
        "--kind",
        "general",
        "--all",
        "--journal",
        str(journal),
    ]
    env = dict(os.environ, **smtp_env(server), PYTHONPATH=str(ROOT))
    server.data_delay = 0.2
    first = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert server.wait_for_messages(4, timeout=60)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    server.data_delay = 0
    resumed = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    summary = resumed.stdout.splitlines()[0]
    copies = server.copies_by_recipient()
    recipients = [f"c{i}@client.be" for i in range(15)]
    assert all(copies.get(r, 0) <= 1 for r in recipients), copies
    missing = [r for r in recipients if r not in copies]
    assert len(missing) <= 1
    if missing:
        # The message in flight when killed: reported unknown, and the run says so (exit 1).
        assert resumed.returncode == 1
        assert "unknown: 1" in summary
        assert "were interrupted while sending" in resumed.stderr
    again = subprocess.run([*argv, "--retry-unknown"], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    copies = server.copies_by_recipient()
    assert all(copies.get(r, 0) >= 1 for r in recipients)
    assert sum(copies[r] for r in recipients) <= len(recipients) + 1


def test_progress_bar_on_a_terminal(server: TestServer, tmp_path: Path) -> None:
    """GIVEN stderr is a terminal WHEN sending THEN a progress bar is drawn there; stdout has the report."""
    import pty

    write_table(tmp_path, server)
    argv = [sys.executable, "-m", "mailpolicy.cli", "send", str(tmp_path / "table.json")]
    argv += ["--data", str(tmp_path / "data.yaml"), "--document", "F1", "--document", "F2"]
    env = dict(os.environ, **smtp_env(server), PYTHONPATH=str(ROOT), COLUMNS="80")
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    terminal = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        terminal += chunk
    os.close(master)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert out == "sent: 2, partially refused: 0, failed: 0, unknown: 0, skipped: 0\n"
    assert b"sending" in terminal and b"100%" in terminal


def test_a_user_with_own_server_sends_through_it(server: TestServer, tmp_path: Path) -> None:
    """GIVEN `smtp sender jan` with its own server WHEN jan sends THEN his server and his login are
    used; a message without --sender goes through the firm's server."""
    (tmp_path / "jan").mkdir()
    jan = TestServer(tmp_path / "jan", login="jan@gmail.example", password="jans-own-secret").start()
    try:
        jan_block = {
            "host": "127.0.0.1",
            "port": jan.port,
            "security": "starttls",
            "login": {"value": "jan@gmail.example"},
            "password": {"env": "JAN_SMTP_PASSWORD"},
            "loc": {"line": 37, "column": 1},
        }
        write_table(tmp_path, server, senders={"jan": jan_block})
        # One file trusting both self-signed certificates.
        bundle = tmp_path / "ca-bundle.pem"
        bundle.write_bytes(server.cert_path.read_bytes() + jan.cert_path.read_bytes())
        env = dict(smtp_env(server), JAN_SMTP_PASSWORD="jans-own-secret", SSL_CERT_FILE=str(bundle))
        by_jan = send(tmp_path, server, "--document", "F1", "--sender", "jan", env=env)
        assert by_jan.exit_code == 0, by_jan.output
        automated = send(tmp_path, server, "--document", "F2", env=env)
        assert automated.exit_code == 0, automated.output
        assert [(m.login, m.rcpt_tos[0]) for m in jan.messages] == [
            ("jan@gmail.example", "compta@garage-martin.be")
        ]
        assert [(m.login, m.rcpt_tos[0]) for m in server.messages] == [("firm-login", "info@bakkerij.be")]
        missing = send(tmp_path, server, "--document", "F1", "--sender", "jan", env=smtp_env(server))
        assert missing.exit_code == 1
        assert missing.stderr == (
            "error: SMTP password of smtp sender jan: environment variable JAN_SMTP_PASSWORD is not set\n"
        )
    finally:
        jan.stop()


POLICY = """\
firm {
  name             = "Cabinet Dupont & Associés"
  company          = "info@dupont-associes.be"
  platform         = "inbox@mailer.example"
  verified_domains = ["dupont-associes.be"]
}
smtp {
  host     = "127.0.0.1"
  port     = PORT
  security = starttls
  login    = env "SMTP_LOGIN"
  password = env "SMTP_PASSWORD"
}
invoice.cc      = responsible
invoice.bcc     = free "office@firm.be"
invoice.subject = "Facture {{ document.number }}"
"""


def test_send_from_a_policy_file(server: TestServer, tmp_path: Path) -> None:
    """GIVEN a .mail policy whose smtp block names the server WHEN sending a document THEN it is
    compiled, resolved, rendered and delivered to To+CC+BCC."""
    policy = tmp_path / "firm.mail"
    policy.write_text(POLICY.replace("PORT", str(server.port)), encoding="utf-8")
    (tmp_path / "data.yaml").write_text(DATA, encoding="utf-8")
    argv = ["send", str(policy), "--data", str(tmp_path / "data.yaml"), "--document", "F1"]
    result = CliRunner().invoke(cli, argv, env=smtp_env(server), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout == "sent: 1, partially refused: 0, failed: 0, unknown: 0, skipped: 0\n"
    (received,) = server.messages
    assert received.rcpt_tos == ["compta@garage-martin.be", "jan@dupont-associes.be", "office@firm.be"]
    assert b"Subject: Facture 2026-0001" in received.data and b"office@firm.be" not in received.data


def test_report_in_a_missing_folder_is_a_usage_error_before_sending(
    server: TestServer, tmp_path: Path
) -> None:
    """GIVEN --report in a folder that does not exist WHEN sending THEN exit 2 and nothing is sent."""
    write_table(tmp_path, server)
    result = send(tmp_path, server, "--document", "F1", "--report", str(tmp_path / "nope" / "report.json"))
    assert result.exit_code == 2
    assert "no such folder for" in result.stderr
    assert server.connections == 0

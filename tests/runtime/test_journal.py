"""The send journal: stable ids, resuming a batch, crashes in flight, locking, bad files."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailpolicy.runtime.journal import Journal, JournalError, stable_id
from mailpolicy.runtime.send import RetryPolicy, Sender, Status
from mailpolicy.runtime.smtp_settings import Secret, SmtpSettings
from tests.smtp_server import TestServer, compose, make_envelope, make_message


@pytest.fixture
def server(tmp_path: Path) -> Iterator[TestServer]:
    """A STARTTLS server requiring AUTH."""
    srv = TestServer(tmp_path).start()
    yield srv
    srv.stop()


def make_sender(srv: TestServer) -> Sender:
    settings = SmtpSettings("127.0.0.1", srv.port, "starttls", srv.login, Secret(srv.password))
    return Sender(
        settings,
        ssl_context=srv.client_context(),
        retry=RetryPolicy(attempts=2, base_delay=0),
        sleep=lambda s: None,
    )


def batch() -> list:  # type: ignore[type-arg]
    return [
        make_envelope(f"R00{i}", [f"r{i}@x.be"], bcc=["office@firm.be"], document=f"F{i}") for i in range(4)
    ]


def test_stable_id_ignores_message_id_and_date_but_not_who_gets_what() -> None:
    """GIVEN the same envelope composed twice WHEN deriving ids THEN they match; another recipient differs."""
    env = make_envelope("R001", ["a@x.be"], document="F1")
    one, two = compose(env), compose(env)
    assert one.message_id != two.message_id
    assert stable_id(one.envelope) == stable_id(two.envelope)
    assert stable_id(make_envelope("R001", ["A@x.be"], document="F1")) == stable_id(env)
    assert stable_id(make_envelope("R001", ["b@x.be"], document="F1")) != stable_id(env)
    assert stable_id(make_envelope("R001", ["a@x.be"], document="F2")) != stable_id(env)
    assert stable_id(make_envelope("R001", ["a@x.be"], document="F1", subject="Autre")) != stable_id(env)


def test_running_again_sends_only_what_was_not_sent(server: TestServer, tmp_path: Path) -> None:
    """GIVEN a batch where one message failed WHEN the same batch runs again with the journal
    THEN only the failed one is sent, the others are skipped as already sent."""
    path = tmp_path / "outbox.sqlite"
    server.fail_next_data("550 5.7.1 Rejected", times=1)
    with Journal(path) as journal, make_sender(server) as sender:
        first = sender.send_batch(batch(), journal=journal, compose=compose)
    assert [o.status for o in first.outcomes] == [Status.FAILED, Status.SENT, Status.SENT, Status.SENT]
    with Journal(path) as journal, make_sender(server) as sender:
        second = sender.send_batch(batch(), journal=journal, compose=compose)
    assert [o.status for o in second.outcomes] == [
        Status.SENT,
        Status.SKIPPED,
        Status.SKIPPED,
        Status.SKIPPED,
    ]
    assert second.outcomes[1].reason is not None and second.outcomes[1].reason.startswith(
        "already sent (sent, "
    )
    assert server.copies_by_recipient() == {f"r{i}@x.be": 1 for i in range(4)} | {"office@firm.be": 4}
    with Journal(path, read_only=True) as journal:
        assert [e.state for e in journal.entries()] == ["sent"] * 4
        assert journal.entries()[0].attempts == 2


def test_a_message_left_sending_is_unknown_and_not_resent(server: TestServer, tmp_path: Path) -> None:
    """GIVEN a journal row left in 'sending' (the process died in flight) WHEN running again
    THEN it is reported unknown and not sent; with retry_unknown it is sent."""
    path = tmp_path / "outbox.sqlite"
    envs = batch()
    with Journal(path) as journal:
        message = compose(envs[0])
        journal.begin(
            stable_id(envs[0]),
            kind="invoice",
            relation="R000",
            document="F0",
            message_id=message.message_id,
            mail_from=message.mail_from,
            recipients=message.recipients,
        )
    with Journal(path) as journal, make_sender(server) as sender:
        assert [e.relation for e in journal.interrupted] == ["R000"]
        report = sender.send_batch(envs, journal=journal, compose=compose)
    assert [o.status for o in report.outcomes] == [Status.UNKNOWN, Status.SENT, Status.SENT, Status.SENT]
    assert report.outcomes[0].reason is not None
    assert report.outcomes[0].reason.startswith(
        "interrupted while sending: the server may or may not have it (journal, "
    )
    assert report.outcomes[0].reason.endswith("not resent: use --retry-unknown to send it again")
    assert "r0@x.be" not in server.copies_by_recipient()
    with Journal(path) as journal, make_sender(server) as sender:
        again = sender.send_batch(envs, journal=journal, compose=compose, retry_unknown=True)
    assert [o.status for o in again.outcomes] == [Status.SENT] + [Status.SKIPPED] * 3
    assert server.copies_by_recipient()["r0@x.be"] == 1


def test_messages_already_sent_are_not_composed_again(server: TestServer, tmp_path: Path) -> None:
    """GIVEN a finished batch WHEN it runs again THEN no message is composed (resuming is cheap)."""
    path = tmp_path / "outbox.sqlite"
    composed: list[str] = []

    def counting_compose(env):  # type: ignore[no-untyped-def]
        composed.append(env.relation)
        return compose(env)

    with Journal(path) as journal, make_sender(server) as sender:
        sender.send_batch(batch(), journal=journal, compose=counting_compose)
    with Journal(path) as journal, make_sender(server) as sender:
        report = sender.send_batch(batch(), journal=journal, compose=counting_compose)
    assert composed == ["R000", "R001", "R002", "R003"]
    assert report.ok and {o.status for o in report.outcomes} == {Status.SKIPPED}


def test_partial_delivery_is_not_resent(server: TestServer, tmp_path: Path) -> None:
    """GIVEN a message refused for one of two recipients WHEN running again THEN it is not resent."""
    path = tmp_path / "outbox.sqlite"
    server.refuse_recipient("gone@x.be", "550 5.1.1 No such user")
    messages = [make_message("R001", ["a@x.be", "gone@x.be"])]
    with Journal(path) as journal, make_sender(server) as sender:
        assert sender.send_batch(messages, journal=journal).outcomes[0].status is Status.PARTIAL
    with Journal(path) as journal, make_sender(server) as sender:
        outcome = sender.send_batch(messages, journal=journal).outcomes[0]
    assert outcome.status is Status.SKIPPED
    assert outcome.reason is not None and outcome.reason.startswith("already sent (partial, ")
    with Journal(path, read_only=True) as journal:
        (entry,) = journal.entries()
    assert entry.detail["refused"] == {"gone@x.be": "550 5.1.1 No such user"}


def test_one_journal_one_send_at_a_time(tmp_path: Path) -> None:
    """GIVEN a journal open for sending WHEN a second send opens it THEN it is refused clearly."""
    path = tmp_path / "outbox.sqlite"
    with Journal(path), pytest.raises(JournalError) as err:
        Journal(path)
    assert str(err.value) == f"{path}: the journal is in use by another send"
    Journal(path).close()  # released once closed


def test_read_only_journal_creates_nothing(tmp_path: Path) -> None:
    """GIVEN no journal file WHEN opened read-only (a dry run) THEN it is empty and no file appears."""
    path = tmp_path / "outbox.sqlite"
    with Journal(path, read_only=True) as journal:
        assert journal.entries() == [] and journal.get("x") is None
    assert not path.exists()


def test_not_a_journal(tmp_path: Path) -> None:
    """GIVEN a file that is not a journal WHEN opened THEN the error names it."""
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not SQLite\n" * 100)
    with pytest.raises(JournalError) as err:
        Journal(text)
    assert str(err.value) == f"{text}: not a mailpolicy journal (file is not a database)"
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE meta (key TEXT, value TEXT)").connection.commit()
    with pytest.raises(JournalError) as err:
        Journal(other)
    assert str(err.value) == f"{other}: not a mailpolicy journal"


def test_journal_is_durable_wal(tmp_path: Path) -> None:
    """GIVEN a new journal THEN it uses WAL, so a committed row survives a kill."""
    path = tmp_path / "outbox.sqlite"
    Journal(path).close()
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"

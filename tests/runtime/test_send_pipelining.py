"""RFC 2920 PIPELINING against a real aiosmtpd: used when offered, never otherwise, same outcomes."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mailpolicy.runtime.send import RetryPolicy, Sender, Status
from mailpolicy.runtime.smtp_settings import Secret, SmtpSettings
from tests.smtp_server import TestMessage, TestServer, compose, make_envelope, make_message

PASSWORD = "s3cret-Pa55word!"


class Sleeps(list[float]):
    """Records backoff delays instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def start(directory: Path, **options: object) -> TestServer:
    directory.mkdir(exist_ok=True)
    return TestServer(directory, password=PASSWORD, **options).start()  # type: ignore[arg-type]


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Callable[..., TestServer]]:
    """Starts servers (stopped at the end of the test), each in a directory of its own."""
    started: list[TestServer] = []

    def make(**options: object) -> TestServer:
        srv = start(tmp_path / str(len(started)), **options)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


def sender_for(srv: TestServer, *, login: bool = True, sleeps: Sleeps | None = None) -> Sender:
    settings = SmtpSettings(
        "127.0.0.1",
        srv.port,
        "starttls",
        srv.login if login else None,
        Secret(PASSWORD) if login else None,
    )
    return Sender(
        settings,
        ssl_context=srv.client_context(),
        retry=RetryPolicy(attempts=3, base_delay=0.5),
        sleep=sleeps if sleeps is not None else Sleeps(),
        timeout=10,
    )


def variety() -> list[TestMessage]:
    """Messages that exercise every option of the envelope: several recipients, CC and BCC, a line
    starting with a dot, raw 8-bit UTF-8 data (BODY=8BITMIME), an internationalised address (SMTPUTF8)."""
    plain = make_message("R001", ["a@x.be", "b@x.be"], ["c@x.be"], ["office@firm.be"])
    dotted = compose(make_envelope("R002", ["d@x.be"]), body="Line\n.\n..two\n.end\n")
    raw = make_message("R003", ["e@x.be"])
    eight_bit = dataclasses.replace(
        raw,
        data=raw.data.replace(b"Voici votre facture.", "Voici votre facture, Mme Dubois-Hélène.".encode()),
    )
    intl = make_message("R004", ["jürgen@exämple.be", "f@x.be"])
    return [plain, dotted, eight_bit, intl]


def test_messages_arrive_identical_with_and_without_pipelining(servers: Callable[..., TestServer]) -> None:
    """GIVEN the same messages WHEN sent to aiosmtpd as shipped and to aiosmtpd offering PIPELINING
    THEN the two servers receive the same senders, recipients and bytes, all of them."""
    stock, piped = servers(), servers(pipelining=True)
    messages = variety()
    received = []
    for srv in (stock, piped):
        with sender_for(srv) as sender:
            report = sender.send_batch(messages)
        assert [o.status for o in report.outcomes] == [Status.SENT] * len(messages)
        received.append([(m.mail_from, m.rcpt_tos, m.data, m.connection) for m in srv.messages])
    assert received[0] == received[1]
    assert [rcpts for _, rcpts, _, _ in received[1]] == [
        ["a@x.be", "b@x.be", "c@x.be", "office@firm.be"],
        ["d@x.be"],
        ["e@x.be"],
        ["jürgen@exämple.be", "f@x.be"],
    ]
    assert "Mme Dubois-Hélène".encode() in received[1][2][2]


def test_pipelined_commands_arrive_together_before_any_reply(servers: Callable[..., TestServer]) -> None:
    """GIVEN a server offering PIPELINING WHEN a message for three recipients is sent THEN, when the
    server answers MAIL FROM, every RCPT TO and the DATA command have already arrived, and the data
    itself waits for the 354."""
    srv = servers(pipelining=True, record_reads=True)
    with sender_for(srv) as sender:
        outcome = sender.send_message(make_message("R001", ["a@x.be", "b@x.be"], ["c@x.be"]))
    assert outcome.status is Status.SENT
    after_login = srv.replies[[r for r, _ in srv.replies].index("235 2.7.0 Authentication successful") + 1 :]
    assert after_login == [
        ("250 OK", b"rcpt TO:<a@x.be>\r\nrcpt TO:<b@x.be>\r\nrcpt TO:<c@x.be>\r\nDATA\r\n"),
        ("250 OK", b"rcpt TO:<b@x.be>\r\nrcpt TO:<c@x.be>\r\nDATA\r\n"),
        ("250 OK", b"rcpt TO:<c@x.be>\r\nDATA\r\n"),
        ("250 OK", b"DATA\r\n"),
        ("354 End data with <CR><LF>.<CR><LF>", b""),
        ("250 OK", b""),
        ("221 Bye", b""),
    ]


def test_without_pipelining_no_command_goes_before_the_reply_to_the_last(
    servers: Callable[..., TestServer],
) -> None:
    """GIVEN aiosmtpd as shipped (no PIPELINING) WHEN a batch meets refusals, a 451 to MAIL (RSET) and
    a refusal after the data THEN every reply is written with nothing of the client's unread: the
    client never sent a command before the reply to the one before."""
    srv = servers(record_reads=True)
    srv.refuse_recipient("gone@x.be", "550 5.1.1 No such user")
    srv.fail_next_mail("451 4.7.1 Greylisted")
    srv.fail_next_data("550 5.7.1 Rejected", times=1)
    with sender_for(srv) as sender:
        report = sender.send_batch(
            [
                make_message("R001", ["a@x.be", "gone@x.be", "b@x.be"]),
                make_message("R002", ["gone@x.be"]),
                make_message("R003", ["c@x.be", "d@x.be"]),
            ]
        )
    assert [o.status for o in report.outcomes] == [Status.FAILED, Status.FAILED, Status.SENT]
    assert all(not line.endswith("PIPELINING") for line, _ in srv.replies)
    assert srv.rsets >= 1
    assert len(srv.replies) > 30
    assert [(reply, unread) for reply, unread in srv.replies if unread] == []


@pytest.mark.parametrize("pipelining", [False, True], ids=["stock", "pipelining"])
def test_every_recipient_refused_yet_data_accepted_sends_only_a_dot(
    servers: Callable[..., TestServer], pipelining: bool
) -> None:
    """GIVEN a server that answers DATA with 354 although it refused every recipient WHEN sending
    THEN the message fails with the refusals, its data never goes out (pipelined: a lone dot ends
    the DATA, RFC 2920 section 3.1; unpipelined: DATA is never sent), and the session goes on."""
    srv = servers(pipelining=pipelining, lenient_data=True)
    srv.refuse_recipient("gone@x.be", "550 5.1.1 No such user")
    srv.refuse_recipient("left@x.be", "551 5.1.6 User has moved")
    with sender_for(srv) as sender:
        report = sender.send_batch(
            [make_message("R001", ["gone@x.be", "left@x.be"]), make_message("R002", ["a@x.be"])]
        )
    failed, sent = report.outcomes
    assert failed.status is Status.FAILED and failed.attempts == 1
    assert failed.describe() == (
        "invoice R001: every recipient refused; refused gone@x.be: 550 5.1.1 No such user; "
        "left@x.be: 551 5.1.6 User has moved"
    )
    assert sent.status is Status.SENT
    assert srv.refused_data == ([b""] if pipelining else [])
    assert [(m.rcpt_tos, m.connection) for m in srv.messages] == [(["a@x.be"], 1)]


@pytest.mark.parametrize("pipelining", [False, True], ids=["stock", "pipelining"])
def test_mail_refused_yet_data_accepted_sends_only_a_dot(
    servers: Callable[..., TestServer], pipelining: bool
) -> None:
    """GIVEN a server that refuses MAIL FROM but then accepts the RCPTs and DATA WHEN sending THEN the
    message fails with the MAIL refusal and its data never goes out; the session goes on."""
    srv = servers(pipelining=pipelining, lenient_data=True)
    srv.fail_next_mail("550 5.7.1 Sender blocked")
    with sender_for(srv) as sender:
        report = sender.send_batch(
            [make_message("R001", ["a@x.be", "b@x.be"]), make_message("R002", ["c@x.be"])]
        )
    failed, sent = report.outcomes
    assert failed.reason == "MAIL FROM:<inbox@mailer.example> refused: 550 5.7.1 Sender blocked"
    assert sent.status is Status.SENT
    assert srv.refused_data == ([b""] if pipelining else [])
    assert [(m.rcpt_tos, m.connection) for m in srv.messages] == [(["c@x.be"], 1)]


def _refused_recipient(srv: TestServer) -> list[TestMessage]:
    srv.refuse_recipient("gone@x.be", "550 5.1.1 <gone@x.be>: Recipient address rejected")
    return [make_message("R001", ["a@x.be", "gone@x.be"], ["c@x.be"]), make_message("R002", ["d@x.be"])]


def _busy_recipient(srv: TestServer) -> list[TestMessage]:
    srv.refuse_recipient("busy@x.be", "450 4.2.1 Mailbox busy", times=1)
    return [make_message("R001", ["a@x.be", "busy@x.be"]), make_message("R002", ["d@x.be"])]


def _all_refused(srv: TestServer) -> list[TestMessage]:
    srv.refuse_recipient("gone@x.be", "550 5.1.1 No such user")
    srv.refuse_recipient("left@x.be", "450 4.2.1 Mailbox busy")
    return [make_message("R001", ["gone@x.be", "left@x.be"]), make_message("R002", ["d@x.be"])]


def _mail_451(srv: TestServer) -> list[TestMessage]:
    srv.fail_next_mail("451 4.7.1 Greylisted", times=2)
    return [make_message("R001", ["a@x.be", "b@x.be"]), make_message("R002", ["d@x.be"])]


def _mail_550(srv: TestServer) -> list[TestMessage]:
    srv.fail_next_mail("550 5.7.1 Sender blocked")
    return [make_message("R001", ["a@x.be", "b@x.be"]), make_message("R002", ["d@x.be"])]


def _mail_421(srv: TestServer) -> list[TestMessage]:
    srv.fail_next_mail("421 4.7.0 Too many messages")
    return [make_message("R001", ["a@x.be", "b@x.be"]), make_message("R002", ["d@x.be"])]


def _rcpt_421(srv: TestServer) -> list[TestMessage]:
    srv.refuse_recipient("b@x.be", "421 4.3.2 Shutting down", times=1)
    return [make_message("R001", ["a@x.be", "b@x.be", "c@x.be"]), make_message("R002", ["d@x.be"])]


def _data_451(srv: TestServer) -> list[TestMessage]:
    srv.fail_next_data("451 4.3.0 Try again later", times=3)
    return [make_message("R001", ["a@x.be"]), make_message("R002", ["d@x.be"])]


def _data_550(srv: TestServer) -> list[TestMessage]:
    srv.fail_next_data("550 5.7.1 Rejected")
    return [make_message("R001", ["a@x.be", "b@x.be"]), make_message("R002", ["d@x.be"])]


def _lost_reply(srv: TestServer) -> list[TestMessage]:
    srv.lose_next_data_reply()
    return [make_message("R001", ["a@x.be"]), make_message("R002", ["d@x.be"])]


def _dropped_at_mail(srv: TestServer) -> list[TestMessage]:
    srv.drop_at_next_mail(times=3)
    return [make_message("R001", ["a@x.be", "b@x.be"]), make_message("R002", ["d@x.be"])]


def _hangs_up_every_two(srv: TestServer) -> list[TestMessage]:
    srv.close_every = 2
    return [make_message(f"R{i}", [f"r{i}@x.be", f"s{i}@x.be"]) for i in range(5)]


FAULTS = [
    _refused_recipient,
    _busy_recipient,
    _all_refused,
    _mail_451,
    _mail_550,
    _mail_421,
    _rcpt_421,
    _data_451,
    _data_550,
    _lost_reply,
    _dropped_at_mail,
    _hangs_up_every_two,
]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.__name__.strip("_"))
def test_every_fault_ends_the_same_with_pipelining(
    servers: Callable[..., TestServer], fault: Callable[[TestServer], list[TestMessage]]
) -> None:
    """GIVEN a fault WHEN the same batch meets it on aiosmtpd as shipped and on aiosmtpd offering
    PIPELINING THEN the outcomes (JSON report), the backoff, the stored messages and the connections
    they came over are the same."""
    seen = []
    messages: list[TestMessage] = []
    for pipelining in (False, True):
        srv = servers(pipelining=pipelining)
        # The fault goes to each server; the messages (Message-ID, Date) are the first run's.
        messages = messages or fault(srv)
        if pipelining:
            fault(srv)
        sleeps = Sleeps()
        with sender_for(srv, sleeps=sleeps) as sender:
            report = sender.send_batch(messages)
        # The port differs from server to server.
        text = json.dumps(report.as_dict()).replace(f"127.0.0.1:{srv.port}", "SERVER")
        stored = [(m.mail_from, m.rcpt_tos, m.data, m.connection) for m in srv.messages]
        seen.append((json.loads(text), sleeps, stored, srv.connections, srv.rsets))
    assert seen[0] == seen[1]
    assert seen[0][0]["summary"]["total"] == len(messages)


def test_login_required_ends_the_same_with_pipelining(servers: Callable[..., TestServer]) -> None:
    """GIVEN settings without login and a server requiring AUTH (530 to MAIL, RCPT and DATA) WHEN
    sending two THEN with or without PIPELINING the first fails with the same reason, the second is
    not attempted, and the session closes with QUIT answered in step."""
    seen = []
    messages = [make_message("R001", ["a@x.be"]), make_message("R002", ["b@x.be"])]
    for pipelining in (False, True):
        srv = servers(pipelining=pipelining, record_reads=True)
        with sender_for(srv, login=False) as sender:
            report = sender.send_batch(messages)
        text = json.dumps(report.as_dict()).replace(f"127.0.0.1:{srv.port}", "SERVER")
        seen.append(json.loads(text))
        assert srv.replies[-1] == ("221 Bye", b"")
    assert seen[0] == seen[1]
    assert seen[1]["messages"][0]["reason"] == (
        "SERVER (the firm's smtp block) requires a login (530 5.7.0 Authentication required); "
        "the smtp block has none"
    )

"""Sending through a real SMTP server on loopback (aiosmtpd: STARTTLS, self-signed cert, AUTH).

Every test on the `server` fixture runs twice: against aiosmtpd as shipped (no PIPELINING, each
command waits for its reply) and against the same server advertising PIPELINING (MAIL, RCPT... and
DATA in one write): the outcomes pinned here hold for both.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailpolicy.runtime.errors import MessageError, MessageSkipped
from mailpolicy.runtime.send import Outcome, Refusal, RetryPolicy, Sender, Status
from mailpolicy.runtime.smtp_settings import Secret, SmtpSettings
from tests.smtp_server import TestServer, make_message

PASSWORD = "s3cret-Pa55word!"


@pytest.fixture(params=[False, True], ids=["stock", "pipelining"])
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[TestServer]:
    """A STARTTLS server requiring AUTH, without and with PIPELINING."""
    srv = TestServer(tmp_path, security="starttls", password=PASSWORD, pipelining=request.param).start()
    yield srv
    srv.stop()


def settings_of(
    srv: TestServer, *, password: str = PASSWORD, origin: str = "the firm's smtp block"
) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1",
        port=srv.port,
        security=srv.security,
        login=srv.login,
        password=Secret(password),
        origin=origin,
        login_variable="SMTP_LOGIN",
        password_variable="SMTP_PASSWORD",
    )


class Sleeps(list[float]):
    """Records backoff delays instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def sender_for(srv: TestServer, sleeps: Sleeps | None = None, attempts: int = 3, **kw: object) -> Sender:
    return Sender(
        settings_of(srv, **kw),  # type: ignore[arg-type]
        ssl_context=srv.client_context(),
        retry=RetryPolicy(attempts=attempts, base_delay=0.5, factor=2.0),
        sleep=sleeps if sleeps is not None else Sleeps(),
        timeout=10,
    )


def test_batch_goes_out_on_one_connection_with_exact_envelope_recipients(server: TestServer) -> None:
    """GIVEN three invoices with To, CC and BCC WHEN sent as a batch THEN the envelope is To+CC+BCC."""
    messages = [
        make_message("R001", ["compta@garage-martin.be"], ["jan@dupont-associes.be"], ["office@firm.be"]),
        make_message("R002", ["a@leasing.be", "b@leasing.be"], [], ["office@firm.be", "direction@firm.be"]),
        make_message("R003", ["c@x.be"]),
    ]
    with sender_for(server) as sender:
        report = sender.send_batch(messages)
    assert [o.status for o in report.outcomes] == [Status.SENT] * 3
    assert report.ok
    assert [(m.mail_from, m.rcpt_tos) for m in server.messages] == [
        ("inbox@mailer.example", ["compta@garage-martin.be", "jan@dupont-associes.be", "office@firm.be"]),
        ("inbox@mailer.example", ["a@leasing.be", "b@leasing.be", "office@firm.be", "direction@firm.be"]),
        ("inbox@mailer.example", ["c@x.be"]),
    ]
    first = email.message_from_bytes(server.messages[0].data, policy=email.policy.default)
    assert first["Cc"] == "jan@dupont-associes.be"
    assert first["Bcc"] is None and b"office@firm.be" not in server.messages[0].data
    assert server.connections == 1
    assert {m.login for m in server.messages} == {"firm-login"}
    assert report.as_text() == "sent: 3, partially refused: 0, failed: 0, unknown: 0, skipped: 0"


def test_implicit_tls(tmp_path: Path) -> None:
    """GIVEN a server speaking TLS from the first byte WHEN sent with security tls THEN it arrives."""
    srv = TestServer(tmp_path, security="tls", password=PASSWORD).start()
    try:
        with sender_for(srv) as sender:
            outcome = sender.send_message(make_message("R001", ["a@x.be"]))
        assert outcome.status is Status.SENT
        assert [m.rcpt_tos for m in srv.messages] == [["a@x.be"]]
    finally:
        srv.stop()


def test_451_is_retried_with_backoff_then_sent(server: TestServer) -> None:
    """GIVEN a server answering 451 twice after the data WHEN sending THEN it is retried and sent once."""
    server.fail_next_data("451 4.3.0 Try again later", times=2)
    sleeps = Sleeps()
    with sender_for(server, sleeps) as sender:
        outcome = sender.send_message(make_message("R001", ["a@x.be"]))
    assert outcome.status is Status.SENT
    assert outcome.attempts == 3
    assert sleeps == [0.5, 1.0]
    assert len(server.messages) == 1


def test_451_at_mail_from_is_retried(server: TestServer) -> None:
    """GIVEN a 451 answer to MAIL FROM WHEN sending THEN the next attempt (after RSET) succeeds."""
    server.fail_next_mail("451 4.7.1 Greylisted, come back later")
    with sender_for(server) as sender:
        outcome = sender.send_message(make_message("R001", ["a@x.be"]))
    assert (outcome.status, outcome.attempts, len(server.messages)) == (Status.SENT, 2, 1)
    assert server.rsets == 1


def test_transient_failures_are_bounded(server: TestServer) -> None:
    """GIVEN a server that keeps answering 451 WHEN sending THEN it gives up after the bounded attempts."""
    server.fail_next_data("451 4.3.0 Try again later", times=10)
    sleeps = Sleeps()
    with sender_for(server, sleeps, attempts=3) as sender:
        outcome = sender.send_message(make_message("R001", ["a@x.be"]))
    assert outcome.status is Status.FAILED
    assert outcome.reason == (
        "message refused after its data: 451 4.3.0 Try again later (gave up after 3 attempts)"
    )
    assert sleeps == [0.5, 1.0]
    assert server.messages == []


def test_550_is_not_retried_and_the_batch_goes_on(server: TestServer) -> None:
    """GIVEN a 550 answer to the first message WHEN sending a batch THEN it fails alone, unretried."""
    server.fail_next_data("550 5.7.1 Message rejected for policy reasons")
    sleeps = Sleeps()
    with sender_for(server, sleeps) as sender:
        report = sender.send_batch([make_message("R001", ["a@x.be"]), make_message("R002", ["b@x.be"])])
    failed, sent = report.outcomes
    assert failed.status is Status.FAILED and failed.attempts == 1
    assert failed.reason == "message refused after its data: 550 5.7.1 Message rejected for policy reasons"
    assert sent.status is Status.SENT
    assert sleeps == []
    assert [m.rcpt_tos for m in server.messages] == [["b@x.be"]]
    assert not report.ok
    assert report.as_text() == (
        "sent: 1, partially refused: 0, failed: 1, unknown: 0, skipped: 0\n"
        "failed: invoice R001: message refused after its data: "
        "550 5.7.1 Message rejected for policy reasons"
    )


def test_one_recipient_refused_among_several_is_reported_per_recipient(server: TestServer) -> None:
    """GIVEN a 550 for one of three recipients WHEN sending THEN the others get it and the refusal is told."""
    server.refuse_recipient("gone@x.be", "550 5.1.1 <gone@x.be>: Recipient address rejected")
    with sender_for(server) as sender:
        outcome = sender.send_message(make_message("R001", ["a@x.be", "gone@x.be"], ["c@x.be"]))
    assert outcome.status is Status.PARTIAL
    assert outcome.delivered == ("a@x.be", "c@x.be")
    assert outcome.refused == {"gone@x.be": Refusal(550, "5.1.1 <gone@x.be>: Recipient address rejected")}
    assert [m.rcpt_tos for m in server.messages] == [["a@x.be", "c@x.be"]]
    assert outcome.describe() == (
        "invoice R001: delivered to a@x.be, c@x.be; refused gone@x.be: 550 5.1.1 <gone@x.be>: "
        "Recipient address rejected"
    )


def test_temporarily_refused_recipient_is_retried_alone(server: TestServer) -> None:
    """GIVEN a 450 for one recipient once WHEN sending THEN only that recipient is tried again."""
    server.refuse_recipient("busy@x.be", "450 4.2.1 Mailbox busy", times=1)
    with sender_for(server) as sender:
        outcome = sender.send_message(make_message("R001", ["a@x.be", "busy@x.be"]))
    assert outcome.status is Status.SENT
    assert [m.rcpt_tos for m in server.messages] == [["a@x.be"], ["busy@x.be"]]


def test_every_recipient_refused_is_a_failure(server: TestServer) -> None:
    """GIVEN 550 for the only recipient WHEN sending THEN the message failed, with the refusal."""
    server.refuse_recipient("gone@x.be", "550 5.1.1 No such user")
    with sender_for(server) as sender:
        outcome = sender.send_message(make_message("R001", ["gone@x.be"]))
    assert outcome.status is Status.FAILED
    assert (
        outcome.describe()
        == "invoice R001: every recipient refused; refused gone@x.be: 550 5.1.1 No such user"
    )
    assert server.messages == []


def test_connection_dropped_mid_batch_reconnects_and_goes_on(server: TestServer) -> None:
    """GIVEN a server that hangs up after every 2 messages and once drops at MAIL WHEN sending 6 messages
    THEN each arrives exactly once over new connections."""
    server.close_every = 2
    with sender_for(server) as sender:
        first = sender.send_batch([make_message(f"R{i}", [f"r{i}@x.be"]) for i in range(3)])
        server.drop_at_next_mail()
        second = sender.send_batch([make_message(f"R{i}", [f"r{i}@x.be"]) for i in range(3, 6)])
    assert [o.status for o in first.outcomes + second.outcomes] == [Status.SENT] * 6
    assert server.copies_by_recipient() == {f"r{i}@x.be": 1 for i in range(6)}
    assert server.connections >= 4


def test_lost_reply_after_data_is_unknown_and_not_retried(server: TestServer) -> None:
    """GIVEN a server that stores the message but hangs up before answering WHEN sending
    THEN the outcome is unknown, it is not sent again, and the next message goes out."""
    server.lose_next_data_reply()
    with sender_for(server) as sender:
        report = sender.send_batch([make_message("R001", ["a@x.be"]), make_message("R002", ["b@x.be"])])
    unknown, sent = report.outcomes
    assert unknown.status is Status.UNKNOWN and unknown.attempts == 1
    assert unknown.reason == (
        f"connection to 127.0.0.1:{server.port} (the firm's smtp block) lost after the message data was sent "
        "(Connection unexpectedly closed): the server may have accepted it; not resent automatically"
    )
    assert sent.status is Status.SENT
    assert server.copies_by_recipient() == {"a@x.be": 1, "b@x.be": 1}


def test_wrong_password_is_reported_clearly_without_the_password(server: TestServer) -> None:
    """GIVEN a wrong password WHEN sending a batch THEN login is refused once, every message fails with
    a clear reason, and the password appears nowhere."""
    wrong = "Wr0ng-P4ssw0rd-XYZ"
    with sender_for(server, password=wrong) as sender:
        report = sender.send_batch([make_message("R001", ["a@x.be"]), make_message("R002", ["b@x.be"])])
    first, second = report.outcomes
    where = f"127.0.0.1:{server.port} (the firm's smtp block)"
    assert first.reason == (
        f"login to {where} refused: 535 5.7.8 Authentication credentials invalid; "
        "check SMTP_LOGIN and SMTP_PASSWORD"
    )
    assert second.reason == f"not attempted: {first.reason}"
    assert server.messages == []
    assert {ok for _, ok in server.auth_attempts} == {False}
    assert server.connections == 1  # no hammering of the server with a bad password
    outputs = [
        report.as_text(),
        json.dumps(report.as_dict()),
        repr(report),
        repr(settings_of(server, password=wrong)),
    ]
    assert all(wrong not in text for text in outputs)


def test_untrusted_certificate_is_refused(server: TestServer) -> None:
    """GIVEN a self-signed certificate the client does not trust WHEN sending THEN nothing goes out."""
    sender = Sender(settings_of(server), retry=RetryPolicy(attempts=2, base_delay=0), sleep=Sleeps())
    with sender:
        outcome = sender.send_message(make_message("R001", ["a@x.be"]))
    assert outcome.status is Status.FAILED
    assert outcome.reason is not None
    assert outcome.reason.startswith(
        f"TLS certificate of 127.0.0.1:{server.port} (the firm's smtp block) not trusted"
    )
    assert server.messages == [] and server.auth_attempts == []


def test_unreachable_server_gives_up_once_for_the_batch(tmp_path: Path) -> None:
    """GIVEN no server listening WHEN sending two messages THEN the first fails after its retries and
    the second is not attempted."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = SmtpSettings(host="127.0.0.1", port=port, security="starttls")
    sleeps = Sleeps()
    with Sender(settings, retry=RetryPolicy(attempts=2, base_delay=0.1), sleep=sleeps) as sender:
        report = sender.send_batch([make_message("R001", ["a@x.be"]), make_message("R002", ["b@x.be"])])
    first, second = report.outcomes
    assert first.status is Status.FAILED and first.attempts == 2
    assert first.reason is not None and first.reason.startswith(
        f"cannot connect to 127.0.0.1:{port} (the firm's smtp block): "
    )
    assert first.reason.endswith("(gave up after 2 attempts)")
    assert second.reason == f"not attempted: {first.reason.removesuffix(' (gave up after 2 attempts)')}"
    assert sleeps == [0.1]


def test_each_sender_goes_through_their_own_server(tmp_path: Path) -> None:
    """GIVEN jan with his own SMTP server WHEN sending jan's and automated mail THEN each uses its server."""
    (tmp_path / "firm").mkdir()
    (tmp_path / "jan").mkdir()
    firm = TestServer(tmp_path / "firm", password=PASSWORD)
    jan = TestServer(tmp_path / "jan", login="jan@gmail.example", password="jans-own-secret")
    firm.start()
    jan.start()
    try:
        servers = {None: settings_of(firm), "jan": settings_of(jan, password="jans-own-secret")}
        ctx_firm = firm.client_context()
        ctx_firm.load_verify_locations(cafile=str(jan.cert_path))
        with Sender(lambda user: servers[user], ssl_context=ctx_firm, sleep=Sleeps()) as sender:
            report = sender.send_batch(
                [
                    make_message("R001", ["a@x.be"], sender="jan", from_address="jan@dupont-associes.be"),
                    make_message("R002", ["b@x.be"]),
                    make_message("R003", ["c@x.be"], sender="jan", from_address="jan@dupont-associes.be"),
                ]
            )
        assert report.ok
        assert [m.rcpt_tos for m in jan.messages] == [["a@x.be"], ["c@x.be"]]
        assert [m.rcpt_tos for m in firm.messages] == [["b@x.be"]]
        assert {m.login for m in jan.messages} == {"jan@gmail.example"}
        assert (firm.connections, jan.connections) == (1, 1)
    finally:
        firm.stop()
        jan.stop()


def test_messages_that_could_not_be_built_fail_alone_and_skips_are_not_failures(server: TestServer) -> None:
    """GIVEN a plan with an error and a consent skip between messages WHEN sending THEN both are reported."""
    items = [
        MessageError("no 'to' address (tried: contact)", kind="invoice", relation="R002"),
        make_message("R001", ["a@x.be"]),
        MessageSkipped("relation has not accepted promotional mail", kind="mailing", relation="R003"),
    ]
    with sender_for(server) as sender:
        report = sender.send_batch(items)
    assert [o.status for o in report.outcomes] == [Status.FAILED, Status.SENT, Status.SKIPPED]
    assert report.as_dict()["summary"] == {
        "sent": 1,
        "partial": 0,
        "failed": 1,
        "unknown": 0,
        "skipped": 1,
        "total": 3,
    }
    assert report.as_text().splitlines()[1:] == [
        "failed: invoice R002: no 'to' address (tried: contact)",
        "skipped: mailing R003: relation has not accepted promotional mail",
    ]


def test_progress_is_called_once_per_message(server: TestServer) -> None:
    """GIVEN a progress callback WHEN sending a batch THEN it sees each outcome as it happens."""
    seen: list[Outcome] = []
    with sender_for(server) as sender:
        report = sender.send_batch(
            [make_message(f"R{i}", [f"r{i}@x.be"]) for i in range(3)], progress=seen.append
        )
    assert seen == report.outcomes


def test_message_data_is_dot_stuffed(server: TestServer) -> None:
    """GIVEN a body line starting with a dot WHEN sent THEN the server receives the line intact."""
    from tests.smtp_server import compose, make_envelope

    message = compose(make_envelope("R001", ["a@x.be"]), body="Line one\n.\n.hidden\nend\n")
    with sender_for(server) as sender:
        assert sender.send_message(message).status is Status.SENT
    received = email.message_from_bytes(server.messages[0].data, policy=email.policy.default)
    content = received.get_content()  # type: ignore[attr-defined]
    assert content.replace("\r\n", "\n") == "Line one\n.\n.hidden\nend\n"


def test_server_without_starttls_is_refused_not_downgraded(tmp_path: Path) -> None:
    """GIVEN security starttls and a server that does not offer it WHEN sending THEN nothing goes out
    in clear text: the message fails with the reason."""
    srv = TestServer(tmp_path, security="none").start()
    try:
        settings = SmtpSettings("127.0.0.1", srv.port, "starttls", "firm-login", Secret(PASSWORD))
        with Sender(settings, sleep=Sleeps()) as sender:
            outcome = sender.send_message(make_message("R001", ["a@x.be"]))
        assert outcome.reason == (
            f"127.0.0.1:{srv.port} (the firm's smtp block) does not offer STARTTLS; "
            "refusing to send without encryption"
        )
        assert srv.messages == []
    finally:
        srv.stop()


def test_plain_loopback_relay_without_auth(tmp_path: Path) -> None:
    """GIVEN security none and no login (a local relay) WHEN sending THEN it goes out."""
    srv = TestServer(tmp_path, security="none").start()
    try:
        with Sender(SmtpSettings("127.0.0.1", srv.port, "none"), sleep=Sleeps()) as sender:
            assert sender.send_message(make_message("R001", ["a@x.be"])).status is Status.SENT
        assert [m.rcpt_tos for m in srv.messages] == [["a@x.be"]]
    finally:
        srv.stop()


def test_421_closes_and_the_next_attempt_reconnects(server: TestServer) -> None:
    """GIVEN a 421 (service closing) to MAIL FROM WHEN sending THEN the retry uses a new connection."""
    server.fail_next_mail("421 4.7.0 Too many messages on this connection")
    with sender_for(server) as sender:
        outcome = sender.send_message(make_message("R001", ["a@x.be"]))
    assert (outcome.status, outcome.attempts) == (Status.SENT, 2)
    assert [m.connection for m in server.messages] == [2]


def test_421_to_a_recipient_closes_and_the_next_attempt_reconnects(server: TestServer) -> None:
    """GIVEN a 421 to the second RCPT TO WHEN sending THEN the session is dropped, the retry uses a new
    connection and the message arrives once, for both recipients."""
    server.refuse_recipient("b@x.be", "421 4.3.2 System shutting down", times=1)
    sleeps = Sleeps()
    with sender_for(server, sleeps) as sender:
        outcome = sender.send_message(make_message("R001", ["a@x.be", "b@x.be"]))
    assert (outcome.status, outcome.attempts, outcome.delivered) == (Status.SENT, 2, ("a@x.be", "b@x.be"))
    assert sleeps == [0.5]
    assert [(m.rcpt_tos, m.connection) for m in server.messages] == [(["a@x.be", "b@x.be"], 2)]


def test_mail_refused_leaves_the_session_usable(server: TestServer) -> None:
    """GIVEN a 550 to MAIL FROM for the first message WHEN sending two THEN the first fails, and the
    second goes out on the same connection after one RSET."""
    server.fail_next_mail("550 5.7.1 Sender blocked")
    with sender_for(server) as sender:
        report = sender.send_batch(
            [make_message("R001", ["a@x.be", "b@x.be"]), make_message("R002", ["c@x.be"])]
        )
    failed, sent = report.outcomes
    assert failed.status is Status.FAILED and failed.attempts == 1
    assert failed.reason == "MAIL FROM:<inbox@mailer.example> refused: 550 5.7.1 Sender blocked"
    assert sent.status is Status.SENT
    assert [(m.rcpt_tos, m.connection) for m in server.messages] == [(["c@x.be"], 1)]
    assert (server.connections, server.rsets) == (1, 1)


def test_a_secret_echoed_by_the_server_is_redacted(server: TestServer) -> None:
    """GIVEN a server reply that contains the password WHEN it is reported THEN the password is ***."""
    server.fail_next_mail(f"550 5.7.1 sender blocked (debug: {PASSWORD})")
    with sender_for(server) as sender:
        outcome = sender.send_message(make_message("R001", ["a@x.be"]))
    assert outcome.reason == "MAIL FROM:<inbox@mailer.example> refused: 550 5.7.1 sender blocked (debug: ***)"


def test_server_requiring_a_login_the_settings_lack(server: TestServer) -> None:
    """GIVEN settings without login and a server requiring AUTH WHEN sending two THEN a clear reason,
    and the second message is not attempted."""
    settings = SmtpSettings("127.0.0.1", server.port, "starttls")
    with Sender(settings, ssl_context=server.client_context(), sleep=Sleeps()) as sender:
        report = sender.send_batch([make_message("R001", ["a@x.be"]), make_message("R002", ["b@x.be"])])
    first, second = report.outcomes
    assert first.reason == (
        f"127.0.0.1:{server.port} (the firm's smtp block) requires a login "
        "(530 5.7.0 Authentication required); the smtp block has none"
    )
    assert second.reason == f"not attempted: {first.reason}"

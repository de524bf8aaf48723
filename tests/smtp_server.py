"""A real SMTP server on loopback for the sending tests: aiosmtpd with TLS, AUTH and fault injection.

The server runs in the test process (aiosmtpd's threaded `Controller`) on 127.0.0.1 and a free port.
Its certificate is self-signed and made in the test with `cryptography`; clients trust it through
`TestServer.client_context()` (Python API) or `SSL_CERT_FILE=TestServer.cert_path` (subprocesses).
Faults are injected by queueing replies or drops that the next commands will meet. Opt-in options
(all off by default, leaving the server as aiosmtpd ships it): `pipelining` (advertise RFC 2920
PIPELINING), `record_reads` (note, for every reply, what the client had already sent unread), and
`lenient_data` (answer DATA with 354 even when MAIL or every recipient was refused, as RFC 2920
says some servers do, then refuse the data).
"""

from __future__ import annotations

import asyncio
import datetime
import email.policy
import ipaddress
import secrets
import ssl
import threading
import time
import warnings
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mailpolicy.runtime.resolve import Envelope

Security = Literal["starttls", "tls", "none"]


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost; returns (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    # A unique subject: OpenSSL finds trusted certificates by subject name, and one test may trust two.
    common_name = f"mailpolicy test SMTP {secrets.token_hex(4)}"
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "smtp-cert.pem"
    key_path = directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Received:
    """One message the server accepted (250 after the data)."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    login: str | None
    connection: int


class _FreePortController(Controller):
    """aiosmtpd's Controller bound to port 0 (the kernel picks a free port), counting connections."""

    def factory(self) -> SMTP:
        """One SMTP protocol object per TCP connection: number it for the per-connection counts."""
        with warnings.catch_warnings():
            # aiosmtpd warns about AUTH without STARTTLS, not knowing the whole socket is TLS.
            warnings.simplefilter("ignore", UserWarning)
            smtp = super().factory()
        handler: TestServer = self.handler
        with handler._lock:
            handler.connections += 1
            smtp.connection_number = handler.connections  # type: ignore[attr-defined]
        if handler.record_reads:
            _record_replies(smtp, handler)
        return smtp

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class TestServer:
    """An SMTP server on 127.0.0.1 that requires AUTH, with hooks to inject faults.

    `security` is `starttls` (STARTTLS required before AUTH), `tls` (implicit TLS) or `none`
    (plain text, no AUTH). Every `fail_*`/`drop_*` hook queues a fault for the next matching command.
    """

    __test__ = False  # not a pytest test class despite its name

    def __init__(
        self,
        directory: Path,
        *,
        security: Security = "starttls",
        login: str = "firm-login",
        password: str = "s3cret-Pa55word!",
        pipelining: bool = False,
        record_reads: bool = False,
        lenient_data: bool = False,
    ) -> None:
        self.security = security
        self.pipelining = pipelining
        self.record_reads = record_reads
        self.lenient_data = lenient_data
        # With record_reads: (reply, bytes the client had sent that the server had not read yet
        # when it wrote REPLY). A client that waits for each reply leaves nothing unread.
        self.replies: list[tuple[str, bytes]] = []
        # With lenient_data: the data received for transactions whose MAIL or every recipient was
        # refused (answered 554, not stored).
        self.refused_data: list[bytes] = []
        self.login = login
        self.password = password
        self.cert_path, self.key_path = make_certificate(directory)
        self.messages: list[Received] = []
        self.auth_attempts: list[tuple[str, bool]] = []
        self.connections = 0
        self.rsets = 0
        self.data_delay = 0.0
        self.close_every: int | None = None
        self._mail_faults: deque[str | None] = deque()  # a reply, or None to drop the connection
        self._data_faults: deque[str | None] = deque()  # a reply, or None: store then drop unanswered
        self._rcpt_replies: dict[str, tuple[str, int | None]] = {}
        self._per_connection: dict[int, int] = {}
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        if pipelining:
            # aiosmtpd looks its hooks up by name on the handler (instance attributes included);
            # set only when asked, so that the default server's EHLO stays aiosmtpd's own.
            self.handle_EHLO = self._ehlo_with_pipelining
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ctx.load_cert_chain(self.cert_path, self.key_path)
        kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "server_hostname": "mx.test", "port": 0}
        if security == "starttls":
            kwargs.update(
                tls_context=server_ctx,
                require_starttls=True,
                auth_required=True,
                auth_require_tls=True,
                authenticator=self._authenticate,
            )
        elif security == "tls":
            # aiosmtpd only counts STARTTLS as TLS for AUTH; the socket itself is TLS here.
            kwargs.update(
                ssl_context=server_ctx,
                auth_required=True,
                auth_require_tls=False,
                authenticator=self._authenticate,
            )
        self.controller = _FreePortController(self, **kwargs)

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> TestServer:
        """Start the server thread; `port` is known afterwards."""
        self.controller.start()
        # The controller's own readiness probe counts as a connection: start from zero.
        with self._lock:
            self.connections = 0
        return self

    def stop(self) -> None:
        """Stop the server thread."""
        self.controller.stop()

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return int(self.controller.port)

    def client_context(self) -> ssl.SSLContext:
        """A client SSL context that trusts this server's self-signed certificate (and only it)."""
        ctx = ssl.create_default_context(cafile=str(self.cert_path))
        return ctx

    # --- fault injection ------------------------------------------------------------------------

    def fail_next_mail(self, reply: str, times: int = 1) -> None:
        """Answer the next MAIL FROM commands with REPLY (e.g. `451 4.3.0 Try again later`)."""
        self._mail_faults.extend([reply] * times)

    def drop_at_next_mail(self, times: int = 1) -> None:
        """Close the connection, unanswered, when the next MAIL FROM commands arrive."""
        self._mail_faults.extend([None] * times)

    def fail_next_data(self, reply: str, times: int = 1) -> None:
        """Answer the end of the next messages' data with REPLY; the message is not stored."""
        self._data_faults.extend([reply] * times)

    def lose_next_data_reply(self, times: int = 1) -> None:
        """Store the next messages but close the connection instead of answering 250."""
        self._data_faults.extend([None] * times)

    def refuse_recipient(self, address: str, reply: str, times: int | None = None) -> None:
        """Answer RCPT TO for ADDRESS with REPLY, TIMES times (None: every time)."""
        self._rcpt_replies[address.lower()] = (reply, times)

    # --- observations ---------------------------------------------------------------------------

    def wait_for_messages(self, count: int, timeout: float = 10.0) -> bool:
        """Block until at least COUNT messages were accepted; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._arrived.wait(left)
        return True

    def copies_by_recipient(self) -> dict[str, int]:
        """How many accepted messages each envelope recipient received."""
        counts: dict[str, int] = {}
        for message in self.messages:
            for rcpt in message.rcpt_tos:
                counts[rcpt] = counts.get(rcpt, 0) + 1
        return counts

    # --- aiosmtpd handler hooks -----------------------------------------------------------------

    async def _ehlo_with_pipelining(
        self, server: SMTP, session: Session, envelope: SmtpEnvelope, hostname: str, responses: list[str]
    ) -> list[str]:
        """aiosmtpd's EHLO reply with PIPELINING added (the `pipelining` option).

        aiosmtpd reads each command line from its stream buffer in order and answers it before
        reading the next, so commands written together are handled exactly as if sent one by one.
        """
        session.host_name = hostname  # what aiosmtpd does itself when no EHLO hook is set
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    def _authenticate(
        self, server: SMTP, session: Session, envelope: SmtpEnvelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login = auth_data.login.decode()
        ok = login == self.login and auth_data.password.decode() == self.password
        with self._lock:
            self.auth_attempts.append((login, ok))
        # handled=False makes aiosmtpd answer 535 itself on a failure.
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    async def handle_RSET(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:
        with self._lock:
            self.rsets += 1
        return "250 OK"

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: SmtpEnvelope, address: str, options: list[str]
    ) -> str:
        if self._mail_faults:
            fault = self._mail_faults.popleft()
            if fault is None:
                await self._drop(server)
            if self.lenient_data:
                # Refused, yet remembered: the RCPTs and DATA that follow are accepted.
                envelope.mail_from = address
                envelope.refused_mail = True  # type: ignore[attr-defined]
            return fault or ""
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: SmtpEnvelope, address: str, options: list[str]
    ) -> str:
        fault = self._rcpt_replies.get(address.lower())
        if fault is not None:
            reply, times = fault
            if times is None or times > 0:
                if times is not None:
                    self._rcpt_replies[address.lower()] = (reply, times - 1)
                if self.lenient_data:
                    # Counted by aiosmtpd's DATA check (so DATA gets 354), refused in handle_DATA.
                    envelope.rcpt_tos.append(address)
                    refused: list[str] = getattr(envelope, "refused_tos", [])
                    envelope.refused_tos = [*refused, address]  # type: ignore[attr-defined]
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        fault: str | None = ""
        if self._data_faults:
            fault = self._data_faults.popleft()
            if fault:
                return fault
        number = getattr(server, "connection_number", 0)
        content = envelope.original_content or b""
        refused_tos: list[str] = getattr(envelope, "refused_tos", [])
        if refused_tos or getattr(envelope, "refused_mail", False):
            envelope.rcpt_tos = [r for r in envelope.rcpt_tos if r not in refused_tos]
            if not envelope.rcpt_tos or getattr(envelope, "refused_mail", False):
                with self._lock:
                    self.refused_data.append(bytes(content))
                return "554 5.5.1 Error: no valid recipients"
        with self._arrived:
            self.messages.append(
                Received(
                    mail_from=str(envelope.mail_from),
                    rcpt_tos=list(envelope.rcpt_tos),
                    data=bytes(content) if isinstance(content, bytes) else content.encode(),
                    login=session.auth_data if isinstance(session.auth_data, str) else None,
                    connection=number,
                )
            )
            self._per_connection[number] = self._per_connection.get(number, 0) + 1
            self._arrived.notify_all()
            closing = self.close_every is not None and self._per_connection[number] % self.close_every == 0
        if fault is None:
            await self._drop(server)
        if closing:
            # Answer, then hang up: a server with a per-connection message limit.
            await server.push("250 OK")
            await self._drop(server)
        return "250 OK"

    async def _drop(self, server: SMTP) -> None:
        """Close the connection without answering; aiosmtpd cancels this coroutine on close."""
        assert server.transport is not None
        server.transport.close()
        await asyncio.sleep(3600)


def _record_replies(smtp: SMTP, handler: TestServer) -> None:
    """Make SMTP note, with each reply it writes, the bytes already received and not yet read."""
    push = smtp.push

    async def recording_push(status: Any) -> None:
        # aiosmtpd's own stream reader buffer (aiosmtpd itself clears it after STARTTLS).
        unread = bytes(smtp._reader._buffer)  # type: ignore[attr-defined]
        reply = status if isinstance(status, str) else status.decode()
        with handler._lock:
            handler.replies.append((reply, unread))
        await push(status)

    smtp.push = recording_push  # type: ignore[method-assign]


# --- messages to send ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TestMessage:
    """A composed message as `runtime.message.ComposedMessage` has it, built with the stdlib."""

    __test__ = False

    envelope: Envelope
    message_id: str
    mail_from: str
    recipients: tuple[str, ...]
    data: bytes


def make_envelope(
    relation: str,
    to: list[str],
    cc: list[str] | None = None,
    bcc: list[str] | None = None,
    *,
    kind: str = "invoice",
    document: str | None = None,
    sender: str | None = None,
    from_address: str = "inbox@mailer.example",
    subject: str | None = None,
) -> Envelope:
    """A resolved envelope, as the resolver would give it."""
    return Envelope(
        kind=kind,
        language="fr",
        relation=relation,
        document=document,
        sender=sender,
        from_address=from_address,
        from_name="Cabinet Dupont & Associés",
        reply_to=["info@dupont-associes.be"],
        to=list(to),
        cc=list(cc or []),
        bcc=list(bcc or []),
        subject=subject if subject is not None else f"Facture {document or relation}",
        template=None,
        attach=None,
    )


def compose(envelope: Envelope, body: str = "Bonjour,\n\nVoici votre facture.\n") -> TestMessage:
    """The message for ENVELOPE: headers without Bcc, CRLF line ends, a fresh Message-ID."""
    msg = EmailMessage()
    msg["From"] = f"{envelope.from_name} <{envelope.from_address}>"
    msg["To"] = ", ".join(envelope.to)
    if envelope.cc:
        msg["Cc"] = ", ".join(envelope.cc)
    msg["Subject"] = envelope.subject
    message_id = make_msgid(domain="mailer.example")
    msg["Message-ID"] = message_id
    msg["Date"] = formatdate(localtime=False)
    msg.set_content(body)
    recipients: list[str] = []
    for address in [*envelope.to, *envelope.cc, *envelope.bcc]:
        if address.lower() not in {r.lower() for r in recipients}:
            recipients.append(address)
    return TestMessage(
        envelope=envelope,
        message_id=message_id.strip("<>"),
        mail_from=envelope.from_address,
        recipients=tuple(recipients),
        data=msg.as_bytes(policy=email.policy.SMTP),
    )


def make_message(
    relation: str, to: list[str], cc: list[str] | None = None, bcc: list[str] | None = None, **kw: Any
) -> TestMessage:
    """`compose(make_envelope(...))`."""
    return compose(make_envelope(relation, to, cc, bcc, **kw))

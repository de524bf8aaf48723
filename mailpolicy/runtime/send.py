"""Sending over SMTP: one reused connection per server, retries, outcomes per message, batch reports.

`Sender` sends composed messages (see `ComposedLike`) through the firm's server or a user's own,
with the envelope recipients exactly To + CC + BCC. Each message ends in one `Outcome`:

- `sent`: the server accepted it for every recipient;
- `partial`: accepted for some recipients, refused for others (each refusal reported);
- `failed`: not accepted (a permanent 5xx reply, retries exhausted, a message that could not be built);
- `unknown`: the connection was lost after the data went out: the server may have it. Not retried;
- `skipped`: not sent on purpose (already sent per the journal, or a `MessageSkipped`).

Transient trouble (4xx replies, a connection dropped before the end of the data) is retried with
exponential backoff a bounded number of times; 5xx replies are not. MAIL, RCPT and DATA are
pipelined (RFC 2920) when the server offers PIPELINING, with the same outcomes. Secrets never
reach an outcome: every text taken from the server or from an exception goes through a
`Redactor`, and smtplib's debug output (which prints the AUTH exchange) is never enabled.
"""

from __future__ import annotations

import functools
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from mailpolicy.runtime.errors import MessageError, MessageSkipped
from mailpolicy.runtime.journal import DONE_STATES, EnvelopeLike, Journal, JournalEntry, stable_id
from mailpolicy.runtime.smtp_settings import Redactor, SmtpSettings, SmtpSettingsError

__all__ = [
    "ComposedLike",
    "Outcome",
    "Refusal",
    "Report",
    "RetryPolicy",
    "Sender",
    "SmtpConnection",
    "Status",
]


class ComposedLike(Protocol):
    """What sending needs of a composed message (`runtime.message.ComposedMessage` fits)."""

    @property
    def envelope(self) -> EnvelopeLike: ...
    @property
    def message_id(self) -> str: ...
    @property
    def mail_from(self) -> str: ...
    @property
    def recipients(self) -> tuple[str, ...]: ...
    @property
    def data(self) -> bytes: ...


class Status(StrEnum):
    """The outcome categories of one message."""

    SENT = "sent"
    PARTIAL = "partial"
    FAILED = "failed"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Refusal:
    """A server's refusal of one recipient."""

    code: int
    reply: str

    def __str__(self) -> str:
        return f"{self.code} {self.reply}".strip()


@dataclass
class Outcome:
    """What became of one message."""

    status: Status
    kind: str | None
    relation: str | None
    document: str | None
    key: str | None = None
    message_id: str | None = None
    mail_from: str | None = None
    recipients: tuple[str, ...] = ()
    delivered: tuple[str, ...] = ()
    refused: dict[str, Refusal] = field(default_factory=dict)
    reason: str | None = None
    attempts: int = 0
    server: str | None = None

    @property
    def label(self) -> str:
        """`invoice R001 F2026-0042`: which message this is, for report lines."""
        return " ".join(p for p in (self.kind, self.relation, self.document) if p) or "message"

    def describe(self) -> str:
        """One report line: the message, and why it was not simply sent."""
        if self.status is Status.SENT:
            return f"{self.label}: sent to {', '.join(self.delivered)}"
        parts = []
        if self.reason:
            parts.append(self.reason)
        if self.refused:
            refusals = "; ".join(f"{addr}: {ref}" for addr, ref in self.refused.items())
            parts.append(f"refused {refusals}")
        if self.status is Status.PARTIAL:
            parts.insert(0, f"delivered to {', '.join(self.delivered)}")
        return f"{self.label}: {'; '.join(parts)}"

    def as_dict(self) -> dict[str, Any]:
        """The JSON form used in `send --report`."""
        return {
            "status": str(self.status),
            "kind": self.kind,
            "relation": self.relation,
            "document": self.document,
            "id": self.key,
            "message_id": self.message_id,
            "server": self.server,
            "mail_from": self.mail_from,
            "recipients": list(self.recipients),
            "delivered": list(self.delivered),
            "refused": {a: {"code": r.code, "reply": r.reply} for a, r in self.refused.items()},
            "reason": self.reason,
            "attempts": self.attempts,
        }


_REPORT_ORDER = (Status.SENT, Status.PARTIAL, Status.FAILED, Status.UNKNOWN, Status.SKIPPED)
_REPORT_NAMES = {
    Status.SENT: "sent",
    Status.PARTIAL: "partially refused",
    Status.FAILED: "failed",
    Status.UNKNOWN: "unknown",
    Status.SKIPPED: "skipped",
}


@dataclass
class Report:
    """The outcomes of a batch, in the order the messages came."""

    outcomes: list[Outcome] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """How many messages ended in each category, every category present."""
        counts = {str(s): 0 for s in _REPORT_ORDER}
        for outcome in self.outcomes:
            counts[str(outcome.status)] += 1
        return counts

    @property
    def ok(self) -> bool:
        """True when nothing failed, was partly refused, or is unknown (skips are not failures)."""
        return all(o.status in (Status.SENT, Status.SKIPPED) for o in self.outcomes)

    def as_dict(self) -> dict[str, Any]:
        """`{"summary": {...counts, "total"}, "messages": [...]}` for `send --report`."""
        summary: dict[str, int] = self.counts()
        summary["total"] = len(self.outcomes)
        return {"summary": summary, "messages": [o.as_dict() for o in self.outcomes]}

    def as_text(self) -> str:
        """The summary line, then one line per message that was not simply sent."""
        counts = self.counts()
        lines = [", ".join(f"{_REPORT_NAMES[s]}: {counts[str(s)]}" for s in _REPORT_ORDER)]
        for status in _REPORT_ORDER[1:]:
            for outcome in self.outcomes:
                if outcome.status is status:
                    lines.append(f"{_REPORT_NAMES[status]}: {outcome.describe()}")
        return "\n".join(lines)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff: the n-th retry waits base * factor**(n-1) seconds."""

    attempts: int = 4
    base_delay: float = 1.0
    factor: float = 2.0
    max_delay: float = 60.0

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number RETRY (1-based)."""
        return float(min(self.max_delay, self.base_delay * self.factor ** (retry - 1)))


# --- what can go wrong in one attempt -----------------------------------------------------------


class _AttemptError(Exception):
    """Why one attempt did not end with the server's acceptance; `reason` is already redacted."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Transient(_AttemptError):
    """Worth another attempt: a 4xx reply, or a connection lost before the end of the data."""

    def __init__(self, reason: str, *, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.unreachable = unreachable  # the server could not be reached at all


class _Permanent(_AttemptError):
    """A 5xx reply for this message: retrying would get the same answer."""


class _Lost(_AttemptError):
    """The connection went away after the data was sent: the server may have accepted it."""


class _ServerFatal(_AttemptError):
    """This server cannot be used at all (login refused, no TLS): every message through it fails."""


@dataclass
class _Transaction:
    accepted: list[str]
    refused: dict[str, Refusal]


_EOL = re.compile(rb"\r\n|\n|\r")


def _wire_data(data: bytes) -> bytes:
    """The message with CRLF line ends and dot-stuffing, ending with CRLF (without the final dot)."""
    # Composed messages already have CRLF line ends: counting them (in C) spares the ~50 µs
    # regular-expression pass over 17 KB. Dot-stuffing (a dot at the start or after any LF gets
    # a second one): split and join take ~13 µs on the example invoice where bytes.replace (which
    # searches twice) takes ~25 and `re.sub(rb"(?m)^\.", ...)` took ~60.
    crlf = data.count(b"\r\n")
    if data.count(b"\n") != crlf or data.count(b"\r") != crlf:
        data = _EOL.sub(b"\r\n", data)
    data = (b"." if data.startswith(b".") else b"") + b"\n..".join(data.split(b"\n."))
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def _no_delay(smtp: smtplib.SMTP) -> None:
    """Turn off Nagle's algorithm on the session's socket.

    The end-of-data dot is written on its own after the data; with Nagle on, that small write
    waits for the server's delayed ACK of the data (40 ms on Linux) on every message of a reused
    connection, which capped sending at about 20 messages per second.
    """
    sock = getattr(smtp, "sock", None)
    if sock is None:
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass  # not a TCP socket (or the option is refused): slower, still correct


def _reply_text(message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return " ".join(text.split())


class SmtpConnection:
    """One SMTP session to one server: opened on first use, reused, reopened after a drop.

    Never sets smtplib's debuglevel: its debug output prints the AUTH exchange.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 60.0,
        local_hostname: str | None = None,
    ) -> None:
        self.settings = settings
        self.ssl_context = ssl_context
        self.timeout = timeout
        self.local_hostname = local_hostname
        self.redact = Redactor(settings.secrets())
        self._smtp: smtplib.SMTP | None = None
        self._dirty = False  # a transaction was started and not completed: RSET before the next
        # What the server's last EHLO offered, looked up once per session, not per message.
        self._pipelining = False
        self._smtputf8 = False
        self._8bitmime = False
        self.connects = 0

    @property
    def is_open(self) -> bool:
        """True while a session is believed to be open."""
        return self._smtp is not None

    def _context(self) -> ssl.SSLContext:
        if self.ssl_context is None:
            self.ssl_context = ssl.create_default_context()
        return self.ssl_context

    def _where(self) -> str:
        return f"{self.settings.address} ({self.settings.origin})"

    def open(self) -> None:
        """Connect, secure the session and log in, or raise `_Transient` / `_ServerFatal`."""
        s = self.settings
        smtp: smtplib.SMTP | None = None
        try:
            if s.security == "tls":
                smtp = smtplib.SMTP_SSL(
                    s.host,
                    s.port,
                    timeout=self.timeout,
                    context=self._context(),
                    local_hostname=self.local_hostname,
                )
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=self.timeout, local_hostname=self.local_hostname)
            _no_delay(smtp)
            smtp.ehlo()
            if s.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise _ServerFatal(
                        f"{self._where()} does not offer STARTTLS; refusing to send without encryption"
                    )
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if s.login is not None:
                password = s.password.reveal() if s.password is not None else ""
                smtp.login(s.login, password)
        except _ServerFatal:
            self._discard(smtp)
            raise
        except smtplib.SMTPAuthenticationError as exc:
            self._discard(smtp)
            reply = f"{exc.smtp_code} {self.redact(_reply_text(exc.smtp_error))}"
            if 400 <= exc.smtp_code < 500:
                raise _Transient(f"login to {self._where()} temporarily refused: {reply}") from None
            variables = " and ".join(v for v in (s.login_variable, s.password_variable) if v)
            hint = f"; check {variables}" if variables else ""
            raise _ServerFatal(f"login to {self._where()} refused: {reply}{hint}") from None
        except smtplib.SMTPNotSupportedError:
            self._discard(smtp)
            raise _ServerFatal(f"{self._where()} does not offer AUTH after the secure handshake") from None
        except smtplib.SMTPConnectError as exc:
            self._discard(smtp)
            reply = f"{exc.smtp_code} {self.redact(_reply_text(exc.smtp_error))}"
            if 400 <= exc.smtp_code < 500:
                raise _Transient(
                    f"{self._where()} refused the connection: {reply}", unreachable=True
                ) from None
            raise _ServerFatal(f"{self._where()} refused the connection: {reply}") from None
        except ssl.SSLCertVerificationError as exc:
            self._discard(smtp)
            raise _ServerFatal(
                f"TLS certificate of {self._where()} not trusted: {exc.verify_message or exc.reason}"
            ) from None
        except smtplib.SMTPResponseException as exc:
            self._discard(smtp)
            reply = f"{exc.smtp_code} {self.redact(_reply_text(exc.smtp_error))}"
            if 400 <= exc.smtp_code < 500:
                raise _Transient(f"{self._where()}: {reply}") from None
            raise _ServerFatal(f"{self._where()}: {reply}") from None
        except (smtplib.SMTPException, OSError) as exc:
            self._discard(smtp)
            raise _Transient(
                f"cannot connect to {self._where()}: {self.redact(str(exc)) or type(exc).__name__}",
                unreachable=True,
            ) from None
        self._smtp = smtp
        self._dirty = False
        self._pipelining = smtp.has_extn("pipelining")
        self._smtputf8 = smtp.has_extn("smtputf8")
        self._8bitmime = smtp.has_extn("8bitmime")
        self.connects += 1

    def _discard(self, smtp: smtplib.SMTP | None) -> None:
        if smtp is None:
            return
        try:
            smtp.close()
        except OSError:
            pass

    def close(self) -> None:
        """QUIT politely if possible, then close the socket."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            self._discard(smtp)

    def drop(self) -> None:
        """Close the socket without QUIT (after a lost connection or a 421)."""
        smtp, self._smtp = self._smtp, None
        self._discard(smtp)

    def _ready(self) -> smtplib.SMTP:
        """An open session with no transaction in progress: RSET after a broken one, reconnect if gone."""
        if self._smtp is not None and self._dirty:
            try:
                code, _ = self._smtp.rset()
                if code != 250:
                    self.drop()
            except (smtplib.SMTPException, OSError):
                self.drop()
            self._dirty = False
        if self._smtp is None:
            self.open()
        assert self._smtp is not None
        return self._smtp

    def _check(self, code: int, message: bytes, what: str) -> None:
        """Raise for a reply that is not a success to WHAT."""
        reply = f"{code} {self.redact(_reply_text(message))}"
        if code == 421:
            # The server is closing the session: reconnect for the next attempt.
            self.drop()
            raise _Transient(f"{what}: {reply}")
        if 400 <= code < 500:
            raise _Transient(f"{what}: {reply}")
        raise _Permanent(f"{what}: {reply}")

    def transaction(self, mail_from: str, recipients: list[str], data: bytes) -> _Transaction:
        """One MAIL / RCPT... / DATA exchange; which recipients the server accepted and refused.

        When the server offers PIPELINING (RFC 2920), MAIL, every RCPT and DATA go in one write and
        the replies are read in order afterwards; otherwise each command waits for its reply (RFC
        2920 forbids anything else). Both ways end the same for the same replies.

        Raises `_Transient` (retry), `_Permanent` (do not), `_Lost` (the end of the data was sent
        but no reply came: the server may have the message) or `_ServerFatal`.
        """
        smtp = self._ready()
        wire = _wire_data(data)
        options: list[str] = []
        if not (mail_from.isascii() and all(r.isascii() for r in recipients)):
            if not self._smtputf8:
                raise _Permanent(f"{self._where()} does not accept internationalised addresses (no SMTPUTF8)")
            options.append("SMTPUTF8")
        if self._8bitmime and not wire.isascii():
            options.append("BODY=8BITMIME")
        end_sent = False
        try:
            self._dirty = True
            if self._pipelining:
                accepted, refused = self._envelope_pipelined(smtp, mail_from, options, recipients)
            else:
                accepted, refused = self._envelope_stepwise(smtp, mail_from, options, recipients)
            if not accepted:
                return _Transaction([], refused)
            smtp.send(wire)
            # The end-of-data dot goes alone, so that a failure before it proves the server
            # cannot have the message, and anything after it may mean the server has it.
            end_sent = True
            smtp.send(b".\r\n")
            code, message = smtp.getreply()
            self._dirty = False
            if code != 250:
                self._check(code, message, "message refused after its data")
            return _Transaction(accepted, refused)
        except (smtplib.SMTPException, OSError) as exc:
            # smtplib closes the socket before raising from getreply/send (end of file, a reply
            # line too long, a failed write): the session is gone either way.
            self.drop()
            detail = self.redact(str(exc)) or type(exc).__name__
            if end_sent:
                raise _Lost(
                    f"connection to {self._where()} lost after the message data was sent ({detail}): "
                    "the server may have accepted it"
                ) from None
            raise _Transient(f"connection to {self._where()} lost ({detail})") from None

    def _mail_refused(self, code: int, message: bytes, mail_from: str) -> None:
        """Raise for a reply other than 250 to MAIL FROM."""
        if code == 530 and self.settings.login is None:
            # Every message would meet the same answer: the server wants a login we do not have.
            reply = f"{code} {self.redact(_reply_text(message))}"
            raise _ServerFatal(f"{self._where()} requires a login ({reply}); the smtp block has none")
        self._check(code, message, f"MAIL FROM:<{mail_from}> refused")

    def _envelope_stepwise(
        self, smtp: smtplib.SMTP, mail_from: str, options: list[str], recipients: list[str]
    ) -> tuple[list[str], dict[str, Refusal]]:
        """MAIL, each RCPT, then DATA (only if a recipient was accepted), each awaiting its reply.

        Returns the accepted recipients (DATA answered 354 when there are any) and the refusals.
        """
        smtp.send(_mail_line(smtp, mail_from, options))
        code, message = smtp.getreply()
        if code != 250:
            self._mail_refused(code, message, mail_from)
        refused: dict[str, Refusal] = {}
        for rcpt in recipients:
            smtp.send(_rcpt_line(rcpt))
            code, message = smtp.getreply()
            if code not in (250, 251):
                if code == 421:
                    self._check(code, message, f"RCPT TO:<{rcpt}>")
                refused[rcpt] = Refusal(code, self.redact(_reply_text(message)))
        accepted = [r for r in recipients if r not in refused] if refused else recipients
        if not accepted:
            return [], refused
        code, message = smtp.docmd("DATA")
        if code != 354:
            self._check(code, message, "DATA refused")
        return accepted, refused

    def _envelope_pipelined(
        self, smtp: smtplib.SMTP, mail_from: str, options: list[str], recipients: list[str]
    ) -> tuple[list[str], dict[str, Refusal]]:
        """MAIL, every RCPT and DATA in one write (RFC 2920), then their replies in order.

        Every reply is read even after a refusal, so that the session stays in step; the outcome
        is what `_envelope_stepwise` gives for the same replies.
        """
        commands = [_mail_line(smtp, mail_from, options)]
        commands.extend(_rcpt_line(rcpt) for rcpt in recipients)
        commands.append("DATA\r\n")
        smtp.send("".join(commands))
        code, message = smtp.getreply()
        if code != 250:
            if code != 421:  # after a 421 the server hangs up: nothing more to read
                self._drain(smtp, len(recipients) + 1)
            self._mail_refused(code, message, mail_from)
        refused: dict[str, Refusal] = {}
        for rcpt in recipients:
            code, message = smtp.getreply()
            if code not in (250, 251):
                if code == 421:
                    self._check(code, message, f"RCPT TO:<{rcpt}>")
                refused[rcpt] = Refusal(code, self.redact(_reply_text(message)))
        code, message = smtp.getreply()
        accepted = [r for r in recipients if r not in refused] if refused else recipients
        if not accepted:
            if code == 354:
                self._end_empty(smtp)
            elif code == 421:
                self.drop()
            return [], refused
        if code != 354:
            self._check(code, message, "DATA refused")
        return accepted, refused

    def _end_empty(self, smtp: smtplib.SMTP) -> None:
        """End a DATA that should not have been accepted with a lone dot (RFC 2920, section 3.1).

        The server answered 354 although no recipient (or the sender) was accepted: the message
        must not go out, and the session must leave the data state. Its reply is read and ignored.
        """
        try:
            smtp.send(b".\r\n")
            code, _ = smtp.getreply()
            if code == 421:
                self.drop()
        except (smtplib.SMTPException, OSError):
            self.drop()

    def _drain(self, smtp: smtplib.SMTP, count: int) -> None:
        """Read the COUNT replies still due (RCPT... and DATA) after a refused pipelined MAIL."""
        try:
            for _ in range(count - 1):
                code, _ = smtp.getreply()
                if code == 421:
                    self.drop()
                    return
            code, _ = smtp.getreply()
        except (smtplib.SMTPException, OSError):
            # The refusal of MAIL is the outcome; the next attempt opens a new session.
            self.drop()
            return
        if code == 354:
            self._end_empty(smtp)
        elif code == 421:
            self.drop()


# smtplib's quoteaddr() parses each address with the email package (~6 µs); a bulk run sends
# from, and copies to, the same few addresses on every message: each is quoted once.
_quoted = functools.lru_cache(maxsize=8192)(smtplib.quoteaddr)


def _command(line: str) -> str:
    """LINE with CRLF, refused like smtplib's putcmd() when it holds a line break."""
    if "\r" in line or "\n" in line:
        shown = line.replace("\n", "\\n").replace("\r", "\\r")
        raise ValueError(f"command and arguments contain prohibited newline characters: {shown}")
    return line + "\r\n"


def _mail_line(smtp: smtplib.SMTP, mail_from: str, options: list[str]) -> str:
    """The MAIL FROM line exactly as smtplib's `mail(mail_from, options)` writes it.

    Like `mail()`, switches the session's command encoding to UTF-8 for SMTPUTF8. (OPTIONS are
    only ever non-empty for a server that answered EHLO, so `mail()`'s `does_esmtp` test holds.)
    """
    if "SMTPUTF8" in options:
        smtp.command_encoding = "utf-8"
    tail = " " + " ".join(options) if options else ""
    return _command(f"mail FROM:{_quoted(mail_from)}{tail}")


def _rcpt_line(rcpt: str) -> str:
    """The RCPT TO line exactly as smtplib's `rcpt(rcpt)` writes it."""
    return _command(f"rcpt TO:{_quoted(rcpt)}")


SettingsFor = Callable[[str | None], SmtpSettings]


class Sender:
    """Sends composed messages through the right SMTP server, reusing one connection per server.

    SETTINGS is one `SmtpSettings` for every message, or a function of the message's sender (user
    id or None) returning them, e.g. `lambda user: settings_for(table, user)`. Use as a context
    manager, or call `close()`.
    """

    def __init__(
        self,
        settings: SmtpSettings | SettingsFor,
        *,
        ssl_context: ssl.SSLContext | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        local_hostname: str | None = None,
    ) -> None:
        self._settings_for: SettingsFor = (
            (lambda _user: settings) if isinstance(settings, SmtpSettings) else settings
        )
        self.ssl_context = ssl_context
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.sleep = sleep
        self.local_hostname = local_hostname
        self._connections: dict[SmtpSettings, SmtpConnection] = {}
        self._broken: dict[SmtpSettings, str] = {}  # servers that cannot be used: why

    # --- connections ----------------------------------------------------------------------------

    def connection(self, settings: SmtpSettings) -> SmtpConnection:
        """The (lazily opened) connection to the server of SETTINGS."""
        conn = self._connections.get(settings)
        if conn is None:
            conn = SmtpConnection(
                settings,
                ssl_context=self.ssl_context,
                timeout=self.timeout,
                local_hostname=self.local_hostname,
            )
            self._connections[settings] = conn
        return conn

    def close(self) -> None:
        """Close every connection."""
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- one message ----------------------------------------------------------------------------

    def send_message(self, message: ComposedLike, *, key: str | None = None) -> Outcome:
        """Send one composed message (retrying transient trouble) and say what became of it."""
        env = message.envelope
        recipients = list(message.recipients)
        outcome = Outcome(
            status=Status.FAILED,
            kind=env.kind,
            relation=env.relation,
            document=env.document,
            key=key,
            message_id=message.message_id,
            mail_from=message.mail_from,
            recipients=tuple(recipients),
        )
        try:
            settings = self._settings_for(env.sender)
        except SmtpSettingsError as exc:
            outcome.reason = str(exc)
            return outcome
        outcome.server = settings.address
        if settings in self._broken:
            outcome.reason = f"not attempted: {self._broken[settings]}"
            return outcome
        if not recipients:
            outcome.reason = "no recipient"
            return outcome
        conn = self.connection(settings)
        delivered: list[str] = []
        pending = recipients
        reason: str | None = None
        while True:
            outcome.attempts += 1
            try:
                result = conn.transaction(message.mail_from, pending, message.data)
            except _ServerFatal as exc:
                self._broken[settings] = exc.reason
                reason = exc.reason
                break
            except _Permanent as exc:
                reason = exc.reason
                break
            except _Lost as exc:
                outcome.status = Status.UNKNOWN
                outcome.reason = f"{exc.reason}; not resent automatically"
                outcome.delivered = tuple(delivered)
                return outcome
            except _Transient as exc:
                reason = exc.reason
                if outcome.attempts >= self.retry.attempts:
                    if exc.unreachable:
                        # Every later message would wait through the same retries for nothing.
                        self._broken[settings] = exc.reason
                    reason = f"{exc.reason} (gave up after {outcome.attempts} attempts)"
                    break
            else:
                delivered.extend(result.accepted)
                retry_later = {}
                for rcpt, refusal in result.refused.items():
                    if 400 <= refusal.code < 500 and outcome.attempts < self.retry.attempts:
                        retry_later[rcpt] = refusal
                    else:
                        outcome.refused[rcpt] = refusal
                if not retry_later:
                    reason = None
                    break
                # Only the recipients refused for now are tried again: the others have it.
                pending = list(retry_later)
                reason = "recipients temporarily refused"
            self.sleep(self.retry.delay(outcome.attempts))
        outcome.delivered = tuple(delivered)
        # Report refusals in the order of the message's recipients.
        outcome.refused = {r: outcome.refused[r] for r in recipients if r in outcome.refused}
        if delivered and (outcome.refused or reason):
            outcome.status = Status.PARTIAL
            outcome.reason = reason
        elif delivered:
            outcome.status = Status.SENT
        else:
            outcome.status = Status.FAILED
            outcome.reason = reason if reason or not outcome.refused else "every recipient refused"
        return outcome

    # --- batches --------------------------------------------------------------------------------

    def send_batch(
        self,
        items: Iterable[Any],
        *,
        journal: Journal | None = None,
        progress: Callable[[Outcome], None] | None = None,
        compose: Callable[[Any], ComposedLike] | None = None,
        retry_unknown: bool = False,
    ) -> Report:
        """Send every item and report; one bad message never stops the batch.

        ITEMS are composed messages, or with COMPOSE envelopes to compose just before sending
        (so that messages the journal already has are never composed); either may be interleaved
        with the `MessageError` / `MessageSkipped` of messages that could not be built. With a
        JOURNAL, a message already sent (or partly) is skipped, and one whose fate is unknown is
        reported as unknown again unless RETRY_UNKNOWN. PROGRESS is called after each message.
        """
        report = Report()
        for outcome in self._outcomes(items, journal, compose, retry_unknown):
            report.outcomes.append(outcome)
            if progress is not None:
                progress(outcome)
        return report

    def _outcomes(
        self,
        items: Iterable[Any],
        journal: Journal | None,
        compose: Callable[[Any], ComposedLike] | None,
        retry_unknown: bool,
    ) -> Iterator[Outcome]:
        for item in items:
            if isinstance(item, MessageError):
                yield _outcome_of_error(item)
                continue
            envelope = item if compose is not None else item.envelope
            key = stable_id(envelope)
            if journal is not None:
                entry = journal.get(key)
                if entry is not None and entry.state in DONE_STATES:
                    reason = f"already sent ({entry.state}, {entry.updated_at})"
                    yield _outcome_of_entry(Status.SKIPPED, envelope, entry, reason)
                    continue
                if entry is not None and entry.state == "unknown" and not retry_unknown:
                    reason = (
                        f"{entry.detail.get('reason', 'unknown')} (journal, {entry.updated_at}); "
                        "not resent: use --retry-unknown to send it again"
                    )
                    yield _outcome_of_entry(Status.UNKNOWN, envelope, entry, reason)
                    continue
            try:
                message = compose(item) if compose is not None else item
            except MessageError as exc:
                yield _outcome_of_error(exc)
                continue
            if journal is not None:
                journal.begin(
                    key,
                    kind=envelope.kind,
                    relation=envelope.relation,
                    document=envelope.document,
                    message_id=message.message_id,
                    mail_from=message.mail_from,
                    recipients=message.recipients,
                )
            outcome = self.send_message(message, key=key)
            if journal is not None:
                journal.finish(
                    key,
                    str(outcome.status),
                    attempts=outcome.attempts,
                    detail={
                        "reason": outcome.reason,
                        "delivered": list(outcome.delivered),
                        "refused": {a: str(r) for a, r in outcome.refused.items()},
                        "server": outcome.server,
                    },
                )
            yield outcome


def _outcome_of_entry(status: Status, envelope: EnvelopeLike, entry: JournalEntry, reason: str) -> Outcome:
    """A message not sent in this run because of what the journal says about an earlier one."""
    return Outcome(
        status,
        envelope.kind,
        envelope.relation,
        envelope.document,
        key=entry.id,
        message_id=entry.message_id,
        mail_from=entry.mail_from,
        recipients=entry.recipients,
        reason=reason,
    )


def _outcome_of_error(error: MessageError) -> Outcome:
    """A message that could not be built: failed, or skipped when that was on purpose."""
    status = Status.SKIPPED if isinstance(error, MessageSkipped) else Status.FAILED
    return Outcome(status, error.kind, error.relation, error.document, reason=error.message)

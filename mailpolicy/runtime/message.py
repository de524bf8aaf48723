"""Turning a resolved envelope into the email itself: the fast MIME composer and the stdlib path.

`compose_message` is the fast path a sending service runs thousands of times: the templates were
rendered and split at compile time, so a body is a join of slices; the MIME skeleton of each
message shape is built once; headers are formatted directly from the already-validated
addresses (RFC 2047 encoded-words for non-ASCII display names and subjects, folded at 78
columns); bodies go through the C codecs of `binascii`. `build_email_message` builds the same
message with the standard library's `email` package; a property test holds the two to the same
parsed result.

Safety: values are HTML-escaped in the HTML part (by `fill_parts`), left untouched in the text
part, and every header value has its line breaks and control characters removed, so a relation
named `x\\r\\nBcc: y@evil.example` can never add a header. Bcc never appears in the headers: the
BCC addresses are only in `ComposedMessage.recipients`, the SMTP envelope.
"""

from __future__ import annotations

import binascii
import email.policy
import errno
import html as html_module
import mimetypes
import os
import re
import stat
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from mailpolicy.runtime.addresses import address_key, on_verified_domain
from mailpolicy.runtime.errors import MessageError
from mailpolicy.runtime.fill import _DATE_PATHS, format_value, message_context
from mailpolicy.runtime.resolve import Envelope

Clock = Callable[[], datetime]
MakeId = Callable[[], str]

# Every C0/C1 control character, DEL and the Unicode line/paragraph separators become a space in
# a header: CR and LF would start a new header, the others confuse some mail software.
_HEADER_CONTROLS = {c: " " for c in [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]}
_SPACES = re.compile(r" {2,}")
# RFC 5322 atext plus space: a display name made only of these needs no quoting.
_ATOM_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")
# Bytes of UTF-8 per RFC 2047 "B" encoded-word: 56 base64 characters, 68 with the
# `=?utf-8?b?...?=` wrapper, so that `Subject: ` plus one word stays within 78 columns.
_WORD_BYTES = 42
_LINE = 78
# Boundaries start with "=_": that sequence never occurs in quoted-printable or base64 output,
# so the encoded bodies can never contain a boundary line and the skeleton can be fixed.
_ALT_BOUNDARY = "=_mailpolicy_alt"
_MIXED_BOUNDARY = "=_mailpolicy_mixed"


@dataclass(frozen=True)
class ComposedMessage:
    """One message ready for SMTP: the bytes as sent and the SMTP envelope."""

    envelope: Envelope
    message_id: str  # without the angle brackets
    mail_from: str  # SMTP MAIL FROM (the From address)
    recipients: tuple[str, ...]  # To + CC + BCC, exactly, de-duplicated
    data: bytes  # the message as sent: CRLF line ends, no Bcc header


@dataclass(frozen=True)
class Attachment:
    """A file attached to a message."""

    filename: str
    maintype: str
    subtype: str
    data: bytes


@dataclass(frozen=True)
class Content:
    """A message's bodies after filling: plain text, HTML (None for a text-only kind), attachment."""

    text: str
    html: str | None
    attachment: Attachment | None


# --- shared by both paths ------------------------------------------------------------------------


def clean_header_text(text: str) -> str:
    """One line of header text: control characters and line separators become spaces, runs of
    spaces collapse, ends are trimmed."""
    # The usual case, already clean, costs 0.1 µs instead of 3.5: printable text holds none of
    # the characters translated below, and its only white space is the ASCII space.
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    return _SPACES.sub(" ", text.translate(_HEADER_CONTROLS)).strip()


def _error(envelope: Envelope, message: str) -> MessageError:
    return MessageError(message, kind=envelope.kind, relation=envelope.relation, document=envelope.document)


# One `local@domain` without white space, controls, quotes, brackets or list separators.
_NOT_IN_ADDRESS = r"\s\x00-\x1f\x7f-\x9f\u2028\u2029\"(),:;<>@\[\\\]"
_BARE_ADDRESS = re.compile(f"[^{_NOT_IN_ADDRESS}]+@[^{_NOT_IN_ADDRESS}]+")


def ascii_address(address: str, envelope: Envelope) -> str:
    """The address as it can appear in a header: an internationalised domain in its IDNA form.

    A non-ASCII local part needs SMTPUTF8, which these messages do not use: MessageError.
    """
    # resolve_message only hands out validated addresses, but an Envelope built by hand (or
    # rebuilt from a tampered journal) must not put a line break or a second address into a
    # header or an SMTP command: both paths go through here (issue 8).
    if not _BARE_ADDRESS.fullmatch(address):
        raise _error(envelope, f"address {address!r} is not one bare address")
    if address.isascii():
        return address
    local, _, domain = address.rpartition("@")
    if not local.isascii():
        raise _error(envelope, f"address '{address}' has a non-ASCII local part (needs SMTPUTF8)")
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        raise _error(
            envelope, f"address '{address}' has a domain that cannot be written in IDNA form"
        ) from None


def message_domain(table: Any, from_address: str) -> str:
    """The Message-ID domain: the From domain when it is verified, else the platform's domain."""
    if on_verified_domain(from_address, table.firm.get("verified_domains", [])):
        return from_address.rpartition("@")[2]
    return str(table.firm["platform"]).rpartition("@")[2]


def _normal_body(text: str) -> str:
    """LF line ends and a final newline, as the stdlib's `set_content` produces."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") else text + "\n"


def _clean_value(text: str) -> str:
    # Bodies have LF line ends; a value's CR (from the data) must not make a line end of its own.
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


@lru_cache(maxsize=4096)
def _babel_format(path: str, fmt: str | None, value: Any, currency: Any, language: str) -> str:
    """Babel's long dates and money amounts (and plain dates), cached: Babel costs tens of µs per
    call and a bulk run formats the same dates (and often amounts) thousands of times."""
    from mailpolicy.runtime.fill import Context

    ctx = Context(values={path: value, "document.currency": currency}, language=language)
    return format_value(ctx, path, fmt)


def _value(ctx: Any, slot: dict[str, Any]) -> str:
    """One slot's text (formats per SPEC 2.6, by `fill.format_value`); MessageError when missing."""
    path, fmt = slot["path"], slot.get("format")
    # Plain dates too: a bulk run writes the same few dates thousands of times (strftime each).
    if fmt in ("long", "money") or (fmt is None and path in _DATE_PATHS):
        value = ctx.lookup(path)
        if value is not None and value != "" and not isinstance(value, (list, dict)):
            try:
                currency = ctx.lookup("document.currency") if fmt == "money" else None
                return _babel_format(path, fmt, value, currency, ctx.language)
            except MessageError:
                pass  # let the uncached call below raise with this message's kind, relation and loc
    return _clean_value(format_value(ctx, path, fmt, slot.get("loc")))


_Piece = tuple[bytes, int, int, bool]  # (quoted-printable, first line length, last line length, has CRLF)


class _Body:
    """A pre-split body (PARTS) prepared once per template for the fast path.

    Every literal is quoted-printable-encoded once; a message's body is then the join of those
    pieces with its encoded values, without encoding 13 KB of HTML again for every message.
    Pieces are joined on one line while it stays within quoted-printable's 76 columns, else
    after a soft line break (`=` CRLF), which decoders remove.
    """

    def __init__(self, parts: list[Any]) -> None:
        self.parts = parts
        self.slots: list[dict[str, Any]] = []
        self.pieces: list[_Piece | int] = []  # a literal piece, or the index of a distinct slot
        self.order: list[str | int] = []  # the same with the literals as text
        self._url_starts: list[int] | None = None
        index: dict[tuple[str, str | None], int] = {}
        for part in parts:
            if isinstance(part, str):
                self.pieces.append(_qp_piece(part))
                self.order.append(part)
                continue
            key = (part["path"], part.get("format"))
            if key not in index:
                index[key] = len(self.slots)
                self.slots.append(part)
            self.pieces.append(index[key])
            self.order.append(index[key])
        if not parts or not isinstance(parts[-1], str) or not parts[-1].endswith("\n"):
            self.pieces.append(_qp_piece("\n"))  # bodies end with a line end, as `set_content` does

    def url_starts(self) -> list[int]:
        """Positions in `order` of the slots that begin a URL attribute (`href="{{ ... }}`).

        A property of the template alone, so it is worked out once per template.
        """
        if self._url_starts is None:
            starts: list[int] = []
            previous = ""
            for index, part in enumerate(self.order):
                if isinstance(part, str):
                    previous = part
                    continue
                # Only the literal's end matters; a short tail keeps this cheap on 13 KB of HTML.
                if _URL_ATTRIBUTE.search(previous[-64:]) is not None:
                    starts.append(index)
                previous = ""
            self._url_starts = starts
        return self._url_starts

    def values(self, ctx: Any) -> list[str]:
        """The text of each distinct slot for one message."""
        return [_value(ctx, slot) for slot in self.slots]

    def text(self, values: list[str]) -> str:
        """The decoded body, LF line ends: literals and values (already HTML-escaped for HTML parts)."""
        out = [part if isinstance(part, str) else values[part] for part in self.order]
        return _normal_body("".join(out))

    def encoded(self, values: list[str]) -> bytes:
        """The quoted-printable body, CRLF line ends."""
        encoded = [_qp_value(v) for v in values]
        out: list[bytes] = []
        column = 0
        for piece in self.pieces:
            data, first, last, multiline = encoded[piece] if isinstance(piece, int) else piece
            if not data:
                continue
            # 75, not 76: the line may still need the `=` of a soft break after this piece.
            if column and column + first > 75:
                out.append(b"=\r\n")
                column = 0
            out.append(data)
            column = last if multiline else column + last
        return b"".join(out)


def _qp_piece(text: str) -> _Piece:
    """One piece of a body as quoted-printable (CRLF line ends) with its line lengths."""
    # Most values (numbers, dates, plain names) are their own quoted-printable: skip the codec.
    # (b2a_qp encodes a lone "." too: a line of just "." would end the SMTP data.)
    if len(text) < 76 and text.isascii() and text.isprintable() and "=" not in text and text[-1:] != " ":
        if text == ".":
            return b"=2E", 3, 3, False
        plain = text.encode("ascii")
        return plain, len(plain), len(plain), False
    data = binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")
    end = data.find(b"\r\n")
    if end < 0:
        return data, len(data), len(data), False
    return data, end, len(data) - data.rfind(b"\r\n") - 2, True


# Slot values repeat across a bulk run (the firm's name, dates, amounts): encoded once each.
_qp_value = lru_cache(maxsize=8192)(_qp_piece)

_BODIES: dict[int, _Body] = {}
_NO_PARTS: list[Any] = []  # the body of a kind without a template


def _body(parts: list[Any]) -> _Body:
    """The prepared form of PARTS, cached for the life of the table that holds them."""
    cached = _BODIES.get(id(parts))
    if cached is None or cached.parts is not parts:
        if len(_BODIES) > 256:
            _BODIES.clear()
        cached = _BODIES[id(parts)] = _Body(parts)
    return cached


@dataclass(frozen=True)
class _Filled:
    """Both bodies of a message, as prepared bodies plus this message's slot values."""

    text: _Body
    text_values: list[str]
    html: _Body | None
    html_values: list[str]
    attachment: Attachment | None


# A slot whose value starts a URL attribute (MJML writes every attribute as `name="value"`).
_URL_ATTRIBUTE = re.compile(
    r"""\b(?:href|src|action|formaction|background|poster|cite|xlink:href)\s*=\s*["']?\Z""", re.IGNORECASE
)
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_SAFE_SCHEMES = frozenset({"http", "https", "mailto", "tel"})


def _refuse_unsafe_links(body: _Body, values: list[str], envelope: Envelope) -> None:
    """MessageError when data values start a link with a scheme other than http(s), mailto or tel.

    HTML-escaping does not defuse `javascript:alert(1)` typed into a relation's attributes and
    filled into `href="{{ ... }}"` (issue 8): the message is refused, naming the placeholder.
    The start of the attribute is read as browsers do (tabs and line breaks dropped, leading
    spaces and controls trimmed), across consecutive slots (`{{ a }}{{ b }}`).
    """
    order = body.order  # literals as text, slots as the index of their value
    for index in body.url_starts():
        part = order[index]
        assert isinstance(part, int)
        lead: list[str] = []
        for later in order[index:]:
            if isinstance(later, str):
                lead.append(re.split(r"[\"'\s>]", later, maxsplit=1)[0])
                break
            lead.append(values[later])
        text = re.sub(r"[\t\n\r]", "", "".join(lead)).lstrip("".join(map(chr, range(0x21))))
        scheme = _URL_SCHEME.match(text)
        if scheme is not None and scheme.group(1).lower() not in _SAFE_SCHEMES:
            slot = body.slots[part]
            raise MessageError(
                f"'{slot['path']}' would make a '{scheme.group(1).lower()}:' link in the template; "
                "only http, https, mailto and tel links are filled in",
                kind=envelope.kind,
                relation=envelope.relation,
                document=envelope.document,
                loc=slot.get("loc"),
            )


def _fill(table: Any, data: Any, envelope: Envelope) -> _Filled:
    if envelope.template is None:
        text, text_values, html, html_values = _body(_NO_PARTS), [], None, []
    else:
        entry = table.templates.get(envelope.template)
        if entry is None:
            raise _error(envelope, f"template '{envelope.template}' is not in the rule table")
        # The context resolve_message already built for this envelope, when it has one.
        ctx = envelope.context_for(table, data) or message_context(
            table, data, envelope.relation, envelope.document, envelope.sender, kind=envelope.kind
        )
        # HTML first: its slots come in template order, so a missing value is reported at the
        # first placeholder of the file that needs it.
        html = _body(entry["html"])
        raw_html_values = html.values(ctx)
        _refuse_unsafe_links(html, raw_html_values, envelope)
        # HTML-escaped exactly as `fill_parts(..., html=True)` does, attribute quotes included.
        html_values = [html_module.escape(v, quote=True) for v in raw_html_values]
        text = _body(entry["text"])
        # The text part's slots are mostly the HTML's: each value is formatted once per message.
        known = {
            (slot["path"], slot.get("format")): v for slot, v in zip(html.slots, raw_html_values, strict=True)
        }
        text_values = [
            known[key] if (key := (slot["path"], slot.get("format"))) in known else _value(ctx, slot)
            for slot in text.slots
        ]
    attachment = _read_attachment(envelope) if envelope.attach is not None else None
    return _Filled(text, text_values, html, html_values, attachment)


def message_content(table: Any, data: Any, envelope: Envelope) -> Content:
    """The filled bodies (LF line ends) and the attachment of one message.

    MessageError when a value is missing. A kind without a template gets an empty text body.
    """
    filled = _fill(table, data, envelope)
    html = None if filled.html is None else filled.html.text(filled.html_values)
    return Content(filled.text.text(filled.text_values), html, filled.attachment)


def _read_attachment(envelope: Envelope) -> Attachment:
    path = Path(str(envelope.attach))
    try:
        content = _read_regular_file(str(path))
    except OSError as exc:
        raise _error(envelope, f"cannot attach {path}: {exc.strerror or exc}") from None
    mime, _ = mimetypes.guess_type(path.name)
    maintype, _, subtype = (mime or "application/octet-stream").partition("/")
    return Attachment(path.name, maintype, subtype, content)


def _read_regular_file(path: str) -> bytes:
    """The bytes of the regular file at PATH, an absolute path with no symbolic link in it.

    The data loader resolved PATH inside the data file's folder; between then and now a file
    (or a folder on the way) may have been swapped for a symbolic link leading out, or for a FIFO
    that would block. So: no link followed at the last step (O_NOFOLLOW), no waiting on a FIFO
    (O_NONBLOCK), a regular file only, and the file actually opened must still be PATH itself,
    as the kernel names it (`/proc/self/fd`; where that is missing, `os.path.realpath` before
    the open).
    """
    if not os.path.isabs(path):
        raise OSError(errno.EINVAL, "not an absolute path")
    proc = os.path.isdir("/proc/self/fd")
    if not proc and os.path.realpath(path) != path:
        raise OSError(errno.ELOOP, "the path now goes through a symbolic link")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, "the file is now a symbolic link") from None
        raise
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if proc and os.readlink(f"/proc/self/fd/{fd}") != path:
            raise OSError(errno.ELOOP, "the path now goes through a symbolic link")
        return f.read()


def _headers_values(
    table: Any, envelope: Envelope, clock: Clock | None, make_id: MakeId | None
) -> tuple[str, str, str, list[str], list[str], list[str], str, str, str]:
    """(from name, from, subject, to, cc, reply_to, date, message id, mail from) for both paths."""
    from_address = ascii_address(envelope.from_address, envelope)
    to = [ascii_address(a, envelope) for a in envelope.to]
    cc = [ascii_address(a, envelope) for a in envelope.cc]
    reply_to = [ascii_address(a, envelope) for a in envelope.reply_to]
    for address in envelope.bcc:  # never in a header, but in RCPT TO: the same check
        ascii_address(address, envelope)
    now = (clock or _now)()
    local_id = (make_id or _new_id)()
    message_id = f"{clean_header_text(local_id).replace(' ', '')}@{message_domain(table, from_address)}"
    return (
        clean_header_text(envelope.from_name),
        from_address,
        clean_header_text(envelope.subject),
        to,
        cc,
        reply_to,
        _date_header(now.replace(microsecond=0)),
        message_id,
        from_address,
    )


@lru_cache(maxsize=8)
def _date_header(now: datetime) -> str:
    """The Date header's text (whole seconds): a bulk run writes many messages per second."""
    return format_datetime(now)


def _now() -> datetime:
    return datetime.now(UTC).astimezone()


def _new_id() -> str:
    return uuid.uuid4().hex


def recipients_of(envelope: Envelope) -> tuple[str, ...]:
    """To + CC + BCC in that order, each address once (compared case-insensitively)."""
    seen: set[str] = set()
    out: list[str] = []
    for address in (*envelope.to, *envelope.cc, *envelope.bcc):
        key = address_key(address)
        if key not in seen:
            seen.add(key)
            out.append(address)
    return tuple(out)


# --- the fast path -------------------------------------------------------------------------------


def _encoded_words(text: str) -> list[str]:
    """TEXT as RFC 2047 "B" encoded-words of at most 42 UTF-8 bytes, never splitting a character."""
    data = text.encode("utf-8")
    words: list[str] = []
    start = 0
    while start < len(data):
        end = min(start + _WORD_BYTES, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # inside a multi-byte character
            end -= 1
        words.append(_b_bytes(data[start:end]))
        start = end
    return words


def _b_bytes(data: bytes) -> str:
    return "=?utf-8?b?" + binascii.b2a_base64(data, newline=False).decode("ascii") + "?="


def _b_word(text: str) -> str:
    return _b_bytes(text.encode("utf-8"))


def _fold(name: str, tokens: Sequence[str], sep: str) -> str:
    """`Name: tok1<sep>tok2...`, folded before a token that would pass 78 columns.

    Folding puts CRLF before the white space that SEP ends with, so unfolding (removing the
    CRLF) gives back exactly the unfolded line.
    """
    line = f"{name}: {tokens[0]}"
    lines: list[str] = []
    for token in tokens[1:]:
        if len(line) + len(sep) + len(token) > _LINE:
            lines.append(line + sep.rstrip(" "))
            line = " " + token
        else:
            line += sep + token
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"


@lru_cache(maxsize=1024)
def _unstructured(name: str, value: str) -> str:
    """A Subject-like header: plain folded ASCII when safe, else encoded-words one per line."""
    words = value.split(" ")
    if value.isascii() and "=?" not in value and max(map(len, words)) < _LINE - len(name) - 2:
        return _fold(name, words, " ")
    # Encoded-words separated by folding white space decode back to exactly TEXT (RFC 2047 6.2).
    return f"{name}: " + "\r\n ".join(_encoded_words(value)) + "\r\n"


@lru_cache(maxsize=1024)
def _display_name(name: str) -> tuple[str, ...]:
    """A From display name as header tokens: atoms, a quoted string, or atoms and encoded-words.

    Python's parser keeps the white space between two encoded-words of a phrase, where RFC 2047
    says to drop it; so each run of words that needs encoding becomes a single encoded-word
    (spaces inside it), and encoded-words are only ever next to plain atoms. That keeps one
    reading for every parser, at the price of an encoded-word longer than RFC 2047's 75
    characters for a very long run of non-ASCII words (only past 600 bytes is a run split).
    """
    if not name:
        return ()
    if name.isascii() and "=?" not in name and len(name) <= 900:
        if _ATOM_PHRASE.fullmatch(name):
            return (name,)
        return ('"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"',)
    tokens: list[str] = []
    run: list[str] = []
    for word in name.split(" "):
        if word and word.isascii() and "=?" not in word and _ATOM_PHRASE.fullmatch(word):
            if run:
                tokens.extend(_long_words(" ".join(run)))
                run = []
            tokens.append(word)
        else:
            run.append(word)
    if run:
        tokens.extend(_long_words(" ".join(run)))
    return tuple(tokens)


def _long_words(text: str) -> list[str]:
    if len(text.encode("utf-8")) <= 600:
        return [_b_word(text)]
    return _encoded_words(text)


@lru_cache(maxsize=64)
def _skeleton(shape: tuple[bool, str | None]) -> tuple[bytes, ...]:
    """The fixed MIME framing of one message shape (HTML or not, attachment type or none).

    Returns the byte chunks between which the encoded bodies go, in the order text, html,
    attachment (those present).
    """
    has_html, attachment_type = shape
    text_headers = (
        'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n'
    )
    html_headers = (
        'Content-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n'
    )
    alt: list[str]
    if has_html:
        alt = [
            f'Content-Type: multipart/alternative; boundary="{_ALT_BOUNDARY}"\r\n\r\n'
            f"--{_ALT_BOUNDARY}\r\n{text_headers}\r\n",
            f"\r\n--{_ALT_BOUNDARY}\r\n{html_headers}\r\n",
            f"\r\n--{_ALT_BOUNDARY}--\r\n",
        ]
    else:
        alt = [f"{text_headers}\r\n", ""]
    chunks: tuple[str, ...]
    if attachment_type is None:
        chunks = ("MIME-Version: 1.0\r\n" + alt[0], *alt[1:])
    else:
        head = f'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="{_MIXED_BOUNDARY}"\r\n\r\n'
        part = (
            f"\r\n--{_MIXED_BOUNDARY}\r\n"
            f"Content-Type: {attachment_type}\r\nContent-Transfer-Encoding: base64\r\n"
        )
        if has_html:
            chunks = (head + f"--{_MIXED_BOUNDARY}\r\n" + alt[0], alt[1], alt[2] + part)
        else:
            chunks = (head + f"--{_MIXED_BOUNDARY}\r\n" + alt[0], part)
        chunks = (*chunks, f"\r\n--{_MIXED_BOUNDARY}--\r\n")
    return tuple(c.encode("ascii") for c in chunks)


def _base64_lines(data: bytes) -> bytes:
    encoded = binascii.b2a_base64(data, newline=False)
    return b"\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


def _disposition(filename: str) -> str:
    """Content-Disposition with the file name, RFC 2231-encoded when it is not plain ASCII."""
    if filename.isascii() and filename.isprintable() and '"' not in filename and "\\" not in filename:
        return f'Content-Disposition: attachment; filename="{filename}"\r\n'
    from urllib.parse import quote

    return f"Content-Disposition: attachment;\r\n filename*=utf-8''{quote(filename, safe='')}\r\n"


def compose_message(
    table: Any,
    data: Any,
    envelope: Envelope,
    *,
    clock: Clock | None = None,
    make_id: MakeId | None = None,
) -> ComposedMessage:
    """The message of ENVELOPE as SMTP-ready bytes (the fast path); MessageError when it cannot be built.

    CLOCK gives the Date and MAKE_ID the left part of the Message-ID (injectable for snapshots).
    """
    filled = _fill(table, data, envelope)
    name, from_address, subject, to, cc, reply_to, date, message_id, mail_from = _headers_values(
        table, envelope, clock, make_id
    )
    head = _fold("From", [*_display_name(name), f"<{from_address}>"], " ")
    if to:
        head += _fold("To", to, ", ")
    if cc:
        head += _fold("Cc", cc, ", ")
    if reply_to:
        head += _fold("Reply-To", reply_to, ", ")
    head += _unstructured("Subject", subject)
    head += f"Date: {date}\r\nMessage-ID: <{message_id}>\r\n"

    attachment = filled.attachment
    attachment_type = None if attachment is None else f"{attachment.maintype}/{attachment.subtype}"
    chunks = _skeleton((filled.html is not None, attachment_type))
    out = [head.encode("ascii"), chunks[0], filled.text.encoded(filled.text_values)]
    i = 1
    if filled.html is not None:
        out += [chunks[i], filled.html.encoded(filled.html_values)]
        i += 1
    if attachment is not None:
        out += [
            chunks[i],
            _disposition(attachment.filename).encode("ascii"),
            b"\r\n",
            _base64_lines(attachment.data),
        ]
        i += 1
    out.append(chunks[i])
    return ComposedMessage(
        envelope=envelope,
        message_id=message_id,
        mail_from=mail_from,
        recipients=recipients_of(envelope),
        data=b"".join(out),
    )


# --- the standard-library path -------------------------------------------------------------------

# SMTP's CRLF policy, folding only past RFC 5322's hard limit of 998 characters: at 78 columns
# the stdlib splits a long non-ASCII display name into adjacent encoded-words, and its own parser
# then reads them back with a space between (it keeps the white space RFC 2047 says to drop), so
# "日本" would come back as "日 本". Unfolded, the run stays one encoded-word, as in the fast path.
MESSAGE_POLICY = email.policy.SMTP.clone(max_line_length=998)


def build_email_message(
    table: Any,
    data: Any,
    envelope: Envelope,
    *,
    clock: Clock | None = None,
    make_id: MakeId | None = None,
) -> EmailMessage:
    """The same message as `compose_message`, built with `email.message.EmailMessage`.

    For services that want to adjust the message before sending; serialise it with
    `msg.as_bytes()` (its policy, `MESSAGE_POLICY`: CRLF line ends). It has no Bcc header: send
    it to `recipients_of(envelope)`.
    """
    from email.headerregistry import Address

    content = message_content(table, data, envelope)
    name, from_address, subject, to, cc, reply_to, date, message_id, _ = _headers_values(
        table, envelope, clock, make_id
    )
    msg = EmailMessage(policy=MESSAGE_POLICY)
    local, _, domain = from_address.rpartition("@")
    # Python's email package (3.11.7 at least) decodes an encoded-word typed into a display name
    # or subject when the header is set, and writes the decoded bytes back raw: a relation named
    # `=?utf-8?q?a=0ABcc:_x@evil?=` would add a Bcc header. Such text is stored pre-encoded,
    # exactly as the fast path writes it (set_raw is never re-parsed on output; lines are short).
    if "=?" in name:
        msg.set_raw("From", _fold("From", [*_display_name(name), f"<{from_address}>"], " ")[6:-2])
    else:
        msg["From"] = Address(display_name=name, username=local, domain=domain)
    if to:
        msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    if reply_to:
        msg["Reply-To"] = ", ".join(reply_to)
    if "=?" in subject:
        msg.set_raw("Subject", _unstructured("Subject", subject)[9:-2])  # see the From header above
    else:
        msg["Subject"] = subject
    msg["Date"] = date
    msg["Message-ID"] = f"<{message_id}>"
    msg.set_content(content.text, cte="quoted-printable")
    if content.html is not None:
        msg.add_alternative(content.html, subtype="html", cte="quoted-printable")
    if content.attachment is not None:
        a = content.attachment
        msg.add_attachment(a.data, maintype=a.maintype, subtype=a.subtype, filename=a.filename)
    return msg


render_message = build_email_message
"""The name docs/ARCHITECTURE.md gives the stdlib path in the runtime's API."""

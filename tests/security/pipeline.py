"""Helpers for the security tests: a rule table and a data file through resolve and both message paths.

The tables are hand-written in the compiler's format (tests/runtime/tables.py) so that these tests
exercise the runtime exactly as a sending service does: table + data → envelope → bytes.
"""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from mailpolicy.runtime.data import Dataset, load_data
from mailpolicy.runtime.message import build_email_message, compose_message, recipients_of
from mailpolicy.runtime.resolve import Envelope
from mailpolicy.runtime.table import RuleTable, load_table
from tests.runtime.tables import Rule, make_table


def load(
    folder: Path, data: dict[str, Any], rules: Sequence[Rule] = (), **table: Any
) -> tuple[RuleTable, Dataset]:
    """The rule table of RULES and the data file DATA (written as JSON, so any character can be in it)."""
    path = folder / "data.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return load_table(make_table(rules, **table)), load_data(path)


@dataclass(frozen=True)
class Produced:
    """One message as a path produced it: the bytes, parsed back, and its SMTP envelope recipients."""

    path: str
    raw: bytes
    parsed: EmailMessage
    recipients: tuple[str, ...]


def both_paths(table: RuleTable, data: Dataset, envelope: Envelope) -> list[Produced]:
    """The message of ENVELOPE from the fast composer and from the stdlib path, each parsed back."""
    composed = compose_message(table, data, envelope)
    stdlib = build_email_message(table, data, envelope).as_bytes()  # its own policy: CRLF
    out = []
    for label, raw, recipients in (
        ("fast", composed.data, composed.recipients),
        ("stdlib", stdlib, recipients_of(envelope)),
    ):
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        out.append(Produced(label, raw, parsed, recipients))
    return out


BASE_HEADERS = {"From", "To", "Reply-To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"}


def header_names(message: EmailMessage) -> list[str]:
    """Every top-level header name, in order (duplicates kept)."""
    return list(message.keys())


def addresses(message: EmailMessage, name: str) -> list[str]:
    """The bare addresses of an address header as a reader's mail client sees them."""
    header = message[name]
    if header is None:
        return []
    return [a.addr_spec for a in header.addresses]


def assert_exact_headers(produced: Produced, envelope: Envelope) -> None:
    """No header or recipient beyond what the validated envelope holds (To, Cc, From, Reply-To; no Bcc)."""
    message = produced.parsed
    names = header_names(message)
    expected = set(BASE_HEADERS) | {"Content-Transfer-Encoding"} | ({"Cc"} if envelope.cc else set())
    assert len(names) == len(set(names)), (produced.path, names)
    assert set(names) <= expected, (produced.path, names)
    assert message["Bcc"] is None
    assert not message.defects, (produced.path, message.defects)
    assert addresses(message, "To") == envelope.to
    assert addresses(message, "Cc") == envelope.cc
    assert addresses(message, "Reply-To") == envelope.reply_to
    assert addresses(message, "From") == [envelope.from_address]
    seen: list[str] = []
    for address in [*envelope.to, *envelope.cc, *envelope.bcc]:
        if address.casefold() not in [s.casefold() for s in seen]:
            seen.append(address)
    assert list(produced.recipients) == seen

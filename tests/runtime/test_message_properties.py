"""Property: the fast MIME path and the stdlib EmailMessage path parse back to the same message."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailpolicy.runtime.data import Dataset
from mailpolicy.runtime.message import build_email_message, compose_message
from mailpolicy.runtime.table import RuleTable, load_table
from tests.runtime.tables import make_table
from tests.runtime.test_message import CLOCK, MAKE_ID, compiled, dataset, envelope

# Names and subjects: accents, CJK, emoji, RFC 5322 specials, quotes, `=?` look-alikes, control
# characters and line separators (which must be cleaned the same way on both paths).
_ALPHABET = st.sampled_from(
    list("abcXYZ019 .,;:@<>()[]\"'\\&éèàüßñçœ€—–’")
    + ["日本", "😀", "=?", "?=", "\r\n", "\t", "\u2028", "\x85"]
)
text = st.lists(_ALPHABET, max_size=40).map("".join)
long_text = st.lists(_ALPHABET, max_size=120).map("".join)
addresses = st.lists(
    st.sampled_from(
        [
            "compta@garage-martin.be",
            "a.very.long.local.part.for.folding@some-long-domain-name.example",
            "x@bücher.example",
            "jan@dupont-associes.be",
            "b@x.be",
        ]
    ),
    max_size=4,
    unique=True,
)

_TABLE: RuleTable | None = None


def table() -> RuleTable:
    """One table for all examples (hypothesis runs the test body many times)."""
    global _TABLE
    if _TABLE is None:
        raw = make_table()
        raw["templates"] = {"templates/invoice.mjml": compiled("invoice.mjml")}
        _TABLE = load_table(raw)
    return _TABLE


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def leaves(msg: Message) -> list[tuple[str, str | None, str | None, Any]]:
    return [
        (part.get_content_type(), part.get_content_charset(), part.get_filename(), part.get_content())  # type: ignore[attr-defined]
        for part in msg.walk()
        if not part.is_multipart()
    ]


def headers(msg: Message) -> list[tuple[str, str]]:
    # Content-Type differs only by its boundary parameter: compared through the parts' types.
    # The order of headers carries no meaning; their names and values do.
    return sorted((name, str(msg[name])) for name in msg.keys() if name != "Content-Type")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    from_name=text,
    subject=long_text,
    relation_name=text,
    cc=addresses,
    bcc=addresses,
    reply_to=addresses,
    with_template=st.booleans(),
    with_attachment=st.booleans(),
    platform_sender=st.booleans(),
)
def test_fast_and_stdlib_paths_agree(
    tmp_path_factory: Any,
    from_name: str,
    subject: str,
    relation_name: str,
    cc: list[str],
    bcc: list[str],
    reply_to: list[str],
    with_template: bool,
    with_attachment: bool,
    platform_sender: bool,
) -> None:
    """GIVEN any relation and header values WHEN both paths build the message THEN the standard
    parser reads back the same headers, parts and decoded bodies, without defects."""
    tmp: Path = tmp_path_factory.mktemp("att") if with_attachment else Path()
    data: Dataset = dataset(tmp if with_attachment else None, name=relation_name or "R")
    env = envelope(
        data,
        from_name=from_name,
        subject=subject,
        cc=cc,
        bcc=bcc,
        reply_to=reply_to,
        template="templates/invoice.mjml" if with_template else None,
        from_address="inbox@mailer.example" if platform_sender else "noreply@dupont-associes.be",
    )
    fast = compose_message(table(), data, env, clock=CLOCK, make_id=MAKE_ID)
    slow = build_email_message(table(), data, env, clock=CLOCK, make_id=MAKE_ID)
    a, b = parse(fast.data), parse(slow.as_bytes())
    assert [d for p in a.walk() for d in p.defects] == []
    assert headers(a) == headers(b)
    assert [p.get_content_type() for p in a.walk()] == [p.get_content_type() for p in b.walk()]
    assert leaves(a) == leaves(b)
    assert "Bcc" not in a
    # Every line of the fast path is CRLF-terminated and within RFC 5322's 998 characters.
    lines = fast.data.split(b"\r\n")
    assert b"\n" not in fast.data.replace(b"\r\n", b"")
    assert max(map(len, lines)) <= 998

"""Header injection: hostile display names, subjects and addresses, through BOTH message paths.

Each message is parsed back with `email.message_from_bytes(policy=email.policy.default)` (what a
receiving mail client does) and must hold exactly the headers and addresses of the validated
envelope; the SMTP envelope recipients must equal To + CC + BCC.
"""

from __future__ import annotations

import email
import email.policy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailpolicy.runtime.errors import MessageError
from mailpolicy.runtime.message import build_email_message, clean_header_text, compose_message
from mailpolicy.runtime.resolve import resolve_message
from mailpolicy.runtime.send import RetryPolicy, Sender, Status
from mailpolicy.runtime.smtp_settings import SmtpSettings
from tests.runtime.tables import Rule, free, role, src
from tests.security.pipeline import addresses, assert_exact_headers, both_paths, load
from tests.smtp_server import TestServer

RULES = [
    Rule("from_name", "{{ sender.name }}"),
    Rule("subject", "Re {{ relation.name }}"),
    Rule("cc", role("responsible")),
    Rule("bcc", free("office@firm.be")),
]

# value typed into a name in the data → what a reader sees in the header, exactly.
HOSTILE_TEXT = [
    ("crlf", "x\r\nBcc: evil@evil.example", "x Bcc: evil@evil.example"),
    ("lf", "x\nBcc: evil@evil.example", "x Bcc: evil@evil.example"),
    ("cr", "x\rBcc: evil@evil.example", "x Bcc: evil@evil.example"),
    ("nul", "x\x00Bcc: evil@evil.example", "x Bcc: evil@evil.example"),
    ("u2028", "x\u2028Bcc: evil@evil.example", "x Bcc: evil@evil.example"),
    ("nel", "x\u0085Bcc: evil@evil.example", "x Bcc: evil@evil.example"),
    ("header-end", "x\r\n\r\n<script>", "x <script>"),
    ("q-word", "=?utf-8?q?a=0ABcc:_x@evil?=", "=?utf-8?q?a=0ABcc:_x@evil?="),
    ("b-word", "=?utf-8?b?YQpCY2M6IHhAZXZpbA==?=", "=?utf-8?b?YQpCY2M6IHhAZXZpbA==?="),
    ("q-word-inside", "Re: =?utf-8?q?=0D=0ABcc:_x@evil?= ok", "Re: =?utf-8?q?=0D=0ABcc:_x@evil?= ok"),
    ("looks-like-address", "boss@bank.example", "boss@bank.example"),
    ("name-and-address", '"Boss" <boss@bank.example>', '"Boss" <boss@bank.example>'),
    ("paren-trick", "alice@example.org)<bob@evil.com", "alice@example.org)<bob@evil.com"),
    ("comma-list", "a@x.example, b@evil.example", "a@x.example, b@evil.example"),
]


def _data(name: str, emails: list[str] | None = None) -> dict[str, Any]:
    """A data file whose user `jan` and relation `R1` are both called NAME."""
    return {
        "users": [{"id": "jan", "name": name, "email": "jan@dupont-associes.be"}],
        "relations": [
            {
                "id": "R1",
                "name": name,
                "emails": emails if emails is not None else ["compta@client.be"],
                "roles": {"responsible": "jan"},
            }
        ],
    }


@pytest.mark.parametrize(("value", "shown"), [c[1:] for c in HOSTILE_TEXT], ids=[c[0] for c in HOSTILE_TEXT])
def test_hostile_display_name_and_subject_are_neutralised(tmp_path: Path, value: str, shown: str) -> None:
    """GIVEN a sender name and relation name with line breaks or encoded-word tricks
    WHEN the message is built by either path and parsed back
    THEN the display name and subject read exactly as neutralised text, and no header is added."""
    table, data = load(tmp_path, _data(value), RULES)
    envelope = resolve_message(table, data, kind="general", relation="R1", sender="jan")
    for produced in both_paths(table, data, envelope):
        assert_exact_headers(produced, envelope)
        message = produced.parsed
        assert str(message["Subject"]) == f"Re {shown}", produced.path
        (sender,) = message["From"].addresses
        assert (sender.display_name, sender.addr_spec) == (shown, "inbox@mailer.example"), produced.path
        assert addresses(message, "To") == ["compta@client.be"]
        assert addresses(message, "Cc") == ["jan@dupont-associes.be"]
        assert list(produced.recipients) == ["compta@client.be", "jan@dupont-associes.be", "office@firm.be"]


def _address_255() -> str:
    """A syntactically fine address of 255 octets (RFC 5321 allows 254)."""
    local = "a" * 64
    labels = ["b" * 60, "c" * 60, "d" * 60]
    domain = ".".join(labels) + "." + "e" * (255 - len(local) - 1 - len(".".join(labels)) - 1)
    address = f"{local}@{domain}"
    assert len(address) == 255
    return address


HOSTILE_ADDRESSES = [
    ("paren-trick", "alice@example.org)<bob@evil.com"),
    ("angle-form", "Bob <bob@evil.com>"),
    ("comma-in-one-item", "x@client.be, y@evil.com"),
    ("semicolon", "x@client.be; y@evil.com"),
    ("crlf", "x@client.be\r\nBcc: y@evil.com"),
    ("nul", "x@client.be\x00y@evil.com"),
    ("u2028", "x@client.be\u2028Bcc: y@evil.com"),
    ("local-65", "a" * 65 + "@client.be"),
    ("address-255", _address_255()),
    ("encoded-word", "=?utf-8?q?x=0ABcc:_y@evil.com?=@client.be"),
    ("quoted-local", '"x@evil.com"@client.be'),
    ("ip-literal", "x@[127.0.0.1]"),
]


@pytest.mark.parametrize("hostile", [c[1] for c in HOSTILE_ADDRESSES], ids=[c[0] for c in HOSTILE_ADDRESSES])
def test_hostile_address_in_data_never_reaches_a_header_or_the_envelope(tmp_path: Path, hostile: str) -> None:
    """GIVEN a relation whose `emails` list holds one good and one hostile item
    WHEN the message is built THEN only the good address is in To and in the SMTP envelope,
    and the hostile item is reported as skipped."""
    table, data = load(tmp_path, _data("Garage", ["good@client.be", hostile]), RULES)
    envelope = resolve_message(table, data, kind="general", relation="R1", sender="jan")
    assert envelope.to == ["good@client.be"]
    assert any(repr(hostile) in w and w.endswith("skipped") for w in envelope.warnings), envelope.warnings
    for produced in both_paths(table, data, envelope):
        assert_exact_headers(produced, envelope)
        assert b"evil" not in produced.raw
        assert list(produced.recipients) == ["good@client.be", "jan@dupont-associes.be", "office@firm.be"]


@pytest.mark.parametrize("hostile", [c[1] for c in HOSTILE_ADDRESSES], ids=[c[0] for c in HOSTILE_ADDRESSES])
def test_hostile_send_time_recipient_is_skipped(tmp_path: Path, hostile: str) -> None:
    """GIVEN a hostile address given at send time (`--recipient`) WHEN a welcome is resolved
    THEN it is skipped with a warning and only the valid recipient is addressed."""
    table, data = load(tmp_path, _data("Garage"), [Rule("welcome.from", src("company"))])
    envelope = resolve_message(
        table, data, kind="welcome", relation="R1", recipients=[hostile, "new.user@client.be"]
    )
    assert envelope.to == ["new.user@client.be"]
    assert any(repr(hostile) in w for w in envelope.warnings), envelope.warnings
    for produced in both_paths(table, data, envelope):
        assert_exact_headers(produced, envelope)
        assert b"evil" not in produced.raw


def test_list_items_are_never_split_but_a_string_is(tmp_path: Path) -> None:
    """GIVEN `emails` as one comma string WHEN loaded THEN it is split; GIVEN the same text as a list
    item THEN it is one invalid address (a comma list never hides inside one address)."""
    table, data = load(tmp_path, _data("Garage", "a@client.be, b@client.be"), RULES)  # type: ignore[arg-type]
    assert data.relations["R1"].emails == ["a@client.be", "b@client.be"]
    table, data = load(tmp_path, _data("Garage", ["a@client.be, b@client.be", "c@client.be"]), RULES)
    assert data.relations["R1"].emails == ["c@client.be"]


_TRICKY = st.sampled_from(
    [
        "\r",
        "\n",
        "\r\n",
        "\x00",
        "\u2028",
        "\u2029",
        "\x85",
        "\x0b",
        "\x0c",
        "=?",
        "?=",
        "=?utf-8?q?",
        "=0A",
        "=0D",
        "Bcc:",
        '"',
        "\\",
        "<",
        ">",
        "@",
        ",",
        ";",
        ":",
        "(",
        ")",
        " ",
        "\t",
        "é",
        "日本",
        "\U0001f600",
    ]
)
hostile_text = (
    st.lists(st.one_of(_TRICKY, st.text(max_size=6)), min_size=1, max_size=12)
    .map("".join)
    .filter(lambda s: s.strip() != "")
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=hostile_text, subject=hostile_text)
def test_any_text_in_names_and_subjects_adds_no_header(tmp_path: Path, name: str, subject: str) -> None:
    """GIVEN any text (line breaks, encoded-word pieces, quotes, non-ASCII) as sender and relation name
    WHEN built by either path and parsed back THEN exactly the envelope's headers and recipients,
    and display name and subject read back as the same one-line text in both paths."""
    table, data = load(tmp_path, {**_data(name), "relations": [{**_data(subject)["relations"][0]}]}, RULES)
    envelope = resolve_message(table, data, kind="general", relation="R1", sender="jan")
    shown = []
    for produced in both_paths(table, data, envelope):
        assert_exact_headers(produced, envelope)
        (sender,) = produced.parsed["From"].addresses
        text = str(produced.parsed["Subject"])
        assert not any(c in text + sender.display_name for c in "\r\n\x00\u2028\u2029\x85")
        shown.append((sender.display_name, text))
    # Readers may fold white space (a no-break space next to an encoded-word): compare the words.
    expected = (clean_header_text(envelope.from_name), clean_header_text(envelope.subject))
    words = [tuple(" ".join(t.split()) for t in pair) for pair in [*shown, expected]]
    assert words[0] == words[1] == words[2]


def test_over_real_smtp_the_envelope_is_exactly_the_validated_recipients(tmp_path: Path) -> None:
    """GIVEN hostile names and addresses in the data WHEN the composed message is sent to a real
    SMTP server THEN RCPT TO is exactly To + CC + BCC, and the delivered bytes hold no extra header."""
    hostile = "x\r\nBcc: evil@evil.example =?utf-8?q?a=0ABcc:_x@evil?="
    emails = [
        "good@client.be",
        "alice@example.org)<bob@evil.com",
        "x@client.be, y@evil.com",
        "Good@Client.be",
    ]
    table, data = load(tmp_path, _data(hostile, emails), RULES)
    envelope = resolve_message(table, data, kind="general", relation="R1", sender="jan")
    composed = compose_message(table, data, envelope)
    server = TestServer(tmp_path, security="none").start()
    try:
        settings = SmtpSettings("127.0.0.1", server.port, "none")
        with Sender(settings, retry=RetryPolicy(attempts=1), sleep=lambda _: None, timeout=10) as sender:
            outcome = sender.send_message(composed)
        assert outcome.status is Status.SENT, outcome.describe()
        (received,) = server.messages
    finally:
        server.stop()
    assert received.rcpt_tos == ["good@client.be", "jan@dupont-associes.be", "office@firm.be"]
    parsed = email.message_from_bytes(received.data, policy=email.policy.default)
    assert sorted(parsed.keys()) == sorted(
        [
            "From",
            "To",
            "Cc",
            "Reply-To",
            "Subject",
            "Date",
            "Message-ID",
            "MIME-Version",
            "Content-Type",
            "Content-Transfer-Encoding",
        ]
    )
    assert [a.addr_spec for a in parsed["To"].addresses] == ["good@client.be"]
    assert b"evil.com" not in received.data


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("to", "a@client.be\r\nBcc: evil@evil.example"),
        ("to", "a@client.be, evil@evil.example"),
        ("cc", "Evil <evil@evil.example>"),
        ("reply_to", "a@client.be\nX: y"),
        ("bcc", "a@client.be\r\nRCPT TO:<evil@evil.example>"),
        ("from_address", "inbox@mailer.example\r\nBcc: evil@evil.example"),
    ],
    ids=["to-crlf", "to-comma", "cc-display-name", "reply-to-lf", "bcc-smtp-command", "from-crlf"],
)
def test_a_hand_built_envelope_with_a_hostile_address_is_refused(
    tmp_path: Path, field: str, bad: str
) -> None:
    """GIVEN an Envelope built by hand (not by resolve_message) with a hostile address
    WHEN either path builds the message THEN MessageError: both paths re-check that every
    address is one bare address before it reaches a header or the SMTP envelope."""
    table, data = load(tmp_path, _data("Garage"), RULES)
    envelope = resolve_message(table, data, kind="general", relation="R1", sender="jan")
    value: Any = bad if field == "from_address" else [*getattr(envelope, field), bad]
    setattr(envelope, field, value)
    for make in (compose_message, build_email_message):
        with pytest.raises(MessageError) as info:
            make(table, data, envelope)
        assert str(info.value) == f"address {bad!r} is not one bare address"

"""The DATA payload's fast path gives exactly what the general substitutions give (hypothesis)."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from mailpolicy.runtime.send import _wire_data

# Line ends of every kind, dots and the characters around them.
PIECES = st.sampled_from([b"\r\n", b"\n", b"\r", b".", b"..", b"a", b" ", b"=", b"\xc3\xa9"])
DATA = st.lists(st.one_of(PIECES, st.binary(max_size=8)), max_size=40).map(b"".join)


def _general(data: bytes) -> bytes:
    """CRLF line ends, then a second dot at the start of every line: the substitutions it replaced."""
    data = re.sub(rb"(?m)^\.", b"..", re.sub(rb"\r\n|\n|\r", b"\r\n", data))
    return data if data.endswith(b"\r\n") else data + b"\r\n"


@settings(max_examples=3000)
@given(DATA)
@example(b"")
@example(b".")
@example(b".\r\n.\r\n")
@example(b"a\n.b\r.c\r\n..d")
@example(b"\r\r\n\n")
def test_wire_data_matches_the_general_substitutions(data: bytes) -> None:
    assert _wire_data(data) == _general(data)


def test_a_composed_message_is_dot_stuffed() -> None:
    """GIVEN a quoted-printable line starting with a dot WHEN sent THEN the dot is doubled."""
    assert _wire_data(b"Subject: x\r\n\r\nline\r\n.start\r\n") == b"Subject: x\r\n\r\nline\r\n..start\r\n"

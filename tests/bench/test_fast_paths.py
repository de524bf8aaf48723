"""The shortcuts added for speed give exactly what the general code gives (hypothesis).

Each shortcut skips work for the common case (a clean header, a value that is its own
quoted-printable, a free address or an MJML render already in the user cache); these tests
hold it to the slow path's result on generated input, the awkward characters included.
"""

from __future__ import annotations

import binascii

from hypothesis import example, given, settings
from hypothesis import strategies as st

from mailpolicy.runtime.message import _HEADER_CONTROLS, _SPACES, _qp_piece, clean_header_text

# Characters at the edges of each shortcut's condition: spaces of every kind, line breaks,
# controls, the quoted-printable specials, and plain and non-ASCII letters.
EDGES = st.sampled_from(
    [" ", "\t", "\n", "\r", "\x00", "\x7f", "\x85", "\xa0", "\u2028", "\u2029", "\u3000", "\u200b"]
    + ["=", ".", "a", "Z", "0", "é", "€", "日", "~", "&"]
)
TEXT = st.text(alphabet=st.one_of(EDGES, st.characters(codec="utf-8")), max_size=120)


def _slow_clean(text: str) -> str:
    return _SPACES.sub(" ", text.translate(_HEADER_CONTROLS)).strip()


def _slow_qp(text: str) -> tuple[bytes, int, int, bool]:
    data = binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")
    end = data.find(b"\r\n")
    if end < 0:
        return data, len(data), len(data), False
    return data, end, len(data) - data.rfind(b"\r\n") - 2, True


@settings(max_examples=3000)
@given(TEXT)
@example("  a  ")
@example("a\u2028b")
@example("\u3000a")
def test_clean_header_text_shortcut(text: str) -> None:
    assert clean_header_text(text) == _slow_clean(text)


@settings(max_examples=3000)
@given(TEXT)
@example(".")
@example("..")
@example("a ")
@example("a" * 75)
@example("a" * 76)
@example("a=b")
@example("a\t")
def test_quoted_printable_shortcut(text: str) -> None:
    assert _qp_piece(text) == _slow_qp(text)

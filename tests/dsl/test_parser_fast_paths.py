"""The parser's shortcuts for the common case give what its general code gives (hypothesis)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from lark import Token

from mailpolicy.dsl.parser import _cover, _decode_escaped, _decode_string, _tok_span, parse_policy

TEXT = st.text(st.characters(blacklist_characters='"\\\n\r'), max_size=40)


@given(TEXT, st.integers(1, 200), st.integers(1, 9))
def test_a_string_without_escapes_decodes_as_the_general_code_does(text: str, column: int, line: int) -> None:
    raw = f'"{text}"'
    tok = Token("STRING", raw, line=line, column=column, end_line=line, end_column=column + len(raw))
    fast, general = _decode_string("p.mail", tok), _decode_escaped("p.mail", tok)
    assert vars(fast) == vars(general)  # AST nodes compare by identity


@given(st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True), st.integers(1, 200), st.integers(1, 9))
def test_a_one_word_name_spans_as_covering_its_token_does(word: str, column: int, line: int) -> None:
    tok = Token("NAME", word, line=line, column=column, end_line=line, end_column=column + len(word))
    assert _tok_span("", tok) == _cover([tok])


def test_names_and_strings_keep_their_spans_in_a_parsed_policy() -> None:
    """End to end: a one-word source, a dotted name and an escaped string, their columns."""
    policy = parse_policy('reply_to = responsible else company\ninvoice.bcc = free "a\\"b@x.be"\n', "p.mail")
    reply, bcc = policy.statements[:2]
    assert (reply.target.span.line, reply.target.span.column, reply.target.span.end_column) == (1, 1, 9)
    assert bcc.target.parts == ("invoice", "bcc")
    assert (bcc.target.span.column, bcc.target.span.end_column) == (1, 12)

"""Property: no text, however broken, makes parsing or compiling raise; it yields diagnostics."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailpolicy.compiler import compile_text, dump_table

WORDS = [
    "firm",
    "role",
    "kind",
    "extends",
    "audience",
    "smtp",
    "env",
    "free",
    "else",
    "when",
    "and",
    "or",
    "not",
    "in",
    "true",
    "false",
    "sender",
    "company",
    "responsible",
    "invoice",
    "bcc",
    "cc",
    "to",
    "from",
    "reply_to",
    "subject",
    "template",
    "attach",
    "general",
    "none",
    "document",
    "relation",
    "amount",
    "family",
    "dunning_emails",
    "accepts_promotional",
    "attributes",
    "x",
    "host",
    "port",
    "password",
    "security",
    "tls",
    "name",
    "platform",
    "verified_domains",
    "notification",
    "failed_task",
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    ",",
    ".",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "\n",
    "\n",
    "\n",
    "#c",
    '"a@b.be"',
    '"{{ document.number }}"',
    '"{{ x"',
    '"fr"',
    '"templates/x.mjml"',
    "1",
    "-2.5",
    '"\\\\"',
    '"',
    "\\",
    "[nl]",
    "[xx]",
]

FIRM = (
    'firm {\n  name = "F"\n  company = "info@firm.be"\n  platform = "p@mailer.example"\n'
    '  verified_domains = ["firm.be"]\n}\n'
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(WORDS), max_size=40), st.booleans())
def test_token_soup_gives_diagnostics_not_exceptions(
    tmp_path: Path, words: list[str], with_firm: bool
) -> None:
    """GIVEN any sequence of the language's words WHEN compiled THEN a result, never an exception."""
    text = (FIRM if with_firm else "") + " ".join(words) + "\n"
    result = compile_text(text, "p.mail", policy_dir=tmp_path)
    if result.table is not None:
        assert result.ok
        dump_table(result.table)  # a table that compiles is always schema-valid
    else:
        assert result.errors


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
def test_arbitrary_text_gives_diagnostics_not_exceptions(tmp_path: Path, text: str) -> None:
    """Any Unicode text at all: a result with diagnostics located in the file."""
    result = compile_text(text, "p.mail", policy_dir=tmp_path)
    for diag in result.diagnostics:
        assert diag.span is not None and diag.span.line >= 1 and diag.span.column >= 1


KINDS = ["", "invoice.", "reminder.", "welcome.", "notification.failed_task.", "nope."]
FIELDS = ["from", "reply_to", "to", "cc", "bcc", "subject", "from_name", "template", "attach", "bc"]
TERMS = [
    "sender",
    "company",
    "from",
    "reply_to",
    "general",
    "none",
    "responsible",
    "tax_advisor",
    'free "a@firm.be"',
    'free "x@gmail.com"',
    'free "bad"',
    '"text {{ document.date | long }}"',
    "document.file",
    "document.dunning_emails",
    "(sender else company)",
    "sendr",
]
PATHS = [
    "document.amount",
    "document.date",
    "relation.family",
    "relation.accepts_promotional",
    "relation.emails",
    "relation.attributes.x",
    "sender.id",
    "document.nope",
]
LITERALS = ['"2026-01-01"', "10", "-1.5", "true", '"garage"', '["a", "b"]', "[1, 2]", '"a@b.be"']
OPS = ["==", "!=", "<", ">=", "in", "not in"]


@st.composite
def rules(draw: st.DrawFn) -> str:
    """One syntactically valid rule with random names, terms and condition."""
    target = draw(st.sampled_from(KINDS)) + draw(st.sampled_from(FIELDS))
    lang = draw(st.sampled_from(["", "[nl]", "[es]"]))
    terms = draw(st.lists(st.sampled_from(TERMS), min_size=1, max_size=3))
    joiner = draw(st.sampled_from([" else ", ", "]))
    rule = f"{target}{lang} = {joiner.join(terms)}"
    if draw(st.booleans()):
        left, op, right = (
            draw(st.sampled_from(PATHS)),
            draw(st.sampled_from(OPS)),
            draw(st.sampled_from(LITERALS)),
        )
        if draw(st.booleans()):
            left, right = right, left
        rule += f" when not ({left} {op} {right}) or {draw(st.sampled_from(PATHS))}"
    return rule


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(rules(), max_size=8))
def test_random_rules_compile_or_explain(tmp_path: Path, lines: list[str]) -> None:
    """Well-formed but random rules: either a schema-valid table or errors, never an exception."""
    text = FIRM + "role tax_advisor\n" + "\n".join(lines) + "\n"
    result = compile_text(text, "p.mail", policy_dir=tmp_path)
    if result.table is not None:
        dump_table(result.table)
    else:
        assert result.errors

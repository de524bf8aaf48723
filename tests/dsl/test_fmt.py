"""The formatter: canonical layout, comments kept, idempotence (property test), syntax errors refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailpolicy.compiler import compile_text
from mailpolicy.diagnostics import DiagnosticError
from mailpolicy.dsl.fmt import format_policy, unified_diff
from mailpolicy.dsl.parser import parse_policy

MESSY = """\


# Firm settings
firm {
  name = "Cabinet Dupont & Associés"   # display name
    company="info@dupont-associes.be"
  platform = "inbox@mailer.example"
  verified_domains = [ "dupont-associes.be" ]


  language = "fr" }
role tax_advisor   # extra role
kind credit_note   extends invoice
audience promo = relation.accepts_promotional and relation.family in ["garage",
  "leasing"]  # consent
bcc=sender
reply_to = responsible else company # replies
# between: a comment line ends a run of aligned rules
invoice.bcc = free "office@firm.be" when document.amount>=10000
invoice.subject[nl] = "Factuur {{document.number}} van {{ document.date|long }}"



reminder.to = ( recipient else document.dunning_emails
   # comment in parens
   else dunning ) , contact
"""

CANONICAL = """\
# Firm settings
firm {
  name             = "Cabinet Dupont & Associés"  # display name
  company          = "info@dupont-associes.be"
  platform         = "inbox@mailer.example"
  verified_domains = ["dupont-associes.be"]

  language = "fr"
}
role tax_advisor  # extra role
kind credit_note extends invoice
audience promo = relation.accepts_promotional and relation.family in ["garage",
    "leasing"]  # consent
bcc      = sender
reply_to = responsible else company  # replies
# between: a comment line ends a run of aligned rules
invoice.bcc         = free "office@firm.be" when document.amount >= 10000
invoice.subject[nl] = "Factuur {{ document.number }} van {{ document.date | long }}"

reminder.to = (recipient else document.dunning_emails
    # comment in parens
    else dunning), contact
"""


def without_positions(value: object) -> object:
    """A rule table with every source position taken out (a kind's `declared` kept as a flag)."""
    if isinstance(value, dict):
        return {
            k: (v is not None if k == "declared" else without_positions(v))
            for k, v in value.items()
            if k != "loc"
        }
    if isinstance(value, list):
        return [without_positions(v) for v in value]
    return value


def meaning(text: str, folder: Path) -> tuple[object, list[str]]:
    """What a policy compiles to, apart from source positions: the table and the diagnostic codes."""
    result = compile_text(text, "p.mail", policy_dir=folder)
    return without_positions(result.table), sorted(d.code for d in result.diagnostics)


def comments(text: str) -> list[str]:
    """Every comment of a policy, in order, as the parser sees them."""
    return [c.text for c in parse_policy(text, "p.mail").comments]


def test_messy_policy_gets_the_canonical_layout() -> None:
    assert format_policy(MESSY) == CANONICAL


def test_canonical_layout_is_a_fixed_point() -> None:
    assert format_policy(CANONICAL) == CANONICAL


def test_formatting_the_example_keeps_its_compiled_table(example_policy: Path) -> None:
    original = example_policy.read_text(encoding="utf-8")
    formatted = format_policy(original)
    table, codes = meaning(formatted, example_policy.parent)
    assert table is not None
    assert (table, codes) == meaning(original, example_policy.parent)
    assert format_policy(formatted) == formatted


def test_messy_policy_compiles_to_the_same_table(tmp_path: Path) -> None:
    assert meaning(format_policy(MESSY), tmp_path) == meaning(MESSY, tmp_path)


def test_every_comment_is_kept_in_order() -> None:
    assert comments(format_policy(MESSY)) == [c.rstrip() for c in comments(MESSY)]


def test_equals_align_only_within_a_run_of_assignments() -> None:
    text = "bcc = sender\nreply_to = company\n\ninvoice.bcc = none\nrole x\nto = contact\n"
    assert format_policy(text) == (
        "bcc      = sender\nreply_to = company\n\ninvoice.bcc = none\nrole x\nto = contact\n"
    )


def test_trailing_comments_of_consecutive_lines_line_up() -> None:
    text = "role tax_advisor # a\nkind credit_note extends invoice # b\nbcc = sender\ncc = partner # c\n"
    assert format_policy(text) == (
        "role tax_advisor                  # a\n"
        "kind credit_note extends invoice  # b\n"
        "bcc = sender\n"
        "cc  = partner  # c\n"
    )


def test_placeholders_normalised_only_in_template_strings() -> None:
    text = (
        'firm {\nname = "A {{x}}"\n}\nsubject = "N° {{document.number|money}}"\n'
        'from_name[nl]="{{firm.name}}"\n'
    )
    assert format_policy(text) == (
        'firm {\n  name = "A {{x}}"\n}\n'
        'subject       = "N° {{ document.number | money }}"\n'
        'from_name[nl] = "{{ firm.name }}"\n'
    )


def test_strings_keep_their_escapes_and_hash_signs() -> None:
    text = 'subject = "a \\"#1\\" \\\\ b"   # real comment\n'
    assert format_policy(text) == 'subject = "a \\"#1\\" \\\\ b"  # real comment\n'


def test_crlf_and_trailing_blank_lines() -> None:
    assert format_policy("bcc = sender\r\n\r\n\r\n") == "bcc = sender\n"


def test_empty_file_stays_empty() -> None:
    assert format_policy("") == ""
    assert format_policy("\n\n# only a comment\n\n") == "# only a comment\n"


def test_blank_lines_just_inside_braces_go() -> None:
    text = 'smtp sender jan {\n\n  host = "h.be"\n  port = 465\n\n}\n'
    assert format_policy(text) == 'smtp sender jan {\n  host = "h.be"\n  port = 465\n}\n'


def test_a_file_that_does_not_parse_is_refused() -> None:
    with pytest.raises(DiagnosticError) as info:
        format_policy("bcc = = sender\n", "bad.mail")
    assert info.value.diagnostics[0].span is not None
    assert info.value.diagnostics[0].span.path == "bad.mail"


def test_unified_diff_names_both_sides() -> None:
    diff = unified_diff("bcc=sender\n", "bcc = sender\n", "p.mail")
    assert diff == "--- p.mail (original)\n+++ p.mail (formatted)\n@@ -1 +1 @@\n-bcc=sender\n+bcc = sender\n"


# --- property: idempotence and meaning over generated policies --------------------------------

SPACE = st.sampled_from(["", " ", "  ", "\t"])
GAP = st.sampled_from([" ", "  ", "\t", " \t "])
COMMENT = st.one_of(st.none(), st.from_regex(r"# [a-z =\"{}]{0,12}", fullmatch=True))

SOURCES = ["sender", "company", "responsible", "contact", "dunning", "client_group", "none", "general"]
TARGETS = [
    "bcc",
    "cc",
    "reply_to",
    "invoice.bcc",
    "task.reply_to",
    "reminder.to",
    "notification.failed_task.to",
]


@st.composite
def address_expr(draw: st.DrawFn, depth: int = 0) -> str:
    """An address expression with random spacing, sometimes broken over lines inside parentheses."""
    n = draw(st.integers(1, 3))
    chains = []
    for _ in range(n):
        terms = []
        for _ in range(draw(st.integers(1, 3))):
            if depth < 2 and draw(st.integers(0, 5)) == 0:
                inner = draw(address_expr(depth + 1))
                nl = draw(st.sampled_from(["", "\n", "\n  # inside\n"]))
                terms.append(f"({draw(SPACE)}{inner}{nl}{draw(SPACE)})")
            elif draw(st.booleans()):
                terms.append(f'free{draw(GAP)}"{draw(st.sampled_from(["a@b.be", "x@firm.be"]))}"')
            else:
                terms.append(draw(st.sampled_from(SOURCES)))
        chains.append(f"{draw(GAP)}else{draw(GAP)}".join(terms))
    return f"{draw(SPACE)},{draw(SPACE)}".join(chains)


@st.composite
def comparison(draw: st.DrawFn) -> str:
    """One well-typed comparison (so that most generated policies compile), in random layout."""
    kind = draw(st.integers(0, 4))
    if kind == 0:
        op = draw(st.sampled_from([">=", "<", "==", "!="]))
        return f"document.amount{draw(SPACE)}{op}{draw(SPACE)}{draw(st.integers(-5, 9))}"
    if kind == 1:
        sep = draw(st.sampled_from([", ", ",", ",\n  "]))
        op = draw(st.sampled_from(["in", "not in"]))
        return f'relation.family{draw(GAP)}{op}{draw(GAP)}["a"{sep}"b"]'
    if kind == 2:
        return f"not{draw(GAP)}relation.accepts_promotional"
    if kind == 3:
        return f'relation.attributes.size{draw(SPACE)}=={draw(SPACE)}"x"'
    return f"({draw(SPACE)}relation.accepts_promotional{draw(SPACE)})"


@st.composite
def condition(draw: st.DrawFn) -> str:
    """A condition: comparisons joined by `and` / `or`."""
    parts = [draw(comparison()) for _ in range(draw(st.integers(1, 3)))]
    return f"{draw(GAP)}{draw(st.sampled_from(['and', 'or']))}{draw(GAP)}".join(parts)


@st.composite
def firm_block(draw: st.DrawFn) -> str:
    """A complete firm block; the last setting sometimes ends with the `}`."""
    domains = draw(st.sampled_from(['["firm.be"]', '[ "firm.be" ,\n "x.be" ]', '["firm.be",]']))
    settings_ = [
        f'name{draw(SPACE)}={draw(SPACE)}"F {{{{x}}}}"',
        'company = "c@firm.be"',
        f'platform{draw(SPACE)}={draw(SPACE)}"p@mailer.example"',
        f"verified_domains = {domains}",
    ]
    body = "\n".join(draw(SPACE) + line for line in settings_)
    end = draw(st.sampled_from([" }", "\n}", "\n\n}"]))
    return f"firm{draw(GAP)}{{\n{body}{end}"


@st.composite
def statement(draw: st.DrawFn, used: set[str], declared: set[str]) -> str:
    """One statement line (or a block), with an optional trailing comment."""
    kind = draw(st.integers(0, 9))
    lead = draw(st.sampled_from(["", " ", "\t"]))
    if kind == 1 and "role" not in declared:
        declared.add("role")
        body = f"role{draw(GAP)}auditor"
    elif kind == 2 and "kind" not in declared:
        declared.add("kind")
        body = f"kind{draw(GAP)}credit_note{draw(GAP)}extends{draw(GAP)}invoice"
    elif kind == 3 and "audience" not in declared:
        declared.add("audience")
        body = f"audience{draw(GAP)}promo{draw(SPACE)}={draw(SPACE)}{draw(condition())}"
    elif kind == 4:
        target = f"invoice.subject{draw(st.sampled_from(['', '[nl]', '[ fr ]']))}"
        when = ""
        if target.replace(" ", "") in used:
            when = f"{draw(GAP)}when{draw(GAP)}{draw(condition())}"
        used.add(target.replace(" ", ""))
        value = '"F {{document.number}} {{ document.date|long }}"'
        body = f"{target}{draw(SPACE)}={draw(SPACE)}{value}{when}"
    else:
        target = draw(st.sampled_from(TARGETS))
        when = ""
        if target in used or draw(st.booleans()):
            when = f"{draw(GAP)}when{draw(GAP)}{draw(condition())}"
        else:
            used.add(target)
        body = f"{target}{draw(SPACE)}={draw(SPACE)}{draw(address_expr())}{when}"
    comment = draw(COMMENT)
    return lead + body + (f"{draw(GAP)}{comment}" if comment else "")


@st.composite
def policy(draw: st.DrawFn) -> str:
    """A syntactically valid policy (most of them compile) with random layout, comments and blank lines."""
    lines = [draw(firm_block())] if draw(st.integers(0, 9)) else []
    used: set[str] = set()
    declared: set[str] = set()
    for _ in range(draw(st.integers(0, 8))):
        lines.append(draw(statement(used, declared)))
        lines.extend([""] * draw(st.integers(0, 2)))
        if draw(st.integers(0, 4)) == 0:
            lines.append(draw(st.sampled_from(["# note", "  #indented", "# a = b"])))
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n"]))


_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*|[A-Za-z_][A-Za-z0-9_]*|-?\d+(?:\.\d+)?|==|!=|<=|>=|\S')


def tokens(text: str) -> list[str]:
    """The tokens of a policy with comments removed and placeholder spacing squeezed out."""
    out = []
    for tok in _TOKEN.findall(text):
        if tok.startswith("#"):
            continue
        if tok.startswith('"'):
            tok = re.sub(r"\{\{\s*(.*?)\s*\}\}", lambda m: "{{" + re.sub(r"\s+", "", m.group(1)) + "}}", tok)
        out.append(tok)
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy())
def test_formatting_is_idempotent_and_keeps_tokens_comments_and_meaning(text: str) -> None:
    parse_policy(text, "gen.mail")  # the generator makes valid policies only
    once = format_policy(text)
    assert format_policy(once) == once
    assert tokens(once) == tokens(text)
    assert comments(once) == [c.rstrip() for c in comments(text)]
    # Generated policies may not compile (an undeclared role, a duplicate rule): then the same
    # diagnostics must come out; when they do, the same table.
    folder = Path(__file__).parent
    assert meaning(once, folder) == meaning(text, folder)

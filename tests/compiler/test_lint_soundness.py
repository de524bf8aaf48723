"""The emptiness guarantee checked against the runtime: what it proves never empty never is.

Random address rules are compiled with the example firm and resolved by the runtime for every kind
and every relation of the example data (with and without a sender, a recipient and a document).
Whenever the runtime gets no `to`, or Reply-To falls back to company, the analysis must have
reported that field as possibly empty for that kind.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailpolicy.compiler import compile_text
from mailpolicy.compiler.lint import check_emptiness
from mailpolicy.runtime.data import load_data
from mailpolicy.runtime.errors import MessageError, MessageSkipped
from mailpolicy.runtime.resolve import resolve_message
from mailpolicy.runtime.table import load_table

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

FIRM = """\
firm {
  name             = "Cabinet Dupont & Associés"
  company          = "info@dupont-associes.be"
  functional       = "noreply@dupont-associes.be"
  platform         = "inbox@mailer.example"
  verified_domains = ["dupont-associes.be"]
}
role tax_advisor
"""

SOURCES = [
    "sender", "company", "functional", "communication", "platform", "contact", "dunning",
    "document.dunning_emails", "recipient", "client_group", "responsible", "partner", "collaborator",
    "substitute", "file_manager", "tax_advisor", "none", "general", 'free "office@dupont-associes.be"',
]  # fmt: skip
KINDS = [
    "",
    "invoice.",
    "task.",
    "reminder.",
    "welcome.",
    "notification.",
    "notification.vat_ok.",
    "mailing.",
]
CONDITIONS = ["document.amount >= 1000", 'relation.family == "garage"', "relation.accepts_promotional"]


@st.composite
def expression(draw: st.DrawFn) -> str:
    """A union of else chains of sources."""
    chains = []
    for _ in range(draw(st.integers(1, 2))):
        terms = draw(st.lists(st.sampled_from(SOURCES), min_size=1, max_size=3))
        chains.append(" else ".join(terms))
    return ", ".join(chains)


@st.composite
def rules(draw: st.DrawFn) -> str:
    """Up to six `to` / `reply_to` / `from` rules, unconditional ones unique per target."""
    lines = []
    seen: set[str] = set()
    for _ in range(draw(st.integers(1, 6))):
        target = draw(st.sampled_from(KINDS)) + draw(st.sampled_from(["to", "reply_to", "from"]))
        line = f"{target} = {draw(expression())}"
        if target in seen or draw(st.booleans()):
            line += f" when {draw(st.sampled_from(CONDITIONS))}"
        else:
            seen.add(target)
        lines.append(line)
    return FIRM + "\n".join(lines) + "\n"


DATA = load_data(EXAMPLES / "data.yaml")
VARIANTS = [
    {"sender": None, "recipients": (), "document": None},
    {"sender": "jan", "recipients": ("new@client.be",), "document": None},
    {"sender": "pieter", "recipients": (), "document": "doc"},
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules())
def test_what_is_proved_never_empty_never_is(policy: str) -> None:
    result = compile_text(policy, "p.mail", policy_dir=EXAMPLES)
    if result.table is None:  # e.g. a `from` / `general` cycle: a compile error, nothing to run
        return
    proved = {(e.kind, e.field) for e in check_emptiness(result.table) if not e.can_be_empty}
    table = load_table(result.table)
    for kind in result.table["kinds"]:
        for relation in DATA.relation_order:
            documents = [d.id for d in DATA.documents.values() if d.relation == relation] or [None]
            for variant in VARIANTS:
                document = documents[0] if variant["document"] else None
                try:
                    env = resolve_message(
                        table,
                        DATA,
                        kind=kind,
                        relation=relation,
                        sender=variant["sender"],
                        document=document,
                        recipients=variant["recipients"],
                    )
                except MessageSkipped:
                    continue
                except MessageError as exc:
                    if "no 'to' address" in exc.message:
                        assert (kind, "to") not in proved, (policy, kind, relation, variant)
                    continue
                fell_back = any(
                    "Reply-To is never empty" in entry.get("reason", "")
                    for entry in env.trace["reply_to"]["tried"]
                )
                if fell_back:
                    assert (kind, "reply_to") not in proved, (policy, kind, relation, variant)

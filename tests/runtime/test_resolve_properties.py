"""Property tests over random policies and relations: the envelope's guarantees always hold.

From is exactly one valid address, on a verified domain or the platform's; no address is in two
of To/CC/BCC; Reply-To is never empty; every address comes from the policy or the data.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mailpolicy.runtime import load_data, load_table, resolve_message
from mailpolicy.runtime.addresses import check_address, on_verified_domain
from mailpolicy.runtime.errors import MessageError, MessageSkipped
from tests.runtime.tables import FIRM, Rule, cmp, else_, free, make_table, role, src, union

LOCALS = ["jan", "Marie", "info", "x.y", "compta"]
DOMAINS = ["dupont-associes.be", "notify.dupont-associes.be", "gmail.com", "Client.BE", "garage.be"]
INVALID = ["not-an-address", "a@b", "Jan <jan@dupont-associes.be>", "a@x.be\nBcc: e@evil.be", "a,b@x.be"]
ROLES = ["responsible", "partner", "collaborator", "substitute", "file_manager"]
KINDS = ["general", "invoice", "reminder", "task", "welcome", "notification.vat_ok", "mailing"]
ADDRESS_FIELDS = ["from", "reply_to", "to", "cc", "bcc"]

valid_addresses = st.builds(
    lambda local, domain: f"{local}@{domain}", st.sampled_from(LOCALS), st.sampled_from(DOMAINS)
)
any_address = st.one_of(valid_addresses, valid_addresses, st.sampled_from(INVALID))
address_field = st.one_of(
    st.none(),
    st.lists(any_address, max_size=3),
    st.lists(valid_addresses, max_size=3).map(", ".join),
)


@st.composite
def datasets(draw: st.DrawFn) -> dict[str, Any]:
    """Users, client groups, one relation and one document, with valid, invalid and missing addresses."""
    users = [
        {"id": f"u{i}", "name": f"User {i}", "email": draw(any_address)}
        for i in range(draw(st.integers(1, 4)))
    ]
    group = {"id": "g", "name": "Group"}
    if draw(st.booleans()):
        group["email"] = draw(any_address)
    relation: dict[str, Any] = {
        "id": "R",
        "name": "Relation",
        # Mostly valid contact addresses, so that most messages resolve and are checked in full.
        "emails": draw(st.one_of(st.lists(valid_addresses, min_size=1, max_size=3), address_field)),
        "dunning_emails": draw(address_field),
        "roles": {
            r: draw(st.sampled_from([u["id"] for u in users])) for r in draw(st.sets(st.sampled_from(ROLES)))
        },
        "accepts_promotional": draw(st.booleans()),
        "language": draw(st.sampled_from(["fr", "nl", None])),
    }
    if draw(st.booleans()):
        relation["client_group"] = "g"
    document = {
        "id": "D",
        "kind": "invoice",
        "relation": "R",
        "amount": draw(st.integers(0, 20000)),
        "dunning_emails": draw(address_field),
    }
    return {"users": users, "client_groups": [group], "relations": [relation], "documents": [document]}


SOURCES = [
    "sender",
    "company",
    "functional",
    "communication",
    "platform",
    "contact",
    "dunning",
    "document.dunning_emails",
    "recipient",
    "client_group",
    "general",
    "none",
]


def expressions(field: str) -> st.SearchStrategy[dict[str, Any]]:
    """Address expressions for a field; `from`/`reply_to` sources only where no cycle can arise."""
    names = SOURCES + (["from", "reply_to"] if field in ("to", "cc", "bcc") else [])
    leaves = st.one_of(
        st.sampled_from(names).map(src),
        st.sampled_from(ROLES).map(role),
        valid_addresses.map(lambda a: free(check_address(a))),
    )
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, min_size=2, max_size=3).map(lambda t: else_(*t)),
            st.lists(inner, min_size=2, max_size=3).map(lambda t: union(*t)),
        ),
        max_leaves=5,
    )


@st.composite
def policies(draw: st.DrawFn) -> list[Rule]:
    """Random rules for random kinds and fields, some conditional."""
    rules = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["", "invoice.", "reminder.", "welcome.", "notification."]))
        field = draw(st.sampled_from(ADDRESS_FIELDS + ["from"]))  # From twice as often: its rules are subtle
        when = cmp("document.amount", ">=", draw(st.integers(0, 20000))) if draw(st.booleans()) else None
        rules.append(Rule(kind + field, draw(expressions(field)), when=when))
    return rules


def _keys(value: Any) -> set[str]:
    """Every address-like string in a JSON value, case-folded."""
    if isinstance(value, dict):
        return set().union(*(_keys(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_keys(v) for v in value)) if value else set()
    if isinstance(value, str) and "@" in value:
        found = set()
        for part in value.split(","):
            try:
                found.add(check_address(part.strip()).casefold())
            except ValueError:
                pass
        return found
    return set()


@dataclass(frozen=True)
class Scenario:
    """A random policy and data file, and the message asked for."""

    data: dict[str, Any]
    raw_table: dict[str, Any]
    kwargs: dict[str, Any]  # resolve_message's keyword arguments

    def load(self) -> tuple[Any, Any]:
        """The loaded table and data set."""
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "data.json"
            path.write_text(json.dumps(self.data), encoding="utf-8")
            return load_table(self.raw_table), load_data(path)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """Random rules, relations and message: kind, sender (a known user or none), document, recipients."""
    data = draw(datasets())
    sender = draw(st.sampled_from([None, "u0", "u1"]))
    if sender is not None and sender not in {u["id"] for u in data["users"]}:
        sender = None
    kwargs = dict(
        kind=draw(st.sampled_from(KINDS)),
        relation="R",
        sender=sender,
        document="D" if draw(st.booleans()) else None,
        recipients=draw(
            st.one_of(st.lists(valid_addresses, min_size=1, max_size=2), st.lists(any_address, max_size=2))
        ),
    )
    return Scenario(data, make_table(draw(policies())), kwargs)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_envelope_guarantees(scenario: Scenario) -> None:
    """Whatever the policy and the relation, the envelope keeps its promises."""
    data, raw_table, kind = scenario.data, scenario.raw_table, scenario.kwargs["kind"]
    try:
        env = resolve_message(*scenario.load(), **scenario.kwargs)
    except MessageSkipped:
        event("mailing skipped")
        assert kind == "mailing" and data["relations"][0]["accepts_promotional"] is False
        return
    except MessageError as exc:
        event("no to address")
        assert str(exc).startswith(f"no 'to' address for kind '{kind}', relation 'R'")
        return

    event(
        "resolved, From is the platform"
        if env.from_address == FIRM["platform"]
        else "resolved, From verified"
    )
    # From: exactly one valid address, verified or the platform's.
    assert check_address(env.from_address) == env.from_address
    assert env.from_address == FIRM["platform"] or on_verified_domain(
        env.from_address, FIRM["verified_domains"]
    )

    # No address twice in a list, nor in two of To/CC/BCC.
    headers = [env.to, env.cc, env.bcc]
    for header in headers + [env.reply_to]:
        assert len({a.casefold() for a in header}) == len(header)
    seen: set[str] = set()
    for header in headers:
        keys = {a.casefold() for a in header}
        assert not keys & seen
        seen |= keys

    # Reply-To never empty; To never empty for a message that resolved.
    assert env.reply_to and env.to

    # Every address came from the policy (firm, free addresses) or the data (records, recipients).
    recipients = scenario.kwargs["recipients"]
    origins = _keys(raw_table["firm"]) | _keys(raw_table["rules"]) | _keys(data) | _keys(recipients)
    for address in [env.from_address, *env.reply_to, *env.to, *env.cc, *env.bcc]:
        assert check_address(address) == address
        assert address.casefold() in origins


def _outcome(table: Any, dataset: Any, **kwargs: Any) -> tuple[str, Any]:
    """What resolving gives: the envelope's fields and warnings, or the error's type and text."""
    try:
        env = resolve_message(table, dataset, **kwargs)
    except MessageError as exc:  # MessageSkipped included
        return type(exc).__name__, str(exc)
    fields = {k: v for k, v in vars(env).items() if k not in ("trace", "_context")}
    return "envelope", fields


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_resolving_without_the_trace_changes_nothing_else(scenario: Scenario) -> None:
    """`trace=False` (render and send) gives the same envelope, warnings and errors, only no trace."""
    table, dataset = scenario.load()
    with_trace = _outcome(table, dataset, **scenario.kwargs)
    without = _outcome(table, dataset, trace=False, **scenario.kwargs)
    event(with_trace[0])
    assert without == with_trace
    if with_trace[0] == "envelope":
        assert resolve_message(table, dataset, trace=False, **scenario.kwargs).trace == {}

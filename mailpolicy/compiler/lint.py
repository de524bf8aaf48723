"""Lint warnings and the static emptiness guarantee, computed over the compiled rule table.

Both work on the rule table dict (docs/ARCHITECTURE.md), not on the AST, so they see exactly what
the runtime will run: inheritance, precedence order and built-in defaults included.

The emptiness analysis treats every `when` condition as free (it may hold or not) and every
data field as possibly empty, and computes, for an address expression, the conditions under
which it yields nothing, as a disjunction of conjunctions of plain-language facts ("relation.emails
is empty"). `NEVER` (no clause) means the expression always yields; a clause with no facts means
it yields nothing whatever the data.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mailpolicy.diagnostics import Diagnostic, Span

BUILTIN_ROLES = frozenset({"responsible", "partner", "collaborator", "substitute", "file_manager"})
LANGUAGES = ("fr", "nl", "en", "de")
HEADER_LISTS = ("to", "cc", "bcc")

# Lint codes: one per kind of finding, stable so CI configurations can refer to them.
UNREACHABLE_ELSE = "MP601"
REDUNDANT_RULE = "MP602"
UNUSED_DECLARATION = "MP603"
FROM_NEVER_VERIFIED = "MP604"
CLIENT_GROUP_IN_MAILING = "MP605"
SAME_ADDRESS_TWICE = "MP606"

LINT_DESCRIPTIONS = {
    UNREACHABLE_ELSE: "an `else` term that can never be reached",
    REDUNDANT_RULE: "a rule identical to the one it would inherit",
    UNUSED_DECLARATION: "a declared role or kind that is never used",
    FROM_NEVER_VERIFIED: "a `from` chain whose sources can never be on a verified domain",
    CLIENT_GROUP_IN_MAILING: "a client-group address in `to` of a mailing",
    SAME_ADDRESS_TWICE: "the same address in two headers by construction",
}

# A clause is a set of facts that must all hold; a DNF is a set of alternative clauses.
Clause = frozenset[str]
DNF = frozenset[Clause]
NEVER: DNF = frozenset()
ALWAYS: DNF = frozenset({frozenset()})
# Bounds the size of a DNF: past this the smallest clauses (simplest counterexamples) are kept.
MAX_CLAUSES = 32

Rule = Mapping[str, Any]
Expr = Mapping[str, Any]


def _minimise(clauses: Iterable[Clause]) -> DNF:
    """Drop clauses implied by a smaller one, keep the simplest MAX_CLAUSES."""
    ordered = sorted(set(clauses), key=lambda c: (len(c), sorted(c)))
    kept: list[Clause] = []
    for clause in ordered:
        if not any(k <= clause for k in kept):
            kept.append(clause)
    return frozenset(kept[:MAX_CLAUSES])


def dnf_or(*parts: DNF) -> DNF:
    """Empty when any part is empty."""
    return _minimise(c for p in parts for c in p)


def dnf_and(*parts: DNF) -> DNF:
    """Empty only when every part is empty."""
    result = ALWAYS
    for part in parts:
        result = _minimise(a | b for a in result for b in part)
    return result


def fact(text: str) -> DNF:
    """A DNF of one fact."""
    return frozenset({frozenset({text})})


def clause_text(clause: Clause) -> str:
    """A counterexample in words, facts in a stable order."""
    return " and ".join(sorted(clause)) if clause else "always"


# --- policy text for messages -----------------------------------------------------------------


def expr_text(expr: Expr, nested: bool = False) -> str:
    """An address expression written back in policy syntax."""
    op = expr.get("op")
    if op in ("source", "role"):
        return str(expr["name"])
    if op == "free":
        return f'free "{expr["address"]}"'
    if op == "else":
        text = " else ".join(expr_text(t, nested=True) for t in expr["terms"])
        return text
    if op == "union":
        text = ", ".join(expr_text(t) for t in expr["items"])
        return f"({text})" if nested else text
    return "?"


def _literal_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_literal_text(v) for v in value) + "]"
    return str(value)


def cond_text(cond: Mapping[str, Any], nested: bool = False) -> str:
    """A condition written back in policy syntax."""
    op = cond.get("op")
    if op in ("or", "and"):
        text = f" {op} ".join(cond_text(a, nested=True) for a in cond["args"])
        return f"({text})" if nested else text
    if op == "not":
        return "not " + cond_text(cond["arg"], nested=True)
    if op == "truthy":
        return str(cond["path"])
    if op == "cmp":

        def operand(o: Mapping[str, Any]) -> str:
            return str(o["path"]) if "path" in o else _literal_text(o.get("value"))

        return f"{operand(cond['left'])} {cond['cmp']} {operand(cond['right'])}"
    return "?"


def _parts_text(parts: list[Any]) -> str:
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part.replace("\\", "\\\\").replace('"', '\\"'))
        else:
            fmt = f" | {part['format']}" if part.get("format") else ""
            out.append("{{ " + str(part.get("path")) + fmt + " }}")
    return '"' + "".join(out) + '"'


def _value_text(rule: Rule) -> str:
    if "expr" in rule:
        return expr_text(rule["expr"])
    if "text" in rule:
        return _parts_text(list(rule["text"]))
    if "template" in rule:
        return f'"{rule["template"]}"'
    return str(rule.get("attach", "?"))


def rule_text(kind: str, fieldname: str, rule: Rule) -> str:
    """`invoice.bcc[nl] = ... when ...` for a rule of the table."""
    target = fieldname if kind == "general" else f"{kind}.{fieldname}"
    if rule.get("lang"):
        target += f"[{rule['lang']}]"
    value = _value_text(rule)
    text = f"{target} = {value}"
    if rule.get("when"):
        text += f" when {cond_text(rule['when'])}"
    return text


def _where(rule: Rule) -> str:
    loc = rule.get("loc")
    return f"line {loc['line']}" if loc else "built-in default"


# --- the model: deciders and emptiness --------------------------------------------------------


@dataclass(frozen=True)
class Decider:
    """A rule that may decide a field of a kind, and the facts under which it does."""

    owner: str  # the kind whose rule list holds it
    rule: Rule
    facts: Clause  # language and `when` facts needed for this rule to decide


class PolicyModel:
    """Read-only questions about a rule table: who may decide a field, when may it be empty."""

    def __init__(self, table: Mapping[str, Any]):
        self.table = table
        self.firm: Mapping[str, Any] = table.get("firm", {})
        self.kinds: Mapping[str, Mapping[str, Any]] = table.get("kinds", {})
        self.rules: Mapping[str, Mapping[str, list[Rule]]] = table.get("rules", {})
        self.verified = [str(d).lower().rstrip(".") for d in self.firm.get("verified_domains", [])]
        self._field_cache: dict[tuple[str, str, bool], DNF] = {}

    def parent(self, kind: str) -> str | None:
        """The parent kind, None for `general`."""
        info = self.kinds.get(kind)
        return info.get("parent") if info else None

    def ancestry(self, kind: str) -> Iterator[str]:
        """KIND, its parent, ... up to `general` (stops on a cycle)."""
        seen: set[str] = set()
        current: str | None = kind
        while current is not None and current not in seen:
            seen.add(current)
            yield current
            current = self.parent(current)

    def is_verified(self, address: str | None) -> bool:
        """Whether ADDRESS may be used in From (domain verified or a subdomain of one)."""
        if not address or "@" not in address:
            return False
        domain = address.rsplit("@", 1)[1].lower().rstrip(".")
        return any(domain == v or domain.endswith("." + v) for v in self.verified)

    def deciders(self, kind: str, fieldname: str) -> list[Decider]:
        """Every rule that may decide FIELD for KIND, in precedence order (SPEC 2.4)."""
        found: list[Decider] = []
        languages_left = set(LANGUAGES)
        for owner in self.ancestry(kind):
            for rule in self.rules.get(owner, {}).get(fieldname, []):
                lang = rule.get("lang")
                if lang and lang not in languages_left:
                    continue  # an earlier unconditional rule already decides this language
                facts: set[str] = set()
                if lang:
                    facts.add(f"the language is {lang}")
                elif languages_left != set(LANGUAGES):
                    facts.add("the language is " + " or ".join(x for x in LANGUAGES if x in languages_left))
                if rule.get("when"):
                    facts.add(f"`{cond_text(rule['when'])}` holds ({_where(rule)})")
                found.append(Decider(owner, rule, frozenset(facts)))
                if rule.get("when"):
                    continue
                if lang:
                    languages_left.discard(lang)
                    if not languages_left:
                        return found
                else:
                    return found
        return found

    def field_empty(self, kind: str, fieldname: str, platform_empty: bool = False) -> DNF:
        """When FIELD of KIND resolves to nothing (for `from`: to no verified address).

        With PLATFORM_EMPTY, a `from` that ends on the platform address counts as empty too: that
        is when the `from` source yields nothing.
        """
        key = (kind, fieldname, platform_empty)
        if key in self._field_cache:
            return self._field_cache[key]
        # A cycle is a compile error; while one is being explored, assume the worst.
        self._field_cache[key] = ALWAYS
        parts = [
            dnf_and(
                frozenset({d.facts}),
                self.expr_empty(d.rule["expr"], d.owner, kind, fieldname, platform_empty),
            )
            for d in self.deciders(kind, fieldname)
            if "expr" in d.rule
        ]
        result = dnf_or(*parts) if parts else ALWAYS
        self._field_cache[key] = result
        return result

    def _address_empty(self, address: str | None, fieldname: str, missing: str) -> DNF:
        if not address:
            return ALWAYS if not missing else fact(missing)
        if fieldname == "from" and not self.is_verified(address):
            return ALWAYS
        return NEVER

    def expr_empty(
        self, expr: Expr, owner: str, kind: str, fieldname: str, platform_empty: bool = False
    ) -> DNF:
        """When EXPR (a rule of OWNER, resolving FIELD for KIND) yields no usable address.

        For `from`, usable means on a verified domain; the platform address is never checked (it
        is From's last resort), so it yields, unless PLATFORM_EMPTY asks when From is the platform.
        """
        op = expr.get("op")
        if op == "union":
            return dnf_and(
                *(self.expr_empty(t, owner, kind, fieldname, platform_empty) for t in expr["items"])
            )
        if op == "else":
            result = ALWAYS
            for term in expr["terms"]:
                result = dnf_and(result, self.expr_empty(term, owner, kind, fieldname, platform_empty))
                # A term that always yields (platform included) ends the chain, even when it is the
                # platform address that then counts as "nothing" for the `from` source.
                if platform_empty and self.expr_empty(term, owner, kind, fieldname) == NEVER:
                    break
            return result
        if op == "free":
            return self._address_empty(expr.get("address"), fieldname, "")
        name = str(expr.get("name"))
        for_from = fieldname == "from"
        unverified = " has no address on a verified domain" if for_from else " is empty"
        if op == "role":
            return self._role_empty(name, for_from)
        if name == "platform":
            return ALWAYS if platform_empty and for_from else NEVER
        if name in ("company", "functional", "communication"):
            return self._address_empty(self.firm.get(name), fieldname, "")
        if name == "sender":
            if for_from:
                return dnf_or(
                    fact("no sender is given"), fact("the sender's address is not on a verified domain")
                )
            return fact("no sender is given")
        if name == "contact":
            return fact("relation.emails" + unverified)
        if name == "dunning":
            return fact("relation.dunning_emails" + unverified)
        if name == "document.dunning_emails":
            return fact("document.dunning_emails" + unverified)
        if name == "recipient":
            return fact(
                "no recipient is given" if not for_from else "no recipient on a verified domain is given"
            )
        if name == "client_group":
            text = "the relation has no client group with an email"
            return fact(text if not for_from else text + " on a verified domain")
        if name == "none":
            return ALWAYS
        if name == "reply_to":
            # Reply-To is never empty (it falls back to company), but From only takes verified ones.
            if for_from:
                return self._reply_to_unverified(kind)
            return NEVER
        if name == "from":
            # `from` yields nothing exactly when the resolved From is the platform address.
            return self.field_empty(kind, "from", platform_empty=True)
        if name == "general":
            parent = self.parent(owner)
            if parent is None:
                builtin = [r for r in self.rules.get("general", {}).get(fieldname, []) if r.get("builtin")]
                if builtin and "expr" in builtin[0]:
                    return self.expr_empty(builtin[0]["expr"], "general", kind, fieldname, platform_empty)
                return ALWAYS
            return self.field_empty(parent, fieldname, platform_empty)
        if name in BUILTIN_ROLES or name in self.table.get("roles", []):
            return self._role_empty(name, for_from)
        return ALWAYS

    def _role_empty(self, role: str, for_from: bool) -> DNF:
        text = f"the relation has no {role}"
        if for_from:
            return dnf_or(fact(text), fact(f"the {role}'s address is not on a verified domain"))
        return fact(text)

    def _reply_to_unverified(self, kind: str) -> DNF:
        reply_to = self.field_empty(kind, "reply_to")
        company_ok = self.is_verified(self.firm.get("company"))
        fallback = NEVER if company_ok else reply_to
        return dnf_or(fallback, fact("the Reply-To addresses are not on a verified domain"))


# --- the static guarantee ---------------------------------------------------------------------


@dataclass
class Counterexample:
    """One way a field comes out empty: the facts needed and the rule that decides then."""

    facts: list[str]
    rule: str  # the deciding rule in policy syntax
    loc: dict[str, int] | None  # its line and column, None for a built-in default

    def as_dict(self) -> dict[str, object]:
        """JSON form."""
        return {"facts": list(self.facts), "rule": self.rule, "loc": self.loc}


@dataclass
class Emptiness:
    """Whether `to` or `reply_to` of a kind can resolve to nothing, with counterexamples."""

    kind: str
    field: str
    counterexamples: list[Counterexample] = dataclasses.field(default_factory=list)

    @property
    def can_be_empty(self) -> bool:
        """True when some relation (the counterexamples say which) gets nothing."""
        return bool(self.counterexamples)

    def as_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "kind": self.kind,
            "field": self.field,
            "can_be_empty": self.can_be_empty,
            "counterexamples": [c.as_dict() for c in self.counterexamples],
        }


def _kind_order(model: PolicyModel) -> list[str]:
    """`general` first, then the other kinds by name, so reports are stable."""
    return sorted(model.kinds, key=lambda k: (k != "general", k))


def check_emptiness(table: Mapping[str, Any]) -> list[Emptiness]:
    """For every kind, whether `to` and `reply_to` can come out empty, and for which data.

    For `reply_to` "empty" means its rules yield nothing, so the runtime falls back to `company`.
    """
    model = PolicyModel(table)
    report = []
    for kind in _kind_order(model):
        for fieldname in ("to", "reply_to"):
            entry = Emptiness(kind, fieldname)
            for decider in model.deciders(kind, fieldname):
                if "expr" not in decider.rule:
                    continue
                empty = dnf_and(
                    frozenset({decider.facts}),
                    model.expr_empty(decider.rule["expr"], decider.owner, kind, fieldname),
                )
                for clause in sorted(empty, key=lambda c: (len(c), sorted(c))):
                    entry.counterexamples.append(
                        Counterexample(
                            sorted(clause),
                            rule_text(decider.owner, fieldname, decider.rule),
                            dict(decider.rule["loc"]) if decider.rule.get("loc") else None,
                        )
                    )
            report.append(entry)
    return report


def format_emptiness(report: list[Emptiness], path: str) -> str:
    """The `check --explain-empty` text: per kind and field, never empty or when it can be."""
    out = [f"{path}: can `to` and `reply_to` come out empty?"]
    for entry in report:
        name = f"{entry.kind}.{entry.field}"
        if not entry.can_be_empty:
            out.append(f"  {name}: never empty")
            continue
        verdict = (
            "can be empty (the message then fails)"
            if entry.field == "to"
            else "can yield nothing (Reply-To then falls back to company)"
        )
        out.append(f"  {name}: {verdict}")
        for ce in entry.counterexamples:
            where = f"line {ce.loc['line']}" if ce.loc else "built-in default"
            out.append(f"    when {clause_text(frozenset(ce.facts))}  [{where}: {ce.rule}]")
    return "\n".join(out) + "\n"


# --- lint -------------------------------------------------------------------------------------


def _span(path: str, loc: Mapping[str, int] | None) -> Span | None:
    return Span(path, loc["line"], loc["column"]) if loc else None


def _policy_rules(model: PolicyModel) -> Iterator[tuple[str, str, Rule]]:
    """Every rule written in the policy (built-in defaults left out): kind, field, rule."""
    for kind, fields in model.rules.items():
        for fieldname, rules in fields.items():
            for rule in rules:
                if not rule.get("builtin") and rule.get("loc"):
                    yield kind, fieldname, rule


def _walk(expr: Expr) -> Iterator[Expr]:
    yield expr
    for child in list(expr.get("terms", [])) + list(expr.get("items", [])):
        yield from _walk(child)


def _strip_locs(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_locs(v) for k, v in value.items() if k not in ("loc", "builtin")}
    if isinstance(value, list):
        return [_strip_locs(v) for v in value]
    return value


def _rule_value(rule: Rule) -> Any:
    return _strip_locs({k: v for k, v in rule.items() if k not in ("lang", "when", "loc", "builtin")})


class _Linter:
    def __init__(self, table: Mapping[str, Any], path: str, source: str | None):
        self.model = PolicyModel(table)
        self.table = table
        self.path = path
        self.source = source
        self.found: list[Diagnostic] = []
        self._seen: set[tuple[str, int, int, str]] = set()

    def warn(
        self, code: str, loc: Mapping[str, int] | None, message: str, help: list[str] | None = None
    ) -> None:
        """Record a warning once (the same code, place and message may be reached by two kinds)."""
        key = (code, loc["line"] if loc else 0, loc["column"] if loc else 0, message)
        if key in self._seen:
            return
        self._seen.add(key)
        self.found.append(Diagnostic(code, message, _span(self.path, loc), "warning", list(help or [])))

    def run(self) -> list[Diagnostic]:
        """Every lint check, warnings in source order."""
        self.unreachable_else()
        self.redundant_rules()
        self.unused_declarations()
        self.from_never_verified()
        self.client_group_in_mailing()
        self.same_address_twice()
        self.found.sort(key=lambda d: (d.span.line if d.span else 0, d.span.column if d.span else 0, d.code))
        return self.found

    def unreachable_else(self) -> None:
        """MP601: an `else` term after a term that always yields."""
        for kind, fieldname, rule in _policy_rules(self.model):
            if "expr" not in rule:
                continue
            for node in _walk(rule["expr"]):
                if node.get("op") != "else":
                    continue
                terms = node["terms"]
                for i, term in enumerate(terms[:-1]):
                    if self.model.expr_empty(term, kind, kind, fieldname) == NEVER:
                        rest = " else ".join(expr_text(t, nested=True) for t in terms[i + 1 :])
                        verified = fieldname == "from" and term.get("name") != "platform"
                        what = "a verified address" if verified else "an address"
                        self.warn(
                            UNREACHABLE_ELSE,
                            terms[i + 1].get("loc") or rule.get("loc"),
                            f"`{rest}` is never used: `{expr_text(term, nested=True)}` always yields {what}",
                            ["remove the terms after it, or put them first"],
                        )
                        break

    def redundant_rules(self) -> None:
        """MP602: a rule identical to the one it would inherit."""
        for kind, fieldname, rule in _policy_rules(self.model):
            if rule.get("when"):
                continue
            following = self._candidates_after(kind, fieldname, rule)
            lang = rule.get("lang")
            for owner, other in following:
                other_lang = other.get("lang")
                if lang is None and other_lang is not None:
                    break  # a language rule would decide for some clients: not the same
                if lang is not None and other_lang not in (None, lang):
                    continue
                if other.get("when"):
                    break
                if _rule_value(other) == _rule_value(rule):
                    source = (
                        f"the built-in default of '{owner}'"
                        if other.get("builtin")
                        else f"the rule of '{owner}' at line {other['loc']['line']}"
                    )
                    self.warn(
                        REDUNDANT_RULE,
                        rule.get("loc"),
                        f"`{rule_text(kind, fieldname, rule)}` has no effect: it repeats {source}",
                        ["remove it; the inherited rule already gives this value"],
                    )
                break

    def _candidates_after(self, kind: str, fieldname: str, rule: Rule) -> list[tuple[str, Rule]]:
        after: list[tuple[str, Rule]] = []
        started = False
        for owner in self.model.ancestry(kind):
            for other in self.model.rules.get(owner, {}).get(fieldname, []):
                if started:
                    after.append((owner, other))
                elif other is rule:
                    started = True
        return after

    def _declaration_loc(self, keyword: str, name: str) -> dict[str, int] | None:
        if self.source is None:
            return None
        pattern = re.compile(rf"^([ \t]*{keyword}[ \t]+){re.escape(name)}(?![\w.])", re.MULTILINE)
        match = pattern.search(self.source)
        if not match:
            return None
        line = self.source.count("\n", 0, match.start()) + 1
        return {"line": line, "column": len(match.group(1)) + 1}

    def unused_declarations(self) -> None:
        """MP603: a declared role no rule uses; a declared kind that changes nothing."""
        # Audiences are left out: no rule refers to one; they are chosen at send time (--audience).
        used_roles: set[str] = set()
        for _kind, _field, rule in _policy_rules(self.model):
            if "expr" in rule:
                used_roles.update(n["name"] for n in _walk(rule["expr"]) if n.get("op") in ("role", "source"))
        for role in self.table.get("roles", []):
            if role in BUILTIN_ROLES or role in used_roles:
                continue
            self.warn(
                UNUSED_DECLARATION,
                self._declaration_loc("role", role),
                f"role '{role}' is declared but no rule uses it",
                ["use it in an address expression, or remove the declaration"],
            )
        children = {info.get("parent") for info in self.model.kinds.values()}
        for kind, info in self.model.kinds.items():
            if not info.get("declared") or kind in children:
                continue
            own = [
                r for rules in self.model.rules.get(kind, {}).values() for r in rules if not r.get("builtin")
            ]
            if own:
                continue
            self.warn(
                UNUSED_DECLARATION,
                info["declared"],
                f"kind '{kind}' is declared but no rule targets it and no kind extends it; "
                f"it behaves exactly like '{info.get('parent')}'",
                [f"add rules such as `{kind}.subject = ...`, or remove the declaration"],
            )

    def from_never_verified(self) -> None:
        """MP604: a `from` chain none of whose sources can be on a verified domain."""
        for kind, fieldname, rule in _policy_rules(self.model):
            if fieldname != "from" or "expr" not in rule:
                continue
            if self.model.expr_empty(rule["expr"], kind, kind, "from", platform_empty=True) == ALWAYS:
                self.warn(
                    FROM_NEVER_VERIFIED,
                    rule.get("loc"),
                    f"no source of `{rule_text(kind, fieldname, rule)}` can be on a verified domain "
                    f"({', '.join(self.model.verified) or 'none declared'}), so From is always "
                    f"the platform address",
                    ["use `sender`, a role or a firm address on a verified domain"],
                )

    def client_group_in_mailing(self) -> None:
        """MP605: `client_group` in `to` of a mailing."""
        for kind in self.model.kinds:
            if "mailing" not in self.model.ancestry(kind):
                continue
            for decider in self.model.deciders(kind, "to"):
                rule = decider.rule
                if rule.get("builtin") or "expr" not in rule:
                    continue
                if any(n.get("name") == "client_group" for n in _walk(rule["expr"])):
                    self.warn(
                        CLIENT_GROUP_IN_MAILING,
                        rule.get("loc"),
                        f"`{rule_text(decider.owner, 'to', rule)}` puts the client group's address in "
                        f"`to` of '{kind}' mailings: every client of the group would see the others",
                        ["send mailings to `contact`, or put the group address in `bcc`"],
                    )

    def same_address_twice(self) -> None:
        """MP606: the same source or address in two of `to`, `cc`, `bcc` of a kind."""
        for kind in _kind_order(self.model):
            sure: dict[str, list[tuple[Decider, set[str]]]] = {}
            for header in HEADER_LISTS:
                sure[header] = [
                    (d, _sure_items(d.rule["expr"]))
                    for d in self.model.deciders(kind, header)
                    if "expr" in d.rule
                ]
            for i, first in enumerate(HEADER_LISTS):
                for second in HEADER_LISTS[i + 1 :]:
                    for d1, items1 in sure[first]:
                        for d2, items2 in sure[second]:
                            if d1.rule.get("builtin") and d2.rule.get("builtin"):
                                continue
                            lang1, lang2 = d1.rule.get("lang"), d2.rule.get("lang")
                            if lang1 and lang2 and lang1 != lang2:
                                continue
                            common = sorted(items1 & items2)
                            if not common:
                                continue
                            later = d2 if not d2.rule.get("builtin") else d1
                            other = d1 if later is d2 else d2
                            self.warn(
                                SAME_ADDRESS_TWICE,
                                later.rule.get("loc"),
                                f"{', '.join(f'`{c}`' for c in common)} is in both `{first}` "
                                f"({_where(d1.rule)}) and `{second}` ({_where(d2.rule)}) of '{kind}': "
                                f"the copy in `{second}` is always dropped",
                                [f"remove it from one of the two rules ({_where(other.rule)})"],
                            )


def _sure_items(expr: Expr) -> set[str]:
    """The sources a union always contributes (not those behind an `else`), as comparable keys."""
    op = expr.get("op")
    if op == "union":
        out: set[str] = set()
        for item in expr["items"]:
            out |= _sure_items(item)
        return out
    if op == "free":
        return {expr_text(expr).lower()}
    if op in ("source", "role") and expr.get("name") not in ("none", "general", "from", "reply_to"):
        return {str(expr["name"])}
    return set()


def lint_table(table: Mapping[str, Any], path: str, source: str | None = None) -> list[Diagnostic]:
    """Every lint warning for a compiled rule table; PATH names the policy in the spans.

    A `reply_to` chain that does not end in `company` or `free` is the compiler's own warning
    (MP501); `check --explain-empty` says for which data such a chain yields nothing.

    SOURCE (the policy text) is only used to point at `role` declarations, which the table does
    not locate.
    """
    return _Linter(table, path, source).run()

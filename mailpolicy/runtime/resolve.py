"""Resolving one message's envelope (From, Reply-To, To, CC, BCC, subject) from a rule table (SPEC 2.4).

For each field the runtime walks the kind's candidate rules in the precedence order the compiler
wrote (docs/ARCHITECTURE.md), then the parent kind's, up to `general`; the first rule that
applies decides, even when it yields nothing. Every step is recorded in a trace so that
`resolve --explain` and the preview can say why each address is where it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mailpolicy.diagnostics import did_you_mean
from mailpolicy.runtime.addresses import (
    InvalidAddress,
    address_key,
    check_address,
    dedupe,
    on_verified_domain,
)
from mailpolicy.runtime.conditions import evaluate
from mailpolicy.runtime.data import Dataset, Document, Relation, SkippedAddress, User
from mailpolicy.runtime.errors import MessageError, MessageSkipped
from mailpolicy.runtime.fill import Context, fill_parts, message_context
from mailpolicy.runtime.table import RuleTable

ADDRESS_FIELDS = ("from", "reply_to", "to", "cc", "bcc")
FIELDS = ("from", "from_name", "reply_to", "to", "cc", "bcc", "subject", "template", "attach")


@dataclass
class Envelope:
    """Who sends and receives one message, its subject, and why (the trace)."""

    kind: str
    language: str
    relation: str
    document: str | None
    sender: str | None
    from_address: str
    from_name: str
    reply_to: list[str]
    to: list[str]
    cc: list[str]
    bcc: list[str]
    subject: str
    template: str | None
    attach: str | None
    trace: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # The lookup context resolve_message built, with the table and data it came from, so that
    # compose_message does not build it again; not an init field, so a copy or an Envelope made
    # by hand has none and compose builds its own.
    _context: tuple[Any, Any, Context] | None = field(default=None, init=False, repr=False, compare=False)

    def context_for(self, table: Any, data: Any) -> Context | None:
        """The lookup context resolve_message built for this envelope from TABLE and DATA, if any.

        None unless the envelope came from resolve_message with these very objects and still
        names the same kind, relation, document and sender.
        """
        if self._context is None:
            return None
        built_table, built_data, ctx = self._context
        if (
            built_table is not table
            or built_data is not data
            or ctx.kind != self.kind
            or ctx.relation != self.relation
            or ctx.document != self.document
            or ctx.values.get("sender.id") != self.sender
        ):
            return None
        return ctx

    def as_dict(self, explain: bool = False) -> dict[str, Any]:
        """The JSON object of SPEC section 5; with `explain`, the trace and warnings too."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "language": self.language,
            "from": {"name": self.from_name, "address": self.from_address},
            "reply_to": list(self.reply_to),
            "to": list(self.to),
            "cc": list(self.cc),
            "bcc": list(self.bcc),
            "subject": self.subject,
        }
        if explain:
            out["trace"] = self.trace
            out["warnings"] = list(self.warnings)
        return out


def _loc(rule: dict[str, Any]) -> dict[str, int] | str:
    if rule.get("builtin") or rule.get("loc") is None:
        return "builtin"
    return {"line": rule["loc"]["line"], "column": rule["loc"]["column"]}


def _name(expr: dict[str, Any]) -> str:
    if expr["op"] == "free":
        return f'free "{expr["address"]}"'
    return str(expr.get("name", expr["op"]))


class _Resolver:
    """One message's resolution: caches each (kind, field) so fields referring to others stay linear."""

    def __init__(
        self,
        table: RuleTable,
        data: Dataset,
        kind: str,
        relation: Relation,
        document: Document | None,
        sender: User | None,
        recipients: Sequence[str],
        ctx: Context,
        record: bool = True,
    ):
        self.table = table
        self.data = data
        self.kind = kind
        self.relation = relation
        self.document = document
        self.sender = sender
        self.recipients = list(recipients)
        self.ctx = ctx
        self.language = ctx.language
        self.values: dict[tuple[str, str], Any] = {}
        self.traces: dict[tuple[str, str], dict[str, Any]] = {}
        self.in_progress: list[tuple[str, str]] = []
        self.warnings: list[str] = []
        # Without RECORD no trace is built (about a quarter of resolving): what each field resolves to
        # is the same either way (tests/runtime/test_resolve_properties.py), only the "why" is lost.
        self.record = record

    # --- which rule decides -----------------------------------------------------------------

    def decide(
        self, kind: str, field_name: str, passed: list[dict[str, Any]] | None
    ) -> tuple[str, dict[str, Any]] | None:
        """The kind and rule that decide a field, recording the rules passed over in PASSED (if any)."""
        for current in self.table.lineage(kind):
            for rule in self.table.candidates(current, field_name):
                lang = rule.get("lang")
                if lang is not None and lang != self.language:
                    if passed is not None:
                        reason = f"language differs ({lang})"
                        passed.append({"kind": current, "rule": _loc(rule), "reason": reason})
                    continue
                cond = rule.get("when")
                if cond is not None and not evaluate(cond, self.ctx.lookup):
                    if passed is not None:
                        passed.append({"kind": current, "rule": _loc(rule), "reason": "condition false"})
                    continue
                return current, rule
        return None

    # --- fields -----------------------------------------------------------------------------

    def resolve(self, kind: str, field_name: str) -> Any:
        """The final value of a field for a kind: a list of addresses, text, or a path."""
        key = (kind, field_name)
        if key in self.values:
            return self.values[key]
        if key in self.in_progress:
            chain = " -> ".join(f"{k}.{f}" for k, f in self.in_progress + [key])
            raise MessageError(
                f"fields refer to each other in a cycle: {chain}",
                kind=self.kind,
                relation=self.relation.id,
            )
        self.in_progress.append(key)
        try:
            passed: list[dict[str, Any]] | None = [] if self.record else None
            decided = self.decide(kind, field_name, passed)
            if decided is None:
                decided = self._nothing_decides(kind, field_name)
            decider, rule = decided
            tried: list[dict[str, Any]] = [] if self.record else _Discard()
            value = self._value(kind, decider, field_name, rule, tried)
        finally:
            self.in_progress.pop()
        self.values[key] = value
        if self.record:
            trace: dict[str, Any] = {"kind": decider, "rule": _loc(rule), "tried": tried}
            if passed:
                trace["passed"] = passed
            self.traces[key] = trace
        return value

    def _nothing_decides(self, kind: str, field_name: str) -> tuple[str, dict[str, Any]]:
        # A kind with no template is text-only and attaches nothing; every other field has a
        # built-in default in `general`, so a table without one is broken.
        if field_name == "template":
            return "general", {"template": None, "loc": None, "builtin": True}
        if field_name == "attach":
            return "general", {"attach": "none", "loc": None, "builtin": True}
        raise MessageError(
            f"the rule table decides nothing for field '{field_name}' of kind '{kind}'"
            " (general has no built-in default)",
            kind=self.kind,
            relation=self.relation.id,
            document=self.document.id if self.document else None,
        )

    def _value(
        self, kind: str, decider: str, field_name: str, rule: dict[str, Any], tried: list[dict[str, Any]]
    ) -> Any:
        if field_name in ADDRESS_FIELDS:
            found = self.expr(rule["expr"], kind, decider, field_name, tried)
            return self._finish(field_name, found, tried)
        if field_name in ("from_name", "subject"):
            return fill_parts(rule["text"], self.ctx, html=False, header=True)
        if field_name == "template":
            return rule.get("template")
        if field_name == "attach":
            if rule.get("attach") != "document.file":
                return None
            if self.document is None or self.document.file is None:
                tried.append({"source": "document.file", "result": "skipped", "reason": "no document file"})
                return None
            tried.append({"source": "document.file", "result": "used", "file": self.document.file})
            return self.document.file
        raise MessageError(f"unknown field '{field_name}' in the rule table", kind=self.kind)

    def _finish(self, field_name: str, found: list[str], tried: list[dict[str, Any]]) -> list[str]:
        found = dedupe(found)
        if field_name == "from":
            if found:
                return found[:1]
            platform = self.table.firm["platform"]
            tried.append(
                {
                    "source": "platform",
                    "result": "used",
                    "addresses": [platform],
                    "reason": "no address on a verified domain: the platform address is used",
                }
            )
            return [platform]
        if field_name == "reply_to" and not found:
            company = self.table.firm["company"]
            tried.append(
                {
                    "source": "company",
                    "result": "used",
                    "addresses": [company],
                    "reason": "Reply-To is never empty: the company address is used",
                }
            )
            return [company]
        return found

    # --- address expressions ----------------------------------------------------------------

    def expr(
        self, expr: dict[str, Any], kind: str, decider: str, field_name: str, tried: list[dict[str, Any]]
    ) -> list[str]:
        """The addresses an EXPR yields, in order; each source tried is recorded in `tried`."""
        op = expr["op"]
        if op == "union":
            out: list[str] = []
            for item in expr["items"]:
                out.extend(self.expr(item, kind, decider, field_name, tried))
            return dedupe(out)
        if op == "else":
            for term in expr["terms"]:
                found = self.expr(term, kind, decider, field_name, tried)
                if found:
                    return found
            return []
        record = self.record
        entry: dict[str, Any] = {"source": _name(expr)} if record else {}
        if record and expr.get("loc"):
            entry["loc"] = {"line": expr["loc"]["line"], "column": expr["loc"]["column"]}
        candidates, reason, invalid = self.source(expr, kind, decider, field_name, entry)
        for bad in invalid if record else ():
            tried.append(
                {
                    "source": entry["source"],
                    **({"loc": entry["loc"]} if "loc" in entry else {}),
                    "result": "skipped",
                    "address": bad.text,
                    "reason": f"invalid address: {bad.reason}",
                }
            )
        # From takes only addresses on verified domains; `platform` is never checked (SPEC 2.4).
        if field_name == "from" and not (op == "source" and expr.get("name") == "platform"):
            kept = []
            for address in candidates:
                if on_verified_domain(address, self.table.firm.get("verified_domains", [])):
                    kept.append(address)
                elif record:
                    domain = address.rpartition("@")[2]
                    tried.append(
                        {
                            "source": entry["source"],
                            **({"loc": entry["loc"]} if "loc" in entry else {}),
                            "result": "skipped",
                            "address": address,
                            "reason": f"unverified domain {domain}",
                        }
                    )
            if candidates and not kept:
                reason = "no address on a verified domain"
            candidates = kept
        if not record:
            return candidates
        if candidates:
            entry.update(result="used", addresses=list(candidates))
        else:
            entry.update(result="skipped", reason=reason or "yields nothing")
        tried.append(entry)
        return candidates

    def _user_addresses(self, user: User) -> tuple[list[str], str | None, list[SkippedAddress]]:
        if user.email is None:
            return [], f"user '{user.id}' has no valid address", user.skipped.get("email", [])
        return [user.email], None, []

    def source(
        self, expr: dict[str, Any], kind: str, decider: str, field_name: str, entry: dict[str, Any]
    ) -> tuple[list[str], str | None, list[SkippedAddress]]:
        """(addresses, reason when none, invalid address strings met) of one source or role."""
        op = expr["op"]
        relation = self.relation
        if op == "free":
            return [expr["address"]], None, []
        if op == "role":
            role = expr["name"]
            user_id = relation.roles.get(role)
            if user_id is None:
                return [], f"empty role: relation '{relation.id}' has no {role}", []
            user = self.data.users.get(user_id)
            if user is None:
                return [], f"no such user '{user_id}'", []
            entry["user"] = user_id
            return self._user_addresses(user)
        name = expr["name"]
        firm = self.table.firm
        if name == "sender":
            if self.sender is None:
                return [], "no sender (automated mail)", []
            entry["user"] = self.sender.id
            return self._user_addresses(self.sender)
        if name in ("company", "functional", "communication", "platform"):
            address = firm.get(name)
            if not address:
                return [], f"the firm has no {name} address", []
            return [address], None, []
        if name == "contact":
            if not relation.emails:
                skipped = relation.skipped.get("emails", [])
                return [], f"relation '{relation.id}' has no valid emails", skipped
            return list(relation.emails), None, relation.skipped.get("emails", [])
        if name == "dunning":
            skipped = relation.skipped.get("dunning_emails", [])
            if not relation.dunning_emails:
                return [], f"relation '{relation.id}' has no valid dunning_emails", skipped
            return list(relation.dunning_emails), None, skipped
        if name == "document.dunning_emails":
            document = self.document
            if document is None:
                return [], "no document given", []
            skipped = document.skipped.get("dunning_emails", [])
            if not document.dunning_emails:
                return [], f"document '{document.id}' has no valid dunning_emails", skipped
            return list(document.dunning_emails), None, skipped
        if name == "recipient":
            return self._recipients()
        if name == "client_group":
            if relation.client_group is None:
                return [], f"relation '{relation.id}' has no client group", []
            group = self.data.client_groups.get(relation.client_group)
            if group is None:
                return [], f"no such client group '{relation.client_group}'", []
            if group.email is None:
                skipped = group.skipped.get("email", [])
                return [], f"client group '{group.id}' has no valid address", skipped
            return [group.email], None, []
        if name in ("from", "reply_to"):
            value = self.resolve(kind, name)
            if name == "from" and value == [firm["platform"]]:
                return [], "From is the platform address", []
            return list(value), None, []
        if name == "general":
            return self._general(decider, field_name, entry)
        if name == "none":
            return [], "clears the field", []
        raise MessageError(f"unknown source '{name}' in the rule table", kind=self.kind)

    def _recipients(self) -> tuple[list[str], str | None, list[SkippedAddress]]:
        if not self.recipients:
            return [], "no recipient given at send time", []
        valid: list[str] = []
        invalid: list[SkippedAddress] = []
        for text in self.recipients:
            try:
                valid.append(check_address(text.strip()))
            except InvalidAddress as exc:
                invalid.append(SkippedAddress(text, str(exc)))
                self.warnings.append(f"recipient {text!r} is not a valid address ({exc}); skipped")
        return valid, None if valid else "no valid recipient given at send time", invalid

    def _general(
        self, decider: str, field_name: str, entry: dict[str, Any]
    ) -> tuple[list[str], str | None, list[SkippedAddress]]:
        parent = self.table.kinds[decider].get("parent")
        if parent is not None:
            value = list(self.resolve(parent, field_name))
            entry["kind"] = parent
            if self.record:
                entry["via"] = self.traces[(parent, field_name)]
            if field_name == "from" and value == [self.table.firm["platform"]]:
                return [], f"{parent} sends from the platform address", []
            return value, None if value else f"{parent} gives no {field_name}", []
        # Inside `general`, the source means the built-in default of general itself.
        builtin = next((r for r in self.table.candidates("general", field_name) if r.get("builtin")), None)
        if builtin is None:
            return [], f"general has no built-in default for {field_name}", []
        entry["kind"] = "general"
        tried: list[dict[str, Any]] = [] if self.record else _Discard()
        entry["via"] = {"kind": "general", "rule": "builtin", "tried": tried}
        found = self.expr(builtin["expr"], "general", "general", field_name, tried)
        return found, None if found else f"general's built-in {field_name} gives nothing", []


class _Discard(list):  # type: ignore[type-arg]
    """A `tried` list that keeps nothing: where no trace is recorded."""

    def append(self, item: object) -> None:
        """Drop ITEM."""


def _lineage_has(table: RuleTable, kind: str, ancestor: str) -> bool:
    return ancestor in table.lineage(kind)


def resolve_message(
    table: RuleTable,
    data: Dataset,
    *,
    kind: str,
    relation: str | None = None,
    sender: str | None = None,
    document: str | None = None,
    recipients: Iterable[str] = (),
    trace: bool = True,
) -> Envelope:
    """The envelope of one message (SPEC 2.4), with its trace.

    `relation` may be left out when `document` is given (the document's relation is used).
    Raises MessageError for an unknown kind or id and for a message without `to`, and
    MessageSkipped for a mailing to a relation that did not accept promotional mail.
    With `trace=False` (bulk runs that never show it) the envelope's trace is empty and
    resolving costs about a quarter less; every other field and every error is the same.
    """
    if kind not in table.kinds:
        help_lines = did_you_mean(kind, table.kinds)
        hint = f"; {help_lines[0]}" if help_lines else ""
        raise MessageError(f"unknown kind '{kind}'{hint}", kind=kind, relation=relation, document=document)
    doc = data.document(document, kind=kind) if document is not None else None
    if relation is None:
        if doc is None:
            raise MessageError("a message needs a relation or a document", kind=kind)
        relation = doc.relation
    elif doc is not None and doc.relation != relation:
        raise MessageError(
            f"document '{doc.id}' belongs to relation '{doc.relation}', not '{relation}'",
            kind=kind,
            relation=relation,
            document=doc.id,
        )
    rel = data.relation(relation, kind=kind)
    user = data.user(sender, kind=kind, relation=relation) if sender is not None else None
    if _lineage_has(table, kind, "mailing") and not rel.accepts_promotional:
        raise MessageSkipped(
            f"relation '{rel.id}' does not accept promotional mail: mailing skipped",
            kind=kind,
            relation=rel.id,
            document=doc.id if doc else None,
        )
    ctx = message_context(table, data, rel, doc, user, kind=kind)
    recipients = list(recipients)
    resolver = _Resolver(table, data, kind, rel, doc, user, recipients, ctx, record=trace)
    values = {name: resolver.resolve(kind, name) for name in FIELDS}

    to = values["to"]
    in_to = {address_key(t) for t in to}
    cc = [a for a in values["cc"] if address_key(a) not in in_to]
    seen = {address_key(a) for a in to + cc}
    bcc = [a for a in values["bcc"] if address_key(a) not in seen]
    if not to and not trace:
        # The error names what was tried: resolve again with the trace to word it.
        return resolve_message(
            table, data, kind=kind, relation=relation, sender=sender, document=document, recipients=recipients
        )
    for header, before, after, other in (
        ("cc", values["cc"], cc, "to"),
        ("bcc", values["bcc"], bcc, "to or cc"),
    ):
        for address in before if trace else ():
            if address not in after:
                resolver.traces[(kind, header)]["tried"].append(
                    {
                        "source": header,
                        "result": "skipped",
                        "address": address,
                        "reason": f"already in {other}",
                    }
                )
    traces = {name: resolver.traces[(kind, name)] for name in FIELDS} if trace else {}
    if not to:
        entries = traces["to"]["tried"]
        tried = ", ".join(
            f"{entry['source']} ({entry.get('reason', 'used')})"
            for entry in entries
            if "address" not in entry
        )
        # The data's invalid strings are often why nothing was left: name them in the error
        # itself, since the warnings of a message that fails are never printed.
        invalid = "; ".join(
            f"'{entry['address']}' skipped: {entry['reason']}"
            for entry in entries
            if "address" in entry and entry.get("reason", "").startswith("invalid address")
        )
        if invalid:
            tried += f"; {invalid}"
        rule = traces["to"]["rule"]
        where = "built-in default" if rule == "builtin" else f"rule at line {rule['line']}:{rule['column']}"
        raise MessageError(
            f"no 'to' address for kind '{kind}', relation '{rel.id}' ({traces['to']['kind']} {where}); "
            f"tried: {tried or 'nothing'}",
            kind=kind,
            relation=rel.id,
            document=doc.id if doc else None,
            loc=rule if isinstance(rule, dict) else None,
        )
    envelope = Envelope(
        kind=kind,
        language=ctx.language,
        relation=rel.id,
        document=doc.id if doc else None,
        sender=user.id if user else None,
        from_address=values["from"][0],
        from_name=values["from_name"],
        reply_to=values["reply_to"],
        to=to,
        cc=cc,
        bcc=bcc,
        subject=values["subject"],
        template=values["template"],
        attach=values["attach"],
        trace=traces,
        warnings=resolver.warnings + _data_warnings(rel, doc, user),
    )
    envelope._context = (table, data, ctx)
    return envelope


def _data_warnings(relation: Relation, document: Document | None, sender: User | None) -> list[str]:
    """The invalid address strings of the records this message uses (SPEC 2.4: in the trace and report)."""
    out: list[str] = []
    records: list[tuple[str, str, dict[str, list[SkippedAddress]]]] = [
        ("relation", relation.id, relation.skipped)
    ]
    if document is not None:
        records.append(("document", document.id, document.skipped))
    if sender is not None:
        records.append(("user", sender.id, sender.skipped))
    for collection, record_id, skipped in records:
        for field_name, items in skipped.items():
            for item in items:
                out.append(
                    f"{collection} '{record_id}', field '{field_name}': {item.text!r} is not a valid address "
                    f"({item.reason}); skipped"
                )
    return out


def format_trace(envelope: Envelope) -> str:
    """The trace as people read it: per field, the deciding kind and rule, `+` used and `-` skipped."""
    lines: list[str] = []
    for field_name, trace in envelope.trace.items():
        rule = trace["rule"]
        where = "built-in default" if rule == "builtin" else f"line {rule['line']}:{rule['column']}"
        lines.append(f"{field_name}: {trace['kind']} ({where})")
        _format_tried(trace, lines, "  ")
    for warning in envelope.warnings:
        lines.append(f"warning: {warning}")
    return "\n".join(lines)


def _format_tried(trace: dict[str, Any], lines: list[str], indent: str) -> None:
    for passed in trace.get("passed", []):
        rule = passed["rule"]
        where = "built-in default" if rule == "builtin" else f"line {rule['line']}:{rule['column']}"
        lines.append(f"{indent}- {passed['kind']} rule at {where}: {passed['reason']}")
    for entry in trace.get("tried", []):
        what = entry["source"]
        if entry["result"] == "used":
            shown = ", ".join(entry.get("addresses", [])) or entry.get("file", "")
            note = f" ({entry['reason']})" if entry.get("reason") else ""
            lines.append(f"{indent}+ {what}: {shown}{note}")
        else:
            address = f" {entry['address']}" if entry.get("address") else ""
            lines.append(f"{indent}- {what}{address}: {entry.get('reason', '')}")
        if "via" in entry:
            _format_tried(entry["via"], lines, indent + "    ")

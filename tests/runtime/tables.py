"""Hand-written rule tables shaped exactly like docs/ARCHITECTURE.md, for runtime tests.

`make_table` takes rules in source order and lays them out the way the compiler must: per kind
and field in precedence order, with the built-in defaults of SPEC 2.4 last. Tests of the whole
pipeline use compiled policies instead (tests/cli/test_resolve.py).

The built-in kinds and defaults are written out from SPEC 2.4 on purpose rather than imported from
`mailpolicy.compiler.builtins`: these tests pin the runtime to the specification, independently of
the compiler (tests/runtime/test_resolve_example.py checks that the two agree).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIRM: dict[str, Any] = {
    "name": "Cabinet Dupont & Associés",
    "company": "info@dupont-associes.be",
    "functional": "noreply@dupont-associes.be",
    "communication": "contact@dupont-associes.be",
    "platform": "inbox@mailer.example",
    "verified_domains": ["dupont-associes.be"],
    "language": "fr",
}

BUILTIN_ROLES = ["collaborator", "file_manager", "partner", "responsible", "substitute"]

BUILTIN_KINDS: dict[str, str | None] = {
    "general": None,
    "invoice": "general",
    "task": "general",
    "reminder": "invoice",
    "welcome": "general",
    "notification": "general",
    "notification.failed_task": "notification",
    "notification.message": "notification",
    "notification.vat_ok": "notification",
    "notification.user_request": "notification",
    "mailing": "general",
}


def src(name: str, line: int | None = None) -> dict[str, Any]:
    """A source node (`sender`, `company`, `contact`, `general`, ...)."""
    return {"op": "source", "name": name, "loc": None if line is None else {"line": line, "column": 1}}


def role(name: str, line: int | None = None) -> dict[str, Any]:
    """A role node (`responsible`, a declared role)."""
    return {"op": "role", "name": name, "loc": None if line is None else {"line": line, "column": 1}}


def free(address: str, line: int | None = None) -> dict[str, Any]:
    """A `free "address"` node."""
    return {"op": "free", "address": address, "loc": None if line is None else {"line": line, "column": 1}}


def else_(*terms: dict[str, Any]) -> dict[str, Any]:
    """The first term that yields at least one address."""
    return {"op": "else", "terms": list(terms), "loc": None}


def union(*items: dict[str, Any]) -> dict[str, Any]:
    """Every item, in order, duplicates removed."""
    return {"op": "union", "items": list(items), "loc": None}


_SLOT = re.compile(r"\{\{\s*([\w.]+)\s*(?:\|\s*(\w+)\s*)?\}\}")


def parts(template: str) -> list[Any]:
    """PARTS of a template string: literal text and `{"path", "format", "loc"}` slots."""
    out: list[Any] = []
    pos = 0
    for match in _SLOT.finditer(template):
        if match.start() > pos:
            out.append(template[pos : match.start()])
        out.append({"path": match.group(1), "format": match.group(2), "loc": None})
        pos = match.end()
    if pos < len(template):
        out.append(template[pos:])
    return out


def cmp(path: str, op: str, value: Any) -> dict[str, Any]:
    """A comparison of a path with a literal."""
    return {"op": "cmp", "cmp": op, "left": {"path": path}, "right": {"value": value}}


@dataclass
class Rule:
    """One policy rule: `[KIND.]FIELD[LANG] = VALUE [when COND]` at a source line."""

    target: str
    value: Any
    when: dict[str, Any] | None = None
    lang: str | None = None

    def split(self) -> tuple[str, str]:
        """(kind, field) of the target; no prefix means general."""
        kind, _, field = self.target.rpartition(".")
        return kind or "general", field


def _value_key(field: str, value: Any) -> dict[str, Any]:
    if field in ("from", "reply_to", "to", "cc", "bcc"):
        return {"expr": value}
    if field in ("from_name", "subject"):
        return {"text": parts(value)}
    if field == "template":
        return {"template": value}
    return {"attach": value}


def builtin_rules() -> dict[str, dict[str, dict[str, Any]]]:
    """The built-in defaults of SPEC 2.4 as the compiler emits them."""

    def builtin(field: str, value: Any) -> dict[str, Any]:
        return {"lang": None, "when": None, **_value_key(field, value), "loc": None, "builtin": True}

    cascade = else_(role("file_manager"), src("client_group"), src("functional"), src("communication"))
    return {
        "general": {
            "from": builtin("from", src("platform")),
            "from_name": builtin("from_name", "{{ firm.name }}"),
            "reply_to": builtin("reply_to", src("company")),
            "to": builtin("to", src("contact")),
            "cc": builtin("cc", src("none")),
            "bcc": builtin("bcc", src("none")),
            "subject": builtin("subject", ""),
        },
        "invoice": {"attach": builtin("attach", "document.file")},
        "reminder": {
            "to": builtin(
                "to", else_(src("recipient"), src("document.dunning_emails"), src("dunning"), src("contact"))
            )
        },
        "welcome": {
            "from": builtin("from", cascade),
            "to": builtin("to", src("recipient")),
            "cc": builtin("cc", src("from")),
        },
        "notification": {"to": builtin("to", cascade)},
    }


def smtp_block(host: str, port: int, line: int = 30) -> dict[str, Any]:
    """A STARTTLS smtp block whose login and password come from SMTP_LOGIN and SMTP_PASSWORD."""
    return {
        "host": host,
        "port": port,
        "security": "starttls",
        "login": {"env": "SMTP_LOGIN"},
        "password": {"env": "SMTP_PASSWORD"},
        "loc": {"line": line, "column": 1},
    }


def make_table(
    rules: Sequence[Rule] = (),
    *,
    firm: dict[str, Any] | None = None,
    kinds: dict[str, str] | None = None,
    roles: Sequence[str] = (),
    first_line: int = 10,
) -> dict[str, Any]:
    """A rule table: rules numbered from `first_line` in source order, laid out in precedence order."""
    all_kinds = {**BUILTIN_KINDS, **(kinds or {})}
    grouped: dict[str, dict[str, list[tuple[int, int, dict[str, Any]]]]] = {}
    for index, rule in enumerate(rules):
        kind, field = rule.split()
        line = first_line + index
        entry = {
            "lang": rule.lang,
            "when": rule.when,
            **_value_key(field, rule.value),
            "loc": {"line": line, "column": 1},
        }
        # Precedence: when+lang, lang, when, plain (SPEC 2.4); source order within each group.
        rank = (0 if rule.lang else 2) + (0 if rule.when else 1)
        grouped.setdefault(kind, {}).setdefault(field, []).append((rank, line, entry))
    table_rules: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for kind, fields in grouped.items():
        for field, entries in fields.items():
            table_rules.setdefault(kind, {})[field] = [e for _, _, e in sorted(entries, key=lambda x: x[:2])]
    for kind, builtins in builtin_rules().items():
        for field, builtin in builtins.items():
            table_rules.setdefault(kind, {}).setdefault(field, []).append(builtin)
    return {
        "format": "mailpolicy-ruletable",
        "format_version": 1,
        "policy": "test.mail",
        "firm": {**FIRM, **(firm or {})},
        "roles": sorted(set(BUILTIN_ROLES) | set(roles)),
        "kinds": {
            name: {"parent": parent, "declared": None if name in BUILTIN_KINDS else {"line": 1, "column": 1}}
            for name, parent in all_kinds.items()
        },
        "rules": table_rules,
        "audiences": {},
        "smtp": {"default": None, "senders": {}},
        "templates": {},
    }


DATA = """\
users:
  - {id: jan, name: Jan Janssens, email: jan@dupont-associes.be}
  - {id: marie, name: Marie Peeters, email: marie@dupont-associes.be}
  - {id: piet, name: Piet Gmail, email: piet.private@gmail.com}
  - {id: lise, name: Lise, email: Lise@Dupont-Associes.BE}
client_groups:
  - {id: garages, name: Garages, email: garages@dupont-associes.be}
  - {id: silent, name: No address}
relations:
  - id: R001
    name: Garage Martin SPRL
    emails: [compta@garage-martin.be]
    dunning_emails: "relances@garage-martin.be, patron@garage-martin.be"
    client_group: garages
    roles: {responsible: jan, partner: marie, file_manager: jan}
    language: fr
    family: garage
    accepts_promotional: true
  - id: R002
    name: Bakkerij Peeters
    emails: "info@bakkerij.be, boekhouding@bakkerij.be"
    roles: {responsible: marie}
    language: nl
  - id: R003
    name: Sans Rien
    emails: [rien@example.org]
    client_group: silent
  - id: R004
    name: Gmail File Manager
    emails: [x@client.be]
    roles: {file_manager: piet}
    client_group: garages
documents:
  - {id: F2026-0042, kind: invoice, relation: R001, number: "2026-0042",
     date: 2026-11-20, due_date: 2026-12-20, amount: 1210.00, currency: EUR,
     dunning_emails: [], file: invoices/F2026-0042.pdf}
  - {id: F2026-0050, kind: invoice, relation: R001, number: "2026-0050",
     date: 2026-11-21, amount: 15000, currency: EUR,
     dunning_emails: [factures@garage-martin.be]}
  - {id: F2026-0051, kind: invoice, relation: R002, number: "2026-0051",
     date: 2026-11-22, amount: 99.5, currency: EUR}
"""


def write_data(folder: Path, text: str = DATA, name: str = "data.yaml") -> Path:
    """Write a data file into `folder` and return its path."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path

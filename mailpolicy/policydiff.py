"""`mailpolicy diff`: which clients' headers a policy change would change, resolved on real data.

Both rule tables are run by the runtime on the same data: every kind with every relation (no
document), and every document with its own kind and the kinds that extend it (a reminder about an
invoice). A header differs when its set of addresses differs (addresses compared as the runtime
compares them); a message that fails or is skipped on one side only is a difference too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from mailpolicy.runtime.addresses import address_key
from mailpolicy.runtime.data import Dataset
from mailpolicy.runtime.errors import DataError, MessageError, MessageSkipped
from mailpolicy.runtime.resolve import resolve_message
from mailpolicy.runtime.table import RuleTable

HEADERS = ("from", "reply_to", "to", "cc", "bcc")

Outcome = dict[str, Any]  # header -> addresses, or {"error": text} / {"skipped": text}


@dataclass(frozen=True)
class Change:
    """One header of one message whose addresses differ between the old and the new policy."""

    kind: str
    relation: str
    document: str | None
    header: str
    old: list[str] | str  # the addresses, or "error: ..." / "skipped: ..."
    new: list[str] | str

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "kind": self.kind,
            "relation": self.relation,
            "document": self.document,
            "header": self.header,
            "old": self.old,
            "new": self.new,
        }


@dataclass
class DiffReport:
    """Every change, and how many messages were compared."""

    compared: int
    changes: list[Change]

    @property
    def messages_changed(self) -> int:
        """How many distinct messages have at least one changed header."""
        return len({(c.kind, c.relation, c.document) for c in self.changes})

    def as_json(self) -> str:
        """`{"compared": N, "changes": [...]}` as indented JSON."""
        payload = {"compared": self.compared, "changes": [c.as_dict() for c in self.changes]}
        return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"

    def as_table(self) -> str:
        """A plain-text table, one row per changed header, and a summary line."""
        if not self.changes:
            return f"no header changes ({self.compared} messages compared)\n"
        rows = [("KIND", "RELATION", "DOCUMENT", "HEADER", "OLD", "NEW")]
        for c in self.changes:
            rows.append((c.kind, c.relation, c.document or "-", c.header, _cell(c.old), _cell(c.new)))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]
            for row in rows
        ]
        lines = [line.rstrip() for line in lines]
        noun = "header differs" if len(self.changes) == 1 else "headers differ"
        changed, compared = self.messages_changed, self.compared
        lines.append(f"{len(self.changes)} {noun} in {changed} of {compared} messages compared")
        return "\n".join(lines) + "\n"


def _cell(value: list[str] | str) -> str:
    if isinstance(value, str):
        return value
    return ", ".join(value) if value else "(none)"


def messages(
    kinds: Sequence[str], data: Dataset, lineage: Callable[[str], list[str]]
) -> Iterator[tuple[str, str, str | None]]:
    """(kind, relation, document) of every message compared, in data-file order."""
    for kind in kinds:
        for relation in data.relation_order:
            if relation in data.relations:
                yield kind, relation, None
    for doc_id in data.document_order:
        doc = data.documents.get(doc_id)
        if doc is None:
            continue
        for kind in kinds:
            if doc.kind in lineage(kind):
                yield kind, doc.relation, doc_id


def _outcome(
    table: RuleTable, data: Dataset, kind: str, relation: str, document: str | None, sender: str | None
) -> Outcome:
    try:
        env = resolve_message(table, data, kind=kind, relation=relation, document=document, sender=sender)
    except MessageSkipped as exc:
        return {"skipped": exc.message}
    except MessageError as exc:
        return {"error": exc.message}
    except DataError as exc:
        return {"error": str(exc)}
    return {
        "from": [env.from_address],
        "reply_to": list(env.reply_to),
        "to": list(env.to),
        "cc": list(env.cc),
        "bcc": list(env.bcc),
    }


def _side(outcome: Outcome, header: str) -> list[str] | str:
    if "error" in outcome:
        return f"error: {outcome['error']}"
    if "skipped" in outcome:
        return f"skipped: {outcome['skipped']}"
    return list(outcome[header])


def diff_tables(old: RuleTable, new: RuleTable, data: Dataset, *, sender: str | None = None) -> DiffReport:
    """Resolve every message with both tables and list the headers whose addresses differ."""
    kinds = sorted(set(old.kinds) | set(new.kinds), key=lambda k: (k != "general", k))

    def lineage(kind: str) -> list[str]:
        table = new if kind in new.kinds else old
        return list(table.lineage(kind))

    changes: list[Change] = []
    compared = 0
    for kind, relation, document in messages(kinds, data, lineage):
        compared += 1
        before = _outcome(old, data, kind, relation, document, sender)
        after = _outcome(new, data, kind, relation, document, sender)
        failed = {"error", "skipped"} & (set(before) | set(after))
        if failed:
            if before != after:
                # A message that fails on one side differs in its `to` above all: one row says it.
                header = "to"
                changes.append(
                    Change(kind, relation, document, header, _side(before, header), _side(after, header))
                )
            continue
        for header in HEADERS:
            old_keys = {address_key(a) for a in before[header]}
            new_keys = {address_key(a) for a in after[header]}
            if old_keys != new_keys:
                changes.append(Change(kind, relation, document, header, before[header], after[header]))
    return DiffReport(compared, changes)

"""Filling template strings and pre-rendered templates (PARTS) with a message's values.

Formats: a date renders `DD/MM/YYYY`, `| long` the long date of the message language; an amount
renders `1210.00`, `| money` the currency amount of the message language. Babel's French output
uses a narrow no-break space (U+202F) to group thousands and a no-break space (U+00A0) before the
currency sign: `1 210,00 €` is `1\\u202f210,00\\xa0€`; mail clients show them as spaces.
"""

from __future__ import annotations

import datetime
import html as html_module
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mailpolicy.runtime.errors import MessageError

LANGUAGES = ("fr", "nl", "en", "de")
_DATE_PATHS = {"document.date", "document.due_date"}
_AMOUNT_PATHS = {"document.amount"}
# Every character that some mail or terminal software takes for a line break or a header end.
_LINE_BREAKS = re.compile("[\r\n\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


@dataclass
class Context:
    """The values one message can refer to, looked up by dotted path (`relation.name`)."""

    values: dict[str, Any]
    language: str
    kind: str | None = None
    relation: str | None = None
    document: str | None = None

    def lookup(self, path: str) -> Any:
        """The raw value at `path` (dates as ISO text, amounts as Decimal), or None when absent."""
        if path in self.values:
            return self.values[path]
        if path.startswith("relation.attributes."):
            current: Any = self.values.get("relation.attributes")
            for part in path[len("relation.attributes.") :].split("."):
                if not isinstance(current, dict) or part not in current:
                    return None
                current = current[part]
            return current
        return None


def message_context(
    table: Any,
    data: Any,
    relation: Any,
    document: Any = None,
    sender: Any = None,
    *,
    kind: str | None = None,
) -> Context:
    """The lookup context of one message: firm, relation, document and sender values.

    `relation`, `document` and `sender` are records of the Dataset (or ids of them, or None).
    """
    if isinstance(relation, str):
        relation = data.relation(relation, kind=kind)
    if isinstance(document, str):
        document = data.document(document, kind=kind)
    if isinstance(sender, str):
        sender = data.user(sender, kind=kind, relation=relation.id if relation else None)
    firm = table.firm
    values: dict[str, Any] = {f"firm.{key}": value for key, value in firm.items()}
    if relation is not None:
        values.update(
            {
                "relation.id": relation.id,
                "relation.name": relation.name,
                "relation.language": relation.language,
                "relation.family": relation.family,
                "relation.client_group": relation.client_group,
                "relation.emails": list(relation.emails),
                "relation.dunning_emails": list(relation.dunning_emails),
                "relation.accepts_promotional": relation.accepts_promotional,
                "relation.attributes": relation.attributes,
            }
        )
    if document is not None:
        values.update(
            {
                "document.id": document.id,
                "document.kind": document.kind,
                "document.relation": document.relation,
                "document.number": document.number,
                "document.date": document.date,
                "document.due_date": document.due_date,
                "document.amount": document.amount,
                "document.currency": document.currency,
                "document.file": document.file,
                "document.dunning_emails": list(document.dunning_emails),
            }
        )
    if sender is not None:
        values.update({"sender.id": sender.id, "sender.name": sender.name, "sender.email": sender.email})
    language = (relation.language if relation is not None else None) or firm.get("language") or "fr"
    return Context(
        values=values,
        language=language,
        kind=kind,
        relation=relation.id if relation is not None else None,
        document=document.id if document is not None else None,
    )


def _missing(ctx: Context, path: str, loc: Any, why: str = "has no value") -> MessageError:
    where = ""
    if isinstance(loc, dict) and loc.get("line") is not None:
        prefix = f"{loc['file']}:" if loc.get("file") else "line "
        where = f" (placeholder at {prefix}{loc['line']}:{loc['column']})"
    return MessageError(
        f"'{path}' {why} for this message{where}",
        kind=ctx.kind,
        relation=ctx.relation,
        document=ctx.document,
        loc=loc if isinstance(loc, dict) else None,
    )


def _as_date(value: Any) -> datetime.date | None:
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def format_value(ctx: Context, path: str, fmt: str | None, loc: Any = None) -> str:
    """One placeholder's text; MessageError naming the path when the value is missing."""
    value = ctx.lookup(path)
    if value is None or value == [] or value == "":
        raise _missing(ctx, path, loc)
    if fmt == "long" or (fmt is None and path in _DATE_PATHS):
        day = _as_date(value)
        if day is None:
            raise _missing(ctx, path, loc, why=f"is not a date ({value!r})")
        if fmt is None:
            return day.strftime("%d/%m/%Y")
        from babel.dates import format_date  # Babel is slow to import: only when a date is rendered

        return str(format_date(day, "long", locale=ctx.language))
    if fmt == "money":
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            raise _missing(ctx, path, loc, why=f"is not an amount ({value!r})")
        currency = ctx.lookup("document.currency")
        if not currency:
            raise _missing(ctx, "document.currency", loc)
        from babel.numbers import format_currency

        return str(format_currency(Decimal(str(value)), currency, locale=ctx.language))
    if isinstance(value, bool):
        return "true" if value else "false"
    if path in _AMOUNT_PATHS:
        return f"{Decimal(str(value)):.2f}"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def header_safe(text: str) -> str:
    """Text fit for one header line: every kind of line break (CR, LF, U+2028...) and NUL become spaces."""
    return _LINE_BREAKS.sub(" ", text)


def fill_parts(parts: Sequence[Any], ctx: Context, *, html: bool, header: bool = False) -> str:
    """The text of PARTS with every slot filled; values HTML-escaped when `html`, one line when `header`.

    Only the values are escaped or flattened: literal parts come from the policy or from MJML
    already rendered at compile time, and are trusted.
    """
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        text = format_value(ctx, part["path"], part.get("format"), part.get("loc"))
        if html:
            text = html_module.escape(text, quote=True)
        out.append(text)
    joined = "".join(out)
    return header_safe(joined) if header else joined

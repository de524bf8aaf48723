"""Selecting the messages of a run (one relation, documents, an audience, all) and resolving each.

`render`, `send` and `preview` share `plan_messages`: it streams one item per selected message,
either its Envelope or the MessageError / MessageSkipped that stopped it, so one bad relation
fails alone and a run over 30,000 relations never holds them all in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from mailpolicy.diagnostics import did_you_mean
from mailpolicy.runtime.conditions import evaluate
from mailpolicy.runtime.errors import MessageError
from mailpolicy.runtime.fill import message_context
from mailpolicy.runtime.resolve import Envelope, resolve_message

Planned = Envelope | MessageError
"""One item of a plan: the message's envelope, or why it was not built (MessageSkipped: not a failure)."""


class SelectionError(ValueError):
    """A selection that cannot run at all: no or several selection options, an unknown audience."""


def plan_messages(
    table: Any,
    data: Any,
    *,
    kind: str | None,
    relation: str | None = None,
    documents: Iterable[str] = (),
    audience: str | None = None,
    all_relations: bool = False,
    sender: str | None = None,
    recipients: Iterable[str] = (),
    trace: bool = True,
) -> Iterator[Planned]:
    """The envelopes of the selected messages, lazily, in data-file order.

    Exactly one of RELATION, DOCUMENTS (one message per document, to its relation; KIND defaults
    to each document's kind), AUDIENCE (the relations for which the policy's audience condition
    holds) or ALL_RELATIONS selects the messages. SelectionError when the selection itself is
    wrong; every per-message problem is yielded, not raised. `trace=False` leaves the envelopes'
    traces empty, for callers that never show them (see `resolve_message`).
    """
    documents = list(documents)
    recipients = list(recipients)
    chosen = [relation is not None, bool(documents), audience is not None, all_relations]
    if sum(chosen) != 1:
        raise SelectionError("choose exactly one of --relation, --document, --audience or --all")
    if kind is None and not documents:
        raise SelectionError("--kind is required unless messages are selected with --document")
    condition = None
    if audience is not None:
        if audience not in table.audiences:
            hint = did_you_mean(audience, table.audiences)
            known = ", ".join(sorted(table.audiences)) or "none"
            raise SelectionError(
                f"unknown audience '{audience}' (known: {known})" + (f"; {hint[0]}" if hint else "")
            )
        condition = table.audiences[audience]["when"]

    def one(relation_id: str | None, document_id: str | None, message_kind: str) -> Planned:
        try:
            return resolve_message(
                table,
                data,
                kind=message_kind,
                relation=relation_id,
                document=document_id,
                sender=sender,
                recipients=recipients,
                trace=trace,
            )
        except MessageError as exc:
            return exc

    if relation is not None:
        assert kind is not None
        yield one(relation, None, kind)
        return
    if documents:
        for document_id in documents:
            message_kind = kind
            if message_kind is None:
                try:
                    message_kind = data.document(document_id).kind
                except MessageError as exc:
                    yield exc
                    continue
            yield one(None, document_id, message_kind)
        return
    assert kind is not None
    # Relations of the data file that could not be read at all (no usable id) fail here too.
    for error in getattr(data, "errors", []):
        if error.collection == "relation" and isinstance(error.record, int):
            yield MessageError(str(error), kind=kind)
    for relation_id in data.relation_order:
        if condition is not None:
            try:
                ctx = message_context(table, data, relation_id, kind=kind)
            except MessageError as exc:
                yield exc
                continue
            if not evaluate(condition, ctx.lookup):
                continue
        yield one(relation_id, None, kind)

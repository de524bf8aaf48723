"""`compose_message` reuses the lookup context `resolve_message` built, and only when it fits.

The bytes must be exactly those of composing a copy of the envelope, which has no context and
builds its own; an envelope changed by hand, other data or another table never get a stale one.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailpolicy.compiler import compile_file
from mailpolicy.runtime import load_data, load_table, resolve_message
from mailpolicy.runtime.batch import plan_messages
from mailpolicy.runtime.data import Dataset
from mailpolicy.runtime.message import compose_message
from mailpolicy.runtime.resolve import Envelope
from mailpolicy.runtime.table import RuleTable

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CLOCK = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def table() -> RuleTable:
    """examples/firm-settings.mail, compiled (language variants, conditions, parent kinds)."""
    result = compile_file(EXAMPLES / "firm-settings.mail")
    assert result.table is not None, [d.message for d in result.diagnostics]
    loaded = load_table(result.table)
    loaded.base_dir = EXAMPLES
    return loaded


@pytest.fixture(scope="module")
def data() -> Dataset:
    """examples/data.yaml."""
    return load_data(EXAMPLES / "data.yaml")


def _compose(table: RuleTable, data: Dataset, envelope: Envelope) -> bytes:
    return compose_message(table, data, envelope, clock=lambda: CLOCK, make_id=lambda: "id1").data


def test_composing_with_the_resolved_context_gives_the_same_bytes(table: RuleTable, data: Dataset) -> None:
    """GIVEN envelopes from resolve_message WHEN composed with their context and as copies
    without it THEN the bytes are identical."""
    composed = 0
    for item in plan_messages(table, data, kind="mailing", all_relations=True, sender="jan"):
        if not isinstance(item, Envelope):
            continue
        assert item.context_for(table, data) is not None
        copy = dataclasses.replace(item)
        assert copy.context_for(table, data) is None
        assert _compose(table, data, item) == _compose(table, data, copy)
        composed += 1
    assert composed >= 2


def test_the_context_is_not_reused_for_other_data_or_a_changed_envelope(
    table: RuleTable, data: Dataset
) -> None:
    """GIVEN a resolved envelope WHEN composed with other data, or after its relation or sender
    changed THEN compose builds the context again from what it is given."""
    first, second = "R001", "R003"  # two relations that accept mailings
    env = resolve_message(table, data, kind="mailing", relation=first, sender="jan")
    assert env.context_for(table, data) is not None
    assert env.context_for(table, load_data(EXAMPLES / "data.yaml")) is None
    assert env.context_for(load_table(table.raw), data) is None
    env.sender = None
    assert env.context_for(table, data) is None
    env.sender = "jan"
    env.relation = second
    assert env.context_for(table, data) is None
    other = resolve_message(table, data, kind="mailing", relation=second, sender="jan")
    stale = dataclasses.replace(other)
    stale._context = resolve_message(table, data, kind="mailing", relation=first, sender="jan")._context
    assert stale.context_for(table, data) is None
    # The first relation's context is not used: the message greets the second relation.
    assert _compose(table, data, stale) == _compose(table, data, other)


def test_a_document_message_reuses_its_context(table: RuleTable, data: Dataset) -> None:
    """GIVEN an invoice of the example (document values in the template) WHEN composed with the
    context resolve built THEN the bytes are those of composing a copy without it."""
    env = resolve_message(table, data, kind="invoice", document="F2026-0042", sender="jan")
    assert env.context_for(table, data) is not None
    assert _compose(table, data, env) == _compose(table, data, dataclasses.replace(env))

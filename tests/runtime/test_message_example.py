"""Every message of the bundled example, composed with a fixed clock and ids, as .eml snapshots."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from mailpolicy.compiler import compile_file
from mailpolicy.runtime.batch import plan_messages
from mailpolicy.runtime.data import Dataset, load_data
from mailpolicy.runtime.errors import MessageError
from mailpolicy.runtime.message import ComposedMessage, compose_message
from mailpolicy.runtime.resolve import Envelope
from mailpolicy.runtime.table import RuleTable, load_table
from tests.runtime.test_message import CLOCK, _EmlFile

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "examples" / "firm-settings.mail"
DATA = ROOT / "examples" / "data.yaml"

# (name, selection): the example's messages, one selection per kind the policy gives a body.
SELECTIONS: list[tuple[str, dict[str, Any]]] = [
    (
        "invoices",
        {
            "kind": None,
            "documents": ["F2026-0042", "F2026-0043", "F2026-0044", "F2026-0045", "NC2026-0003"],
            "sender": "jan",
        },
    ),
    ("reminder", {"kind": "reminder", "documents": ["F2026-0044"]}),
    ("welcome", {"kind": "welcome", "relation": "R001", "recipients": ["nouveau@garage-martin.be"]}),
    ("mailing", {"kind": "mailing", "audience": "all_promotional"}),
    ("notification", {"kind": "notification", "relation": "R002"}),
]


@pytest.fixture(scope="module")
def example() -> tuple[RuleTable, Dataset]:
    result = compile_file(POLICY)
    assert [d for d in result.diagnostics if d.severity == "error"] == []
    assert result.table is not None
    return load_table(result.table), load_data(DATA)


def messages(table: RuleTable, data: Dataset, selection: dict[str, Any]) -> Iterator[ComposedMessage]:
    ids = count(1)
    for item in plan_messages(table, data, **selection):
        if isinstance(item, MessageError):
            continue
        assert isinstance(item, Envelope)
        yield compose_message(table, data, item, clock=CLOCK, make_id=lambda: f"example.{next(ids):04d}")


@pytest.mark.parametrize(("name", "selection"), SELECTIONS, ids=[n for n, _ in SELECTIONS])
def test_example_messages_snapshot(
    example: tuple[RuleTable, Dataset], name: str, selection: dict[str, Any], file_snapshot: Any
) -> None:
    """GIVEN the example policy and data WHEN each selection is composed THEN every .eml matches
    its snapshot and parses back without defects."""
    table, data = example
    composed = list(messages(table, data, selection))
    assert composed
    for message in composed:
        msg = email.message_from_bytes(message.data, policy=email.policy.default)
        assert [d for part in msg.walk() for d in part.defects] == []
        assert "Bcc" not in msg
        env = message.envelope
        label = env.relation + (f"_{env.document}" if env.document else "")
        text = message.data.decode("ascii").replace("\r\n", "\n")
        assert text == file_snapshot(name=f"{name}-{label}", extension_class=_EmlFile)


def test_example_mailing_skips_relations_without_consent(example: tuple[RuleTable, Dataset]) -> None:
    table, data = example
    items = list(plan_messages(table, data, kind="mailing", all_relations=True))
    assert [(type(i).__name__, i.relation) for i in items] == [
        ("Envelope", "R001"),
        ("MessageSkipped", "R002"),
        ("Envelope", "R003"),
        ("MessageSkipped", "R004"),
        ("MessageSkipped", "R005"),
        ("Envelope", "R006"),
    ]


def test_example_dutch_invoice_uses_the_dutch_template(example: tuple[RuleTable, Dataset]) -> None:
    table, data = example
    (message,) = messages(table, data, {"kind": None, "documents": ["F2026-0043"]})
    msg = email.message_from_bytes(message.data, policy=email.policy.default)
    text = msg.get_body(("plain",))
    assert text is not None
    assert "In bijlage vindt u factuur 2026-0043 van 21 november 2026" in text.get_content()  # type: ignore[attr-defined]
    assert "€\xa015.125,50" in text.get_content()  # type: ignore[attr-defined]

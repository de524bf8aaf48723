"""Planning a run: which messages a selection makes, each resolved or failed alone, streamed."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from mailpolicy.runtime.batch import SelectionError, plan_messages
from mailpolicy.runtime.data import Dataset, load_data
from mailpolicy.runtime.errors import MessageError, MessageSkipped
from mailpolicy.runtime.resolve import Envelope
from mailpolicy.runtime.table import RuleTable, load_table
from tests.runtime.tables import DATA, Rule, cmp, make_table, write_data


@pytest.fixture
def table() -> RuleTable:
    raw = make_table([Rule("invoice.subject", "Facture {{ document.number }}")])
    raw["audiences"] = {
        "garages": {
            "when": {
                "op": "and",
                "args": [
                    {"op": "truthy", "path": "relation.accepts_promotional"},
                    cmp("relation.family", "in", ["garage", "leasing"]),
                ],
            },
            "loc": {"line": 3, "column": 1},
        },
        "dutch": {"when": cmp("relation.language", "==", "nl"), "loc": {"line": 4, "column": 1}},
    }
    return load_table(raw)


@pytest.fixture
def data(tmp_path: Path) -> Dataset:
    return load_data(write_data(tmp_path))


def summary(items: list[Envelope | MessageError]) -> list[tuple[str, str | None, str | None, str]]:
    out = []
    for item in items:
        if isinstance(item, Envelope):
            out.append(("ok", item.relation, item.document, item.subject))
        else:
            out.append((type(item).__name__, item.relation, item.document, item.message))
    return out


def test_one_relation(table: RuleTable, data: Dataset) -> None:
    items = list(plan_messages(table, data, kind="general", relation="R002"))
    assert summary(items) == [("ok", "R002", None, "")]


def test_documents_take_their_kind_and_relation(table: RuleTable, data: Dataset) -> None:
    items = list(plan_messages(table, data, kind=None, documents=["F2026-0050", "F2026-0051", "NOPE"]))
    assert summary(items) == [
        ("ok", "R001", "F2026-0050", "Facture 2026-0050"),
        ("ok", "R002", "F2026-0051", "Facture 2026-0051"),
        ("MessageError", None, "NOPE", f"unknown document 'NOPE' in {data.path}"),
    ]


def test_all_relations_one_bad_relation_fails_alone(table: RuleTable, tmp_path: Path) -> None:
    text = DATA.replace("    emails: [rien@example.org]\n", "    emails: [not-an-address]\n")
    data = load_data(write_data(tmp_path, text))
    items = list(plan_messages(table, data, kind="general", all_relations=True))
    assert [s[:2] for s in summary(items)] == [
        ("ok", "R001"),
        ("ok", "R002"),
        ("MessageError", "R003"),
        ("ok", "R004"),
    ]
    failed = items[2]
    assert isinstance(failed, MessageError)
    assert failed.message.startswith("no 'to' address for kind 'general', relation 'R003'")


def test_audience_selects_by_the_policy_condition(table: RuleTable, data: Dataset) -> None:
    assert [s[1] for s in summary(list(plan_messages(table, data, kind="general", audience="garages")))] == [
        "R001"
    ]
    assert [s[1] for s in summary(list(plan_messages(table, data, kind="general", audience="dutch")))] == [
        "R002"
    ]


def test_mailing_without_consent_is_skipped_not_failed(table: RuleTable, data: Dataset) -> None:
    items = list(plan_messages(table, data, kind="mailing", all_relations=True))
    assert [type(i).__name__ for i in items] == [
        "Envelope",
        "MessageSkipped",
        "MessageSkipped",
        "MessageSkipped",
    ]
    assert isinstance(items[1], MessageSkipped)
    assert items[1].message == "relation 'R002' does not accept promotional mail: mailing skipped"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "choose exactly one of --relation, --document, --audience or --all"),
        (
            {"relation": "R001", "all_relations": True},
            "choose exactly one of --relation, --document, --audience or --all",
        ),
        (
            {"audience": "garage"},
            "unknown audience 'garage' (known: dutch, garages); did you mean 'garages'?",
        ),
    ],
)
def test_bad_selections(table: RuleTable, data: Dataset, options: dict[str, object], message: str) -> None:
    with pytest.raises(SelectionError) as info:
        list(plan_messages(table, data, kind="general", **options))  # type: ignore[arg-type]
    assert str(info.value) == message


def test_kind_is_needed_without_documents(table: RuleTable, data: Dataset) -> None:
    with pytest.raises(SelectionError) as info:
        list(plan_messages(table, data, kind=None, all_relations=True))
    assert str(info.value) == "--kind is required unless messages are selected with --document"


def test_plan_is_a_stream(table: RuleTable, data: Dataset) -> None:
    """A plan is lazy: nothing is resolved before it is asked for (flat memory on big runs)."""
    plan = plan_messages(table, data, kind="general", all_relations=True)
    assert inspect.isgenerator(plan)
    first = next(plan)
    assert isinstance(first, Envelope) and first.relation == "R001"

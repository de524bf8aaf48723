"""Conditions of `when` rules and audiences (SPEC 2.5): null, types, dates, membership."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from mailpolicy.runtime.conditions import evaluate
from tests.runtime.tables import cmp

VALUES: dict[str, Any] = {
    "document.amount": Decimal("1210.00"),
    "document.date": "2026-11-20",
    "relation.family": "garage",
    "relation.accepts_promotional": True,
    "relation.attributes.vip": "yes",
    "relation.emails": ["a@x.be", "b@x.be"],
}


def holds(cond: dict[str, Any]) -> bool:
    """Evaluate against VALUES; paths not in VALUES are null."""
    return evaluate(cond, VALUES.get)


@pytest.mark.parametrize(
    ("path", "op", "value", "expected"),
    [
        ("document.amount", ">=", 1210, True),
        ("document.amount", ">", 1210.0, False),
        ("document.amount", "==", 1210, True),
        ("document.amount", "<", 10000, True),
        ("document.amount", "!=", 1210.00, False),
        ("document.date", ">=", "2026-11-01", True),
        ("document.date", "<", "2026-11-20", False),
        ("document.date", "<=", "2026-11-20", True),
        ("relation.family", "in", ["garage", "leasing"], True),
        ("relation.family", "not in", ["garage", "leasing"], False),
        ("relation.family", "in", ["leasing"], False),
        ("relation.family", "in", "garages", False),
        ("relation.family", "==", "Garage", False),
        ("relation.accepts_promotional", "==", True, True),
        ("relation.accepts_promotional", "==", 1, False),
        ("document.amount", "==", "1210.00", False),
        ("document.amount", "<", "z", False),
    ],
)
def test_comparisons(path: str, op: str, value: Any, expected: bool) -> None:
    """Numbers compare as numbers, dates as ISO text; types never mix (true is not 1)."""
    assert holds(cmp(path, op, value)) is expected


@pytest.mark.parametrize("op", ["==", "!=", "<", "<=", ">", ">=", "in", "not in"])
def test_every_comparison_with_null_is_false(op: str) -> None:
    """A missing path is null; `!=` and `not in` are false too."""
    assert holds(cmp("document.missing", op, ["x"] if "in" in op else 1)) is False


def test_null_on_the_right_is_false() -> None:
    """A path on the right that is missing makes the comparison false as well."""
    cond = {"op": "cmp", "cmp": "!=", "left": {"value": "x"}, "right": {"path": "sender.id"}}
    assert holds(cond) is False


def test_truthy_holds_only_for_true() -> None:
    """A bare path holds when its value is `true` (not "yes", not a non-empty list)."""
    assert holds({"op": "truthy", "path": "relation.accepts_promotional"}) is True
    assert holds({"op": "truthy", "path": "relation.attributes.vip"}) is False
    assert holds({"op": "truthy", "path": "relation.emails"}) is False
    assert holds({"op": "truthy", "path": "relation.missing"}) is False


def test_and_or_not() -> None:
    """`or`, `and`, `not` combine as usual; `not` negates a false null comparison."""
    big = cmp("document.amount", ">=", 10000)
    garage = cmp("relation.family", "==", "garage")
    assert holds({"op": "or", "args": [big, garage]}) is True
    assert holds({"op": "and", "args": [big, garage]}) is False
    assert holds({"op": "not", "arg": big}) is True
    assert holds({"op": "not", "arg": cmp("document.missing", "==", 1)}) is True


def test_path_against_path() -> None:
    """Both operands may be paths; an address list holds membership."""
    cond = {"op": "cmp", "cmp": "in", "left": {"value": "a@x.be"}, "right": {"path": "relation.emails"}}
    assert holds(cond) is True


def test_unknown_operator_is_refused() -> None:
    """A table with an unknown operator is a bug, not a silent false."""
    with pytest.raises(ValueError, match="unknown condition operator 'xor'"):
        holds({"op": "xor"})

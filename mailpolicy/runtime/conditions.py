"""Evaluating `when` and audience conditions of a rule table (SPEC 2.5) against a message's data."""

from __future__ import annotations

import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any

Lookup = Callable[[str], Any]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _operand(operand: dict[str, Any], lookup: Lookup) -> Any:
    if "path" in operand:
        return lookup(operand["path"])
    return operand.get("value")


def _equal(left: Any, right: Any) -> bool:
    # Booleans are not numbers here: `true == 1` must not hold, whatever Python thinks.
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if _number(left) and _number(right):
        return Decimal(str(left)) == Decimal(str(right))
    return type(left) is type(right) and bool(left == right)


_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _order(op: str, left: Any, right: Any) -> bool:
    if _number(left) and _number(right):
        return bool(_ORDER[op](Decimal(str(left)), Decimal(str(right))))
    if isinstance(left, str) and isinstance(right, str):
        # Dates are ISO `YYYY-MM-DD` strings, so text order is date order.
        return bool(_ORDER[op](left, right))
    return False


def _member(left: Any, right: Any) -> bool:
    # Membership is in lists only (a literal list, an address list): never substring matching.
    if isinstance(right, list):
        return any(_equal(left, item) for item in right)
    return False


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is None or right is None:
        return False  # null compares false with everything, `!=` and `not in` included
    if op == "==":
        return _equal(left, right)
    if op == "!=":
        return not _equal(left, right)
    if op == "in":
        return _member(left, right)
    if op == "not in":
        return not _member(left, right)
    if op in ("<", "<=", ">", ">="):
        return _order(op, left, right)
    raise ValueError(f"unknown comparison {op!r}")


def evaluate(cond: dict[str, Any], lookup: Lookup) -> bool:
    """Whether a COND (docs/ARCHITECTURE.md) holds; `lookup(path)` gives a value or None.

    Recursive: the compiler bounds the nesting depth of conditions (MAX_NESTING).
    """
    op = cond["op"]
    if op == "or":
        return any(evaluate(arg, lookup) for arg in cond["args"])
    if op == "and":
        return all(evaluate(arg, lookup) for arg in cond["args"])
    if op == "not":
        return not evaluate(cond["arg"], lookup)
    if op == "truthy":
        return lookup(cond["path"]) is True
    if op == "cmp":
        return _compare(cond["cmp"], _operand(cond["left"], lookup), _operand(cond["right"], lookup))
    raise ValueError(f"unknown condition operator {op!r}")

"""Hand-edited or tampered rule tables: deep nesting never reaches a recursive walk.

Sending services load compiled tables from disk; the compiler bounds nesting, but a table can be
edited after compiling. jsonschema and the condition evaluator recurse per level.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mailpolicy.runtime.data import load_data
from mailpolicy.runtime.errors import TableError
from mailpolicy.runtime.resolve import resolve_message
from mailpolicy.runtime.table import MAX_TABLE_DEPTH, load_table
from tests.runtime.tables import Rule, make_table, src, write_data

TRUE = {"op": "truthy", "path": "relation.accepts_promotional"}


def _and_chain(levels: int) -> dict[str, Any]:
    """A condition whose JSON nests 2 levels per `and` (object, then its args list)."""
    cond: dict[str, Any] = dict(TRUE)
    for _ in range(levels):
        cond = {"op": "and", "args": [cond, dict(TRUE)]}
    return cond


def _depth(value: Any) -> int:
    """JSON nesting depth (recursive: only used on tables the test builds)."""
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _deepest_loadable() -> tuple[int, dict[str, Any]]:
    """The longest `and` chain whose table is at most MAX_TABLE_DEPTH deep, and that table."""
    levels = 0
    while _depth(make_table([Rule("to", src("company"), when=_and_chain(levels + 1))])) <= MAX_TABLE_DEPTH:
        levels += 1
    return levels, make_table([Rule("to", src("company"), when=_and_chain(levels))])


def test_table_nested_to_the_limit_loads_and_resolves(tmp_path: Path) -> None:
    """GIVEN a table as deep as MAX_TABLE_DEPTH allows WHEN loaded and a message resolved THEN it works."""
    levels, raw = _deepest_loadable()
    assert _depth(raw) >= MAX_TABLE_DEPTH - 1
    table = load_table(raw)
    data = load_data(write_data(tmp_path))
    assert resolve_message(table, data, kind="general", relation="R001").to == ["info@dupont-associes.be"]


def test_table_nested_deeper_is_a_table_error() -> None:
    """GIVEN a table one `and` deeper WHEN loaded THEN TableError, not RecursionError."""
    levels, _ = _deepest_loadable()
    with pytest.raises(TableError) as info:
        load_table(make_table([Rule("to", src("company"), when=_and_chain(levels + 1))]))
    assert (
        str(info.value) == f"rule table: not a valid rule table: nested deeper than {MAX_TABLE_DEPTH} levels"
    )


@pytest.mark.parametrize("levels", [900, 100_000], ids=["900", "100000"])
def test_deep_table_file_is_a_table_error(tmp_path: Path, levels: int) -> None:
    """GIVEN a table file with a `not` chain 900 or 100,000 deep WHEN loaded THEN a TableError."""
    inner = json.dumps(TRUE)
    text = json.dumps(make_table([Rule("to", src("company"), when=TRUE)]))
    text = text.replace(inner, '{"op": "not", "arg": ' * levels + inner + "}" * levels)
    path = tmp_path / "table.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TableError) as info:
        load_table(path)
    assert str(info.value) in (
        f"{path}: not a valid rule table: nested deeper than {MAX_TABLE_DEPTH} levels",
        f"{path}: not a rule table (JSON nested too deeply)",
    )

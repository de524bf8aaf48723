"""Loading compiled rule tables: format and version checks, schema validation, kind walks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailpolicy.runtime import load_table
from mailpolicy.runtime.errors import TableError
from tests.runtime.tables import Rule, free, make_table


def test_loads_from_a_dict_and_from_a_file(tmp_path: Path) -> None:
    """A table loads from the compiler's dict or from its JSON file; both expose the same parts."""
    raw = make_table([Rule("invoice.bcc", free("office@firm.be"))], kinds={"credit_note": "invoice"})
    path = tmp_path / "table.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    for table in (load_table(raw), load_table(path)):
        assert table.firm["platform"] == "inbox@mailer.example"
        assert table.parents["credit_note"] == "invoice"
        assert list(table.lineage("credit_note")) == ["credit_note", "invoice", "general"]
        assert table.candidates("invoice", "bcc")[0]["expr"]["address"] == "office@firm.be"
        assert table.candidates("invoice", "nothing") == []
    assert load_table(path).base_dir == tmp_path.resolve()


def test_another_format_is_refused() -> None:
    """Something that is not a rule table says so."""
    with pytest.raises(TableError) as info:
        load_table({"users": []})
    assert (
        str(info.value)
        == 'rule table: not a mailpolicy rule table (expected "format": "mailpolicy-ruletable")'
    )


def test_another_format_version_is_refused_clearly(tmp_path: Path) -> None:
    """A table of another version asks for a recompile instead of listing schema errors."""
    raw = make_table()
    raw["format_version"] = 2
    path = tmp_path / "old.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(TableError) as info:
        load_table(path)
    assert str(info.value) == (
        f"{path}: rule table format version 2 is not supported (this mailpolicy reads version 1); "
        "compile the policy again"
    )


def test_invalid_json_is_located(tmp_path: Path) -> None:
    """Broken JSON reports line and column."""
    path = tmp_path / "broken.json"
    path.write_text('{\n  "format": ,\n}', encoding="utf-8")
    with pytest.raises(TableError) as info:
        load_table(path)
    assert str(info.value) == f"{path}:2:13: not valid JSON: Expecting value"


def test_a_kind_that_does_not_lead_to_general_is_refused() -> None:
    """Every kind's parent chain must end at general (the runtime walks it)."""
    raw = make_table()
    raw["kinds"]["loop_a"] = {"parent": "loop_b", "declared": {"line": 1, "column": 1}}
    raw["kinds"]["loop_b"] = {"parent": "loop_a", "declared": {"line": 2, "column": 1}}
    with pytest.raises(TableError, match="kind 'loop_a' does not lead to 'general'"):
        load_table(raw)


def test_hand_written_tables_are_schema_valid_and_broken_ones_are_not() -> None:
    """The test tables follow the schema; a rule without a value is refused with its place."""
    load_table(make_table([Rule("invoice.bcc", free("office@firm.be"))]))
    raw = make_table([Rule("invoice.bcc", free("office@firm.be"))])
    del raw["rules"]["invoice"]["bcc"][0]["expr"]
    with pytest.raises(TableError, match="not a valid rule table at rules/invoice/bcc/0"):
        load_table(raw)


@pytest.mark.parametrize(
    ("where", "address", "message"),
    [
        # Both pass the schema's loose pattern; email-validator refuses them.
        ("firm", "info@firm.local", "firm.company"),
        ("free", "office,evil@firm.be", "rules.invoice.bcc"),
    ],
)
def test_addresses_in_a_tampered_table_are_refused(where: str, address: str, message: str) -> None:
    """A hand-edited table cannot put a second address or a line break into a header."""
    raw = make_table([Rule("invoice.bcc", free("office@firm.be"))])
    if where == "firm":
        raw["firm"]["company"] = address
    else:
        raw["rules"]["invoice"]["bcc"][0]["expr"]["address"] = address
    with pytest.raises(TableError, match=f"^rule table: not a valid rule table: {message}: "):
        load_table(raw)


def test_firm_addresses_are_normalised() -> None:
    """A firm address's domain is lower-cased like every other address."""
    table = load_table(make_table(firm={"company": "Compta@Dupont-Associes.BE"}))
    assert table.firm["company"] == "Compta@dupont-associes.be"


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_a_table_compiled_in_process_loads_the_same_trusted_or_not() -> None:
    """GIVEN the compiler's dict WHEN loaded trusted (no jsonschema) THEN the same table as validated."""
    from mailpolicy.compiler import compile_file, validate_table

    for policy in [EXAMPLES / "firm-settings.mail", *sorted((EXAMPLES / "seeds").glob("*.mail"))]:
        result = compile_file(policy)
        assert result.table is not None, policy
        # What makes skipping the schema safe: the compiler's tables are schema-valid.
        assert validate_table(result.table) == [], policy
        trusted = load_table(result.table, trusted_compiled=True)
        checked = load_table(result.table)
        assert trusted == checked


def test_trusted_compiled_skips_only_the_schema() -> None:
    """A schema violation passes a trusted load; format, version, nesting, structure, addresses do not."""
    raw = make_table([Rule("invoice.bcc", free("office@firm.be"))])
    raw["firm"]["unexpected"] = "only the schema refuses this"
    load_table(raw, trusted_compiled=True)
    with pytest.raises(TableError, match="not a valid rule table at firm"):
        load_table(raw)

    def refused(change: str) -> str:
        broken = make_table([Rule("invoice.bcc", free("office@firm.be"))])
        if change == "format":
            broken["format"] = "other"
        elif change == "version":
            broken["format_version"] = 2
        elif change == "nesting":
            deep: object = []
            for _ in range(200):
                deep = [deep]
            broken["audiences"] = {"deep": deep}
        elif change == "structure":
            del broken["kinds"]
        elif change == "general":
            broken["kinds"]["loop"] = {"parent": "loop", "declared": None}
        else:
            broken["rules"]["invoice"]["bcc"][0]["expr"]["address"] = "office,evil@firm.be"
        with pytest.raises(TableError) as info:
            load_table(broken, trusted_compiled=True)
        return str(info.value)

    assert refused("format") == (
        'rule table: not a mailpolicy rule table (expected "format": "mailpolicy-ruletable")'
    )
    assert refused("version").startswith("rule table: rule table format version 2 is not supported")
    assert refused("nesting") == "rule table: not a valid rule table: nested deeper than 160 levels"
    assert refused("structure") == "rule table: not a valid rule table: missing or malformed 'kinds'"
    assert refused("general") == "rule table: not a valid rule table: kind 'loop' does not lead to 'general'"
    assert refused("address").startswith("rule table: not a valid rule table: rules.invoice.bcc: ")


def test_a_table_file_is_never_trusted(tmp_path: Path) -> None:
    """Only a dict from the compiler may skip the schema: a path with trusted_compiled is refused."""
    path = tmp_path / "table.json"
    path.write_text(json.dumps(make_table()), encoding="utf-8")
    with pytest.raises(TypeError, match="trusted_compiled applies only to a table the compiler returned"):
        load_table(path, trusted_compiled=True)

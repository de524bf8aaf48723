"""The compiled rule table: snapshots of the example and seed policies, determinism, schema, order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mailpolicy.compiler import compile_file, compile_text, dump_table, validate_table
from mailpolicy.runtime.table import load_table

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SEEDS = sorted((EXAMPLES / "seeds").glob("*.mail"))

FIRM = """firm {
  name = "Cabinet"
  company = "info@firm.be"
  platform = "inbox@mailer.example"
  verified_domains = ["firm.be"]
}
"""


def compiled(path: Path) -> str:
    """The JSON text of a policy that must compile cleanly."""
    result = compile_file(path)
    assert result.diagnostics == []
    assert result.table is not None
    return dump_table(result.table)


def test_example_policy_table(file_snapshot) -> None:  # type: ignore[no-untyped-def]
    """The bundled example compiles without a diagnostic; its table is pinned."""
    assert compiled(EXAMPLES / "firm-settings.mail") == file_snapshot


@pytest.mark.parametrize("seed", SEEDS, ids=[p.stem for p in SEEDS])
def test_seed_policy_tables(seed: Path, file_snapshot) -> None:  # type: ignore[no-untyped-def]
    """One policy per seed article compiles cleanly; each table is pinned."""
    assert compiled(seed) == file_snapshot


def test_one_seed_policy_per_article() -> None:
    """examples/seeds holds a policy for each of the five articles."""
    assert [p.name[:3] for p in SEEDS] == ["000", "001", "002", "003", "004"]


def test_byte_identical_across_processes(tmp_path: Path) -> None:
    """`mailpolicy compile` gives the same bytes in separate processes with different hash seeds."""
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / f"table-{seed}.json"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "mailpolicy.cli",
                "compile",
                str(EXAMPLES / "firm-settings.mail"),
                "-o",
                str(out),
            ],
            check=True,
            env=env,
            cwd=tmp_path,
        )
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0] == compiled(EXAMPLES / "firm-settings.mail").encode("utf-8")


def test_tables_are_schema_valid_and_load_in_the_runtime() -> None:
    """Every example table validates against the schema and is accepted by runtime.load_table."""
    for path in [EXAMPLES / "firm-settings.mail", *SEEDS]:
        table = compile_file(path).table
        assert table is not None
        assert validate_table(table) == []
        loaded = load_table(json.loads(dump_table(table)))
        assert "general" in loaded.kinds


def test_schema_rejects_a_broken_table() -> None:
    """The schema is not a rubber stamp: a table with a bad expression is refused."""
    table = compile_text(FIRM + "bcc = sender\n", "p.mail", policy_dir=ROOT).table
    assert table is not None
    table["rules"]["general"]["bcc"][0]["expr"] = {"op": "source", "name": "nobody", "loc": None}
    assert validate_table(table) != []
    with pytest.raises(ValueError, match="does not match its schema"):
        dump_table(table)


def test_precedence_order_and_builtin_defaults() -> None:
    """Language `when` rules, language rules, `when` rules, the plain rule, then the built-in default."""
    text = FIRM + (
        "reminder.to = contact\n"  # 7
        'reminder.to[nl] = dunning when relation.family == "x"\n'  # 8
        "reminder.to = sender when relation.accepts_promotional\n"  # 9
        "reminder.to[nl] = recipient\n"  # 10
        'reminder.to = partner when relation.family == "y"\n'  # 11
    )
    table = compile_text(text, "p.mail", policy_dir=ROOT).table
    assert table is not None
    order = [
        (c["loc"] and c["loc"]["line"], c.get("builtin", False)) for c in table["rules"]["reminder"]["to"]
    ]
    assert order == [(8, False), (10, False), (9, False), (11, False), (7, False), (None, True)]
    builtin = table["rules"]["reminder"]["to"][-1]["expr"]
    assert [t["name"] for t in builtin["terms"]] == [
        "recipient",
        "document.dunning_emails",
        "dunning",
        "contact",
    ]
    assert table["rules"]["general"]["from"] == [
        {
            "lang": None,
            "when": None,
            "expr": {"op": "source", "name": "platform", "loc": None},
            "loc": None,
            "builtin": True,
        }
    ]
    assert table["rules"]["invoice"]["attach"][-1]["attach"] == "document.file"


def test_expressions_and_placeholders_in_the_table() -> None:
    """Sources, roles, free addresses (normalised), else/union with locations; PARTS with slots."""
    text = FIRM + (
        "role tax_advisor\n"
        'cc = tax_advisor, (responsible else free "Office@Firm.BE")\n'
        'invoice.subject = "Facture {{ document.number }} du {{ document.date | long }}"\n'
    )
    table = compile_text(text, "p.mail", policy_dir=ROOT).table
    assert table is not None
    assert table["rules"]["general"]["cc"][0]["expr"] == {
        "op": "union",
        "loc": {"line": 8, "column": 6},
        "items": [
            {"op": "role", "name": "tax_advisor", "loc": {"line": 8, "column": 6}},
            {
                "op": "else",
                "loc": {"line": 8, "column": 20},
                "terms": [
                    {"op": "role", "name": "responsible", "loc": {"line": 8, "column": 20}},
                    {"op": "free", "address": "Office@firm.be", "loc": {"line": 8, "column": 37}},
                ],
            },
        ],
    }
    assert table["rules"]["invoice"]["subject"][0]["text"] == [
        "Facture ",
        {"path": "document.number", "format": None, "loc": {"line": 9, "column": 28}},
        " du ",
        {"path": "document.date", "format": "long", "loc": {"line": 9, "column": 53}},
    ]
    assert "tax_advisor" in table["roles"]


def test_twenty_thousand_line_policy_checks() -> None:
    """A generated 20,000-line policy (rules, conditions, declarations) compiles without a finding."""
    lines = [FIRM.rstrip("\n")]
    for i in range(2000):
        lines.append(f"kind k{i} extends invoice")
        lines.append(f"role r{i}")
        lines.append(f"k{i}.to = r{i} else contact")
        lines.append(
            f'k{i}.cc = responsible, partner when document.amount >= {i} and relation.family in ["a", "b"]'
        )
        lines.append(f'k{i}.subject = "Document {{{{ document.number }}}} n° {i}"')
        lines.append(f'k{i}.subject[nl] = "Document {{{{ document.number }}}} nr {i}"')
        lines.append(f"k{i}.reply_to = r{i} else company")
        lines.append(f'k{i}.bcc = free "office{i}@firm.be" when not relation.accepts_promotional')
        lines.append(f"# comment {i}")
        lines.append("")
    text = "\n".join(lines) + "\n"
    assert text.count("\n") >= 20000
    result = compile_text(text, "big.mail", policy_dir=ROOT)
    assert result.diagnostics == []
    assert result.table is not None and len(result.table["kinds"]) == 2000 + 11


def test_long_chain_of_kinds() -> None:
    """3,000 kinds extending each other, each using `general`: no recursion, no cycle, one table."""
    lines = [FIRM, "from = sender else reply_to\n"]
    parent = "invoice"
    for i in range(3000):
        lines.append(f"kind k{i} extends {parent}\nk{i}.reply_to = general else company\n")
        parent = f"k{i}"
    result = compile_text("".join(lines), "chain.mail", policy_dir=ROOT)
    assert result.diagnostics == []
    assert result.table is not None and result.table["kinds"]["k2999"]["parent"] == "k2998"

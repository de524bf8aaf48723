"""`mailpolicy diff`: headers that differ between two policies on real data, as a table or JSON."""

from __future__ import annotations

import json
from pathlib import Path

from tests.clirun import run
from tests.runtime.tables import Rule, else_, free, make_table, role, src, write_data

OLD = [Rule("invoice.bcc", free("office@dupont-associes.be"))]
NEW = [
    Rule("invoice.bcc", free("office@dupont-associes.be")),
    Rule("task.reply_to", else_(role("partner"), src("company"))),
]


def tables(tmp_path: Path, old: list[Rule], new: list[Rule]) -> tuple[str, str, str]:
    """Write both tables and the data file; return their paths."""
    paths = []
    for name, rules in (("old.json", old), ("new.json", new)):
        path = tmp_path / name
        path.write_text(json.dumps(make_table(rules)), encoding="utf-8")
        paths.append(str(path))
    return paths[0], paths[1], str(write_data(tmp_path))


def test_table_lists_changed_headers(tmp_path: Path) -> None:
    old, new, data = tables(tmp_path, OLD, NEW)
    code, out, err = run("diff", old, new, "--data", data)
    assert (code, err) == (0, "")
    # R001 has a partner (marie); the others keep company, so only R001's task changes.
    assert out == (
        "KIND  RELATION  DOCUMENT  HEADER    OLD                      NEW\n"
        "task  R001      -         reply_to  info@dupont-associes.be  marie@dupont-associes.be\n"
        "1 header differs in 1 of 50 messages compared\n"
    )


def test_json_format(tmp_path: Path) -> None:
    old, new, data = tables(tmp_path, OLD, NEW)
    code, out, _ = run("diff", old, new, "--data", data, "--format", "json")
    assert code == 0
    assert json.loads(out) == {
        "compared": 50,
        "changes": [
            {
                "kind": "task",
                "relation": "R001",
                "document": None,
                "header": "reply_to",
                "old": ["info@dupont-associes.be"],
                "new": ["marie@dupont-associes.be"],
            }
        ],
    }


def test_documents_are_compared_with_their_kind_and_the_kinds_extending_it(tmp_path: Path) -> None:
    new = [Rule("invoice.bcc", free("office@dupont-associes.be")), Rule("reminder.cc", role("responsible"))]
    old, new_path, data = tables(tmp_path, OLD, new)
    code, out, _ = run("diff", old, new_path, "--data", data, "--format", "json")
    changes = json.loads(out)["changes"]
    rows = [(c["kind"], c["relation"], c["document"], c["header"]) for c in changes]
    # Reminders of R001 and R002 (both have a responsible), without and with each of their invoices.
    assert rows == [
        ("reminder", "R001", None, "cc"),
        ("reminder", "R002", None, "cc"),
        ("reminder", "R001", "F2026-0042", "cc"),
        ("reminder", "R001", "F2026-0050", "cc"),
        ("reminder", "R002", "F2026-0051", "cc"),
    ]


def test_a_message_failing_on_one_side_is_a_difference(tmp_path: Path) -> None:
    old, new, data = tables(tmp_path, [], [Rule("task.to", src("client_group"))])
    code, out, _ = run("diff", old, new, "--data", data, "--format", "json")
    changes = {c["relation"]: c for c in json.loads(out)["changes"]}
    assert sorted(changes) == ["R001", "R002", "R003", "R004"]
    assert changes["R002"]["old"] == ["info@bakkerij.be", "boekhouding@bakkerij.be"]
    assert changes["R002"]["new"] == (
        "error: no 'to' address for kind 'task', relation 'R002' (task rule at line 10:1); "
        "tried: client_group (relation 'R002' has no client group)"
    )


def test_no_change_and_exit_code(tmp_path: Path) -> None:
    old, new, data = tables(tmp_path, OLD, OLD)
    assert run("diff", old, new, "--data", data) == (0, "no header changes (50 messages compared)\n", "")
    assert run("diff", old, new, "--data", data, "--exit-code")[0] == 0
    old, new, data = tables(tmp_path, OLD, NEW)
    assert run("diff", old, new, "--data", data, "--exit-code")[0] == 1


def test_case_of_an_address_is_not_a_change(tmp_path: Path) -> None:
    old, new, data = tables(
        tmp_path,
        [Rule("cc", free("Office@Dupont-Associes.be"))],
        [Rule("cc", free("office@dupont-associes.be"))],
    )
    assert run("diff", old, new, "--data", data)[1] == "no header changes (50 messages compared)\n"


def test_bad_inputs(tmp_path: Path) -> None:
    old, new, data = tables(tmp_path, OLD, NEW)
    code, _, err = run("diff", old, str(tmp_path / "missing.mail"), "--data", data)
    assert (code, err) == (2, f"error: no such file: {tmp_path / 'missing.mail'}\n")
    code, _, err = run("diff", old, new, "--data", data, "--sender", "nobody")
    assert (code, err) == (1, f"error: unknown user 'nobody' in {data}\n")
    code, _, err = run("diff", old, new, "--data", data, "--format", "xml")
    assert code == 2
    assert "Error: Invalid value for '--format': 'xml' is not one of 'table', 'json'." in err
    broken = tmp_path / "broken.yaml"
    broken.write_text("relations: 3\n", encoding="utf-8")
    code, _, err = run("diff", old, new, "--data", str(broken))
    assert code == 1 and err.startswith(f"error: {broken}")


def test_records_the_data_file_gets_wrong_are_named_and_fail_the_diff(tmp_path: Path) -> None:
    """GIVEN a relation with a wrongly typed field WHEN diffing THEN the others are compared and
    the bad record is named on stderr with exit 1 (never a silent "no header changes")."""
    old, new, data = tables(tmp_path, OLD, OLD)
    bad = Path(data)
    text = bad.read_text(encoding="utf-8")
    bad.write_text(text.replace("accepts_promotional: true", "accepts_promotional: maybe"))
    code, out, err = run("diff", old, new, "--data", data)
    assert code == 1
    assert out == "no header changes (39 messages compared)\n"
    assert err == (
        f"error: {data}: relation 'R001', field 'accepts_promotional': expected true or false, "
        "got text 'maybe'; not compared\n"
    )


def test_policies_are_compiled_and_compared_on_the_example_data(tmp_path: Path, example_policy: Path) -> None:
    import shutil

    folder = tmp_path / "examples"
    shutil.copytree(example_policy.parent, folder)
    old = folder / "firm-settings.mail"
    new = folder / "changed.mail"
    text = old.read_text(encoding="utf-8")
    assert "invoice.cc  = responsible\n" in text
    new.write_text(text.replace("invoice.cc  = responsible\n", "invoice.cc  = partner\n"), encoding="utf-8")
    code, out, err = run("diff", str(old), str(new), "--data", str(folder / "data.yaml"), "--format", "json")
    assert code == 0, err
    changes = json.loads(out)["changes"]
    # Invoices, credit notes and reminders of relations whose partner differs from the responsible.
    assert {(c["kind"], c["header"]) for c in changes} == {
        ("invoice", "cc"),
        ("credit_note", "cc"),
        ("reminder", "cc"),
    }
    # Without a document an invoice fails on both sides (its subject needs one): not a change.
    assert all(c["document"] is not None for c in changes)
    r002 = next(c for c in changes if (c["kind"], c["document"]) == ("invoice", "F2026-0043"))
    assert (r002["old"], r002["new"]) == (["luc@dupont-associes.be"], ["marie@dupont-associes.be"])


def test_a_policy_with_errors_stops_the_diff(tmp_path: Path, example_policy: Path) -> None:
    bad = tmp_path / "bad.mail"
    bad.write_text("reply_to = responsable\n", encoding="utf-8")
    code, out, err = run(
        "diff", str(example_policy), str(bad), "--data", str(example_policy.parent / "data.yaml")
    )
    assert code == 1 and out == ""
    assert f"{bad}:1:12: error[MP103]: unknown address source 'responsable'" in err

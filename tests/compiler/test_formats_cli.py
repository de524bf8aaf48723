"""`mailpolicy check --format/--strict/--explain-empty` on real policies: lint shown, formats valid."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.clirun import run

SCHEMA = json.loads(
    (Path(__file__).resolve().parent.parent / "fixtures" / "sarif-2.1.0.schema.json").read_text(
        encoding="utf-8"
    )
)

FIRM = """\
firm {
  name             = "Cabinet"
  company          = "info@cabinet.be"
  platform         = "inbox@mailer.example"
  verified_domains = ["cabinet.be"]
}
"""

# Line 7: an unreachable `else` term (lint MP601); lines 7 and 8: Reply-To chains that do not end in
# company (the compiler's MP501).
WARNED = FIRM + "reply_to = company else responsible\ntask.reply_to = partner\n"
# Line 7: a misspelt source, an error.
BROKEN = FIRM + "reply_to = responsable else company\n"


@pytest.fixture
def policies(tmp_path: Path) -> tuple[str, str]:
    """A policy with lint warnings only, and one with an error."""
    warned, broken = tmp_path / "warned.mail", tmp_path / "broken.mail"
    warned.write_text(WARNED, encoding="utf-8")
    broken.write_text(BROKEN, encoding="utf-8")
    return str(warned), str(broken)


def test_lint_warnings_show_in_text_and_fail_only_with_strict(policies: tuple[str, str]) -> None:
    warned, _ = policies
    code, out, err = run("check", warned)
    assert (code, out) == (0, "")
    assert err.index(f"{warned}:7:12: warning[MP501]") < err.index(f"{warned}:7:25: warning[MP601]")
    assert (
        f"{warned}:7:25: warning[MP601]: `responsible` is never used: `company` always yields an address"
        in err
    )
    assert err.index(f"{warned}:7:25: warning[MP601]") < err.index(f"{warned}:8:17: warning[MP501]")
    assert err.endswith("checked 1 policy: 0 errors, 3 warnings\n")
    assert run("check", "--strict", warned)[0] == 1


def test_json_lists_errors_and_warnings_on_stdout(policies: tuple[str, str]) -> None:
    warned, broken = policies
    code, out, err = run("check", "--format", "json", warned, broken)
    assert code == 1
    data = json.loads(out)
    assert [(d["path"], d["line"], d["column"], d["severity"], d["code"]) for d in data] == [
        (warned, 7, 12, "warning", "MP501"),
        (warned, 7, 25, "warning", "MP601"),
        (warned, 8, 17, "warning", "MP501"),
        (broken, 7, 12, "error", data[3]["code"]),
    ]
    assert data[3]["help"] == ["did you mean 'responsible'?"]
    assert set(data[0]) == {
        "path",
        "line",
        "column",
        "end_line",
        "end_column",
        "severity",
        "code",
        "message",
        "help",
    }
    assert "warning[" not in err  # machine formats keep stderr for the summary line only


def test_github_annotations(policies: tuple[str, str]) -> None:
    warned, broken = policies
    code, out, _ = run("check", "--format", "github", warned, broken)
    assert code == 1
    lines = out.splitlines()
    assert lines[1] == (
        f"::warning file={warned},line=7,col=25::"
        "`responsible` is never used: `company` always yields an address [MP601]"
        "%0Ahelp: remove the terms after it, or put them first"
    )
    assert lines[3].startswith(f"::error file={broken},line=7,col=12::")
    assert len(lines) == 4


def test_sarif_is_schema_valid(policies: tuple[str, str]) -> None:
    warned, broken = policies
    code, out, _ = run("check", "--format", "sarif", warned, broken)
    assert code == 1
    log = json.loads(out)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    results = log["runs"][0]["results"]
    assert [r["level"] for r in results] == ["warning", "warning", "warning", "error"]
    assert results[3]["locations"][0]["physicalLocation"]["region"]["startLine"] == 7


def test_explain_empty_text_and_json(policies: tuple[str, str]) -> None:
    warned, _ = policies
    code, out, _ = run("check", "--explain-empty", warned)
    assert code == 0
    assert out.splitlines()[:3] == [
        f"{warned}: can `to` and `reply_to` come out empty?",
        "  general.to: can be empty (the message then fails)",
        "    when relation.emails is empty  [built-in default: to = contact]",
    ]
    assert "  task.reply_to: can yield nothing (Reply-To then falls back to company)" in out
    assert "    when the relation has no partner  [line 8: task.reply_to = partner]" in out
    code, out, _ = run("check", "--explain-empty", "--format", "json", warned)
    payload = json.loads(out)
    assert [d["code"] for d in payload["diagnostics"]] == ["MP501", "MP601", "MP501"]
    task = next(e for e in payload["emptiness"] if (e["kind"], e["field"]) == ("task", "reply_to"))
    assert task == {
        "path": warned,
        "kind": "task",
        "field": "reply_to",
        "can_be_empty": True,
        "counterexamples": [
            {
                "facts": ["the relation has no partner"],
                "rule": "task.reply_to = partner",
                "loc": {"line": 8, "column": 1},
            }
        ],
    }


def test_explain_empty_with_annotation_formats_is_a_usage_error(policies: tuple[str, str]) -> None:
    code, _, err = run("check", "--explain-empty", "--format", "sarif", policies[0])
    assert code == 2
    assert "--explain-empty goes with --format text or json" in err


def test_example_policy_has_no_errors_and_every_kind_is_reported(example_policy: Path) -> None:
    code, out, err = run("check", "--explain-empty", "--format", "json", str(example_policy))
    payload = json.loads(out)
    assert [d for d in payload["diagnostics"] if d["severity"] == "error"] == []
    kinds = {e["kind"] for e in payload["emptiness"]}
    assert {"general", "invoice", "reminder", "welcome", "credit_note", "notification.vat_ok"} <= kinds
    reminder = next(e for e in payload["emptiness"] if (e["kind"], e["field"]) == ("reminder", "to"))
    assert reminder["counterexamples"][0]["facts"] == [
        "document.dunning_emails is empty",
        "no recipient is given",
        "relation.dunning_emails is empty",
        "relation.emails is empty",
    ]


def test_sarif_and_emptiness_report_snapshots(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    file_snapshot,
    snapshot,  # type: ignore[no-untyped-def]
) -> None:
    """The whole SARIF log and the emptiness report of one small policy, as readers see them."""
    monkeypatch.chdir(tmp_path)
    Path("warned.mail").write_text(
        WARNED + "invoice.to = recipient when document.amount >= 10000\nmailing.to = contact, client_group\n",
        encoding="utf-8",
    )
    _, out, _ = run("check", "--format", "sarif", "warned.mail")
    jsonschema.Draft4Validator(SCHEMA).validate(json.loads(out))
    assert out == file_snapshot(name="warned.sarif")
    _, out, _ = run("check", "--explain-empty", "warned.mail")
    assert out == snapshot(name="emptiness")


def test_explain_empty_skips_a_policy_with_errors(policies: tuple[str, str]) -> None:
    _, broken = policies
    code, out, _ = run("check", "--explain-empty", broken)
    assert (code, out) == (1, f"{broken}: not analysed: the policy has errors\n")

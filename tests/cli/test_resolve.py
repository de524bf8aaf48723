"""`mailpolicy resolve`: the JSON envelope, --explain, exit codes and messages."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clirun import run
from tests.runtime.tables import Rule, else_, free, make_table, role, src, write_data

RULES = [
    Rule("bcc", src("sender")),
    Rule("invoice.bcc", free("office@firm.be")),
    Rule("reply_to", else_(role("responsible"), src("company"))),
    Rule("invoice.subject", "Facture {{ document.number }} du {{ document.date }}"),
    Rule("invoice.subject", "Factuur {{ document.number }} van {{ document.date }}", lang="nl"),
]


@pytest.fixture
def files(tmp_path: Path) -> tuple[str, str]:
    """(rule table path, data path) in a temporary folder."""
    table = tmp_path / "table.json"
    table.write_text(json.dumps(make_table(RULES)), encoding="utf-8")
    return str(table), str(write_data(tmp_path))


def test_prints_the_envelope(files: tuple[str, str]) -> None:
    """The JSON object of SPEC section 5."""
    table, data = files
    code, out, err = run(
        "resolve",
        table,
        "--data",
        data,
        "--kind",
        "invoice",
        "--relation",
        "R001",
        "--document",
        "F2026-0042",
        "--sender",
        "jan",
    )
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "kind": "invoice",
        "language": "fr",
        "from": {"name": "Cabinet Dupont & Associés", "address": "inbox@mailer.example"},
        "reply_to": ["jan@dupont-associes.be"],
        "to": ["compta@garage-martin.be"],
        "cc": [],
        "bcc": ["office@firm.be"],
        "subject": "Facture 2026-0042 du 20/11/2026",
    }


def test_relation_may_be_left_out_with_a_document(files: tuple[str, str]) -> None:
    """`--document` alone names the relation; a Dutch client gets the [nl] subject."""
    table, data = files
    code, out, _ = run("resolve", table, "--data", data, "--kind", "invoice", "--document", "F2026-0051")
    assert code == 0
    assert json.loads(out)["subject"] == "Factuur 2026-0051 van 22/11/2026"
    assert json.loads(out)["to"] == ["info@bakkerij.be", "boekhouding@bakkerij.be"]


def test_explain_adds_the_trace(files: tuple[str, str]) -> None:
    """--explain adds `trace` (per field: kind, rule, sources) and `warnings`; no text off a terminal."""
    table, data = files
    code, out, err = run(
        "resolve",
        table,
        "--data",
        data,
        "--kind",
        "task",
        "--relation",
        "R001",
        "--sender",
        "jan",
        "--explain",
    )
    assert (code, err) == (0, "")
    trace = json.loads(out)["trace"]
    assert trace["bcc"] == {
        "kind": "general",
        "rule": {"line": 10, "column": 1},
        "tried": [
            {"source": "sender", "user": "jan", "result": "used", "addresses": ["jan@dupont-associes.be"]}
        ],
    }
    assert trace["to"]["rule"] == "builtin"


def test_explain_in_a_terminal_also_prints_a_readable_trace(files: tuple[str, str]) -> None:
    """When stdout is a terminal the trace is also written, readably, to stderr."""
    table, data = files
    leader, follower = pty.openpty()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mailpolicy.cli",
            "resolve",
            table,
            "--data",
            data,
            "--kind",
            "task",
            "--relation",
            "R001",
            "--sender",
            "piet",
            "--explain",
        ],
        stdout=follower,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    os.close(follower)
    os.close(leader)
    assert result.returncode == 0
    assert result.stderr.splitlines()[:3] == [
        "from: general (built-in default)",
        "  + platform: inbox@mailer.example",
        "from_name: general (built-in default)",
    ]
    assert "bcc: general (line 10:1)\n  + sender: piet.private@gmail.com" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--kind", "welcome", "--relation", "R001"],
            "error: no 'to' address for kind 'welcome', relation 'R001' (welcome built-in default); "
            "tried: recipient (no recipient given at send time)",
        ),
        (["--kind", "invoice", "--relation", "R404"], "error: unknown relation 'R404' in {data}"),
        (
            ["--kind", "invoice", "--relation", "R001", "--sender", "ghost"],
            "error: unknown user 'ghost' in {data}",
        ),
        (["--kind", "invoice", "--document", "F404"], "error: unknown document 'F404' in {data}"),
        (["--kind", "invoce", "--relation", "R001"], "error: unknown kind 'invoce'; did you mean 'invoice'?"),
    ],
)
def test_message_errors_exit_1(files: tuple[str, str], args: list[str], message: str) -> None:
    """A message that cannot be built exits 1 with one clear line."""
    table, data = files
    code, out, err = run("resolve", table, "--data", data, *args)
    assert (code, out, err) == (1, "", message.format(data=data) + "\n")


def test_mailing_without_consent_is_reported_not_failed(files: tuple[str, str]) -> None:
    """A skipped mailing is not a failure."""
    table, data = files
    code, out, _ = run("resolve", table, "--data", data, "--kind", "mailing", "--relation", "R002")
    assert code == 0
    assert json.loads(out) == {
        "kind": "mailing",
        "relation": "R002",
        "skipped": "relation 'R002' does not accept promotional mail: mailing skipped",
    }


def test_invalid_addresses_are_warned_about(files: tuple[str, str]) -> None:
    """An invalid recipient is skipped, with a warning on stderr."""
    table, data = files
    code, out, err = run(
        "resolve",
        table,
        "--data",
        data,
        "--kind",
        "welcome",
        "--relation",
        "R001",
        "--recipient",
        "Jan <jan@x.be>",
        "--recipient",
        "ok@garage-martin.be",
    )
    assert code == 0 and json.loads(out)["to"] == ["ok@garage-martin.be"]
    assert err == (
        "warning: recipient 'Jan <jan@x.be>' is not a valid address (A display name and angle brackets "
        "around the email address are not permitted here.); skipped\n"
    )


def test_missing_placeholder_value_exits_1(files: tuple[str, str]) -> None:
    """A reminder inherits the invoice subject: without a document its placeholder has no value."""
    table, data = files
    code, out, err = run("resolve", table, "--data", data, "--kind", "reminder", "--relation", "R001")
    assert (code, out, err) == (1, "", "error: 'document.number' has no value for this message\n")


def test_bad_data_file_exits_1(files: tuple[str, str], tmp_path: Path) -> None:
    """A data file with an alias is refused with its line."""
    table, _ = files
    bad = tmp_path / "bad.yaml"
    bad.write_text("users: &u []\nrelations: *u\n", encoding="utf-8")
    code, out, err = run("resolve", table, "--data", str(bad), "--kind", "invoice", "--relation", "R001")
    assert (code, out, err) == (
        1,
        "",
        f"error: {bad}:1: YAML anchors (&name) are not allowed in data files\n",
    )


def test_table_of_another_version_exits_1(files: tuple[str, str], tmp_path: Path) -> None:
    """An old rule table asks to be compiled again."""
    _, data = files
    old = tmp_path / "old.json"
    old.write_text(json.dumps({**make_table(), "format_version": 0}), encoding="utf-8")
    code, _, err = run("resolve", str(old), "--data", data, "--kind", "invoice", "--relation", "R001")
    assert code == 1
    assert err == (
        f"error: {old}: rule table format version 0 is not supported (this mailpolicy reads version 1); "
        "compile the policy again\n"
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ["missing.json", "--data", "{data}", "--kind", "invoice", "--relation", "R001"],
            "File 'missing.json' does not exist.",
        ),
        (
            ["{table}", "--data", "missing.yaml", "--kind", "invoice", "--relation", "R001"],
            "File 'missing.yaml' does not exist.",
        ),
        (["{table}", "--data", "{data}", "--kind", "invoice"], "give --relation ID or --document ID"),
        (["{table}", "--data", "{data}", "--relation", "R001"], "Missing option '--kind'"),
    ],
)
def test_usage_errors_exit_2(files: tuple[str, str], args: list[str], needle: str) -> None:
    """Missing files and options are usage errors."""
    table, data = files
    code, _, err = run("resolve", *[a.format(table=table, data=data) for a in args])
    assert code == 2
    assert needle in err


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize(
    "args",
    [
        ["--kind", "invoice", "--document", "F2026-0042", "--sender", "jan"],
        ["--kind", "invoice", "--document", "F2026-0043", "--sender", "pieter"],
        ["--kind", "reminder", "--document", "F2026-0044"],
        ["--kind", "task", "--relation", "R003", "--sender", "pieter"],
        ["--kind", "welcome", "--relation", "R004", "--recipient", "jean.dupuis@gmail.com"],
        ["--kind", "notification.vat_ok", "--relation", "R001"],
        ["--kind", "invoice", "--document", "F2026-0045"],
    ],
    ids=[
        "invoice",
        "invoice-nl-large",
        "reminder",
        "task-gmail-sender",
        "welcome",
        "notification",
        "invalid",
    ],
)
def test_explain_the_example(args: list[str], file_snapshot: object) -> None:
    """`resolve --explain` on the bundled example policy and data, compiled from the .mail file."""
    policy, data = str(EXAMPLES / "firm-settings.mail"), str(EXAMPLES / "data.yaml")
    code, out, _ = run("resolve", policy, "--data", data, *args, "--explain")
    assert code == 0
    assert out == file_snapshot


def test_a_compiled_table_resolves_like_its_policy(tmp_path: Path) -> None:
    """`compile -o table.json` then `resolve table.json` gives what `resolve policy.mail` gives."""
    table = tmp_path / "firm-settings.json"
    code, _, _ = run("compile", str(EXAMPLES / "firm-settings.mail"), "-o", str(table))
    assert code == 0
    args = [
        "--data",
        str(EXAMPLES / "data.yaml"),
        "--kind",
        "reminder",
        "--document",
        "F2026-0044",
        "--explain",
    ]
    from_table = run("resolve", str(table), *args)
    from_policy = run("resolve", str(EXAMPLES / "firm-settings.mail"), *args)
    assert from_table[0] == 0
    assert from_table == from_policy


def test_policy_errors_are_shown_with_their_line(tmp_path: Path) -> None:
    """A policy with errors prints its diagnostics and exits 1 before resolving anything."""
    policy = tmp_path / "bad.mail"
    policy.write_text(
        (EXAMPLES / "firm-settings.mail").read_text(encoding="utf-8") + "reply_to = responsibel\n",
        encoding="utf-8",
    )
    code, out, err = run(
        "resolve", str(policy), "--data", str(EXAMPLES / "data.yaml"), "--kind", "task", "--relation", "R001"
    )
    assert (code, out) == (1, "")
    assert "error[" in err and "unknown address source 'responsibel'" in err
    assert "help: did you mean 'responsible'?" in err
    assert err.endswith(f"error: {policy}: the policy has errors\n")

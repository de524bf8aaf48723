"""`mailpolicy test`: cases files run on the runtime, failure output, -v, -k, coverage, bad cases files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailpolicy.cli import cli
from mailpolicy.policytest import CASE_KEYS, EXPECT_KEYS
from tests.clirun import run
from tests.runtime.tables import Rule, cmp, else_, free, make_table, role, src, write_data

# Each term on its own line, so every `else` alternative has its own location for coverage.
RULES = [
    Rule("reply_to", else_(role("responsible", 20), src("company", 21))),
    Rule("invoice.bcc", free("office@dupont-associes.be", 22)),
    Rule("invoice.bcc", free("direction@dupont-associes.be", 23), when=cmp("document.amount", ">=", 10000)),
    Rule("task.cc", else_(role("partner", 24), src("sender", 25), free("fallback@dupont-associes.be", 26))),
]

PASSING = """\
data: data.yaml
cases:
  - name: invoice to the garage
    kind: invoice
    relation: R001
    document: F2026-0042
    expect:
      from: inbox@mailer.example
      to: [compta@garage-martin.be]
      reply_to: [jan@dupont-associes.be]
      bcc: [office@dupont-associes.be]
      cc: []
      subject: ""
      from_name: Cabinet Dupont & Associés
  - name: large invoice copies the direction
    kind: invoice
    document: F2026-0050
    expect:
      bcc: [direction@dupont-associes.be]
  - name: bakery replies to its responsible
    kind: task
    relation: R002
    expect:
      reply_to: [MARIE@dupont-associes.be]
      to: "boekhouding@bakkerij.be, info@bakkerij.be"
"""


@pytest.fixture
def table_path(tmp_path: Path) -> Path:
    """A compiled-shaped rule table written as JSON (the CLI accepts tables as well as policies)."""
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(make_table(RULES, first_line=10)), encoding="utf-8")
    write_data(tmp_path)
    return path


def own(out: str) -> list[str]:
    """The output without the coverage lines of built-in defaults (tested on their own)."""
    return [line for line in out.splitlines() if "built-in default:" not in line]


def write(folder: Path, text: str, name: str = "cases.yaml") -> str:
    """Write a cases file next to the data file."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_all_pass(table_path: Path, tmp_path: Path) -> None:
    cases = write(tmp_path, PASSING)
    code, out, err = run("test", str(table_path), cases)
    assert code == 0, out + err
    assert out.splitlines()[-1] == "3 passed, 0 failed"
    assert "FAIL" not in out


def test_verbose_lists_every_case(table_path: Path, tmp_path: Path) -> None:
    cases = write(tmp_path, PASSING)
    code, out, _ = run("test", str(table_path), cases, "-v")
    assert code == 0
    assert out.splitlines()[:3] == [
        f"PASS {cases}:3: invoice to the garage",
        f"PASS {cases}:15: large invoice copies the direction",
        f"PASS {cases}:20: bakery replies to its responsible",
    ]


def test_failure_shows_expected_actual_and_the_trace_of_that_field(table_path: Path, tmp_path: Path) -> None:
    cases = write(
        tmp_path,
        "data: data.yaml\ncases:\n"
        "  - name: wrong bcc\n    kind: invoice\n    document: F2026-0042\n"
        "    expect:\n      bcc: [someone@else.be]\n      subject: Facture\n",
    )
    code, out, _ = run("test", str(table_path), cases)
    assert code == 1
    assert own(out) == [
        f"FAIL {cases}:3: wrong bcc",
        "  bcc: expected [someone@else.be], got [office@dupont-associes.be]",
        "    bcc: invoice (line 11:1)",
        "      - invoice rule at line 12:1: condition false",
        '      + free "office@dupont-associes.be": office@dupont-associes.be',
        "  subject: expected 'Facture', got ''",
        "    subject: general (built-in default)",
        "fallback coverage: 1 of 15 `else` alternatives exercised",
        f"  not exercised: {table_path}:21:1: `company` in `reply_to = responsible else company`",
        f"  not exercised: {table_path}:24:1: `partner` in "
        '`task.cc = partner else sender else free "fallback@dupont-associes.be"`',
        f"  not exercised: {table_path}:25:1: `sender` in "
        '`task.cc = partner else sender else free "fallback@dupont-associes.be"`',
        f'  not exercised: {table_path}:26:1: `free "fallback@dupont-associes.be"` in '
        '`task.cc = partner else sender else free "fallback@dupont-associes.be"`',
        "0 passed, 1 failed",
    ]


def test_coverage_counts_alternatives_that_yielded(table_path: Path, tmp_path: Path) -> None:
    cases = write(
        tmp_path,
        PASSING + "  - name: no responsible falls back to company\n    kind: task\n    relation: R003\n"
        "    sender: jan\n    expect:\n      reply_to: [info@dupont-associes.be]\n"
        "      cc: [jan@dupont-associes.be]\n"
        "  - name: partner in cc\n    kind: task\n    relation: R001\n    expect:\n"
        "      cc: [marie@dupont-associes.be]\n",
    )
    code, out, _ = run("test", str(table_path), cases)
    assert code == 0, out
    # the bakery has neither partner nor sender: its task uses the free fallback
    assert own(out) == [
        "fallback coverage: 5 of 15 `else` alternatives exercised",
        "5 passed, 0 failed",
    ]
    code, out, _ = run("test", str(table_path), cases, "-k", "partner")
    assert own(out) == [
        "fallback coverage: 2 of 15 `else` alternatives exercised",
        f"  not exercised: {table_path}:21:1: `company` in `reply_to = responsible else company`",
        f"  not exercised: {table_path}:25:1: `sender` in "
        '`task.cc = partner else sender else free "fallback@dupont-associes.be"`',
        f'  not exercised: {table_path}:26:1: `free "fallback@dupont-associes.be"` in '
        '`task.cc = partner else sender else free "fallback@dupont-associes.be"`',
        "1 passed, 0 failed",
    ]


def test_select_with_k(table_path: Path, tmp_path: Path) -> None:
    cases = write(tmp_path, PASSING)
    code, out, _ = run("test", str(table_path), cases, "-k", "INVOICE", "-v")
    assert code == 0
    assert [line for line in out.splitlines() if line.startswith("PASS")] == [
        f"PASS {cases}:3: invoice to the garage",
        f"PASS {cases}:15: large invoice copies the direction",
    ]
    assert out.splitlines()[-1] == "2 passed, 0 failed"
    code, out, err = run("test", str(table_path), cases, "-k", "nothing-like-this")
    assert code == 1
    assert out.splitlines()[-1] == "0 passed, 0 failed"
    assert err == "error: no case matches -k 'nothing-like-this'\n"


def test_errors_and_skips_can_be_expected(table_path: Path, tmp_path: Path) -> None:
    data = (tmp_path / "data.yaml").read_text(encoding="utf-8")
    data = data.replace("    emails: [rien@example.org]\n", "    emails: []\n")
    (tmp_path / "data.yaml").write_text(data, encoding="utf-8")
    cases = write(
        tmp_path,
        "data: data.yaml\ncases:\n"
        "  - name: nobody to write to\n    kind: invoice\n    relation: R003\n"
        "    expect:\n      error: \"no 'to' address\"\n"
        "  - name: no consent, no mailing\n    kind: mailing\n    relation: R002\n"
        "    expect:\n      skipped: true\n"
        "  - name: unexpected error\n    kind: invoice\n    relation: R003\n"
        "    expect:\n      to: [x@y.be]\n",
    )
    code, out, _ = run("test", str(table_path), cases)
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"FAIL {cases}:13: unexpected error"
    assert lines[1].startswith("  error: no 'to' address for kind 'invoice', relation 'R003'")
    assert lines[-1] == "2 passed, 1 failed"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cases: []\n", "{path}: 'data' is required"),
        (
            "data: nope.yaml\ncases: []\n",
            "{path}: data file 'nope.yaml' not found (looked for {folder}/nope.yaml)",
        ),
        ("data: data.yaml\ncases: []\n", "{path}: 'cases' must be a non-empty list"),
        (
            "data: data.yaml\ndatum: 1\ncases: []\n",
            "{path}: unknown key 'datum' (expected 'data' and 'cases')",
        ),
        (
            "data: data.yaml\ncases:\n  - name: a\n    kind: invoice\n"
            "    relaton: R001\n    expect: {to: []}\n",
            "{path}:3: case 1: unknown key 'relaton'; did you mean 'relation'?",
        ),
        (
            "data: data.yaml\ncases:\n  - name: a\n    kind: invoice\n"
            "    relation: R001\n    expect: {bc: []}\n",
            "{path}:3: case 'a': unknown expect key 'bc'; did you mean 'bcc'?",
        ),
        (
            "data: data.yaml\ncases:\n  - name: a\n    relation: R001\n    expect: {to: []}\n",
            "{path}:3: case 'a': 'kind' is required",
        ),
        (
            "data: data.yaml\ncases:\n  - name: a\n    kind: invoice\n    expect: {to: []}\n",
            "{path}:3: case 'a': 'relation' is required (or a 'document' of the relation)",
        ),
        (
            "data: data.yaml\ncases:\n  - name: a\n    kind: invoice\n    relation: R001\n",
            "{path}:3: case 'a': 'expect' must be a mapping of header values (`{{}}`: the message builds)",
        ),
        (
            "data: data.yaml\ncases:\n  - &a {name: x}\n  - *a\n",
            "{path}:3: YAML anchors (&name) are not allowed in data files",
        ),
        ("data: [unclosed\n", "{path}:2: not valid YAML: did not find expected ',' or ']'"),
    ],
)
def test_bad_cases_files_are_reported_without_traceback(
    table_path: Path, tmp_path: Path, text: str, message: str
) -> None:
    cases = write(tmp_path, text)
    code, out, err = run("test", str(table_path), cases)
    assert code == 1
    assert out == ""
    assert err == "error: " + message.format(path=cases, folder=tmp_path) + "\n"


def test_missing_cases_file_is_a_usage_error(table_path: Path, tmp_path: Path) -> None:
    code, _, err = run("test", str(table_path), str(tmp_path / "none.yaml"))
    assert code == 2
    assert err == f"error: no such cases file: {tmp_path / 'none.yaml'}\n"


def test_example_cases_pass_and_cover_every_reachable_fallback(example_policy: Path) -> None:
    cases = example_policy.parent / "firm-settings.cases.yaml"
    code, out, err = run("test", str(example_policy), str(cases))
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0] == "fallback coverage: 17 of 17 `else` alternatives exercised"
    assert not [line for line in lines if "not exercised" in line]
    # `communication` after `functional` (which this firm has) can never be reached: said, not counted.
    assert [line.split(": `")[1] for line in lines if line.startswith("  unreachable:")] == [
        "communication` in `welcome.from = file_manager else client_group else functional "
        "else communication` (an earlier term always yields)",
        "communication` in `notification.to = file_manager else client_group else functional "
        "else communication` (an earlier term always yields)",
    ]
    assert lines[-1] == "24 passed, 0 failed"


def test_terms_after_one_that_always_yields_are_unreachable(tmp_path: Path) -> None:
    rules = [
        Rule("cc", else_(role("partner", 30), free("a@dupont-associes.be", 31), src("sender", 32))),
        # In From, a free address off the verified domains may yield nothing: `sender` stays reachable.
        Rule(
            "from", else_(free("x@gmail.com", 33), src("sender", 34), src("platform", 35), src("company", 36))
        ),
    ]
    path = tmp_path / "t.json"
    path.write_text(json.dumps(make_table(rules)), encoding="utf-8")
    write_data(tmp_path)
    cases = write(
        tmp_path, "data: data.yaml\ncases:\n  - {name: a, kind: task, relation: R001, expect: {cc: []}}\n"
    )
    code, out, _ = run("test", str(path), cases)
    assert code == 1
    coverage = [line.split(": `")[0].strip() for line in own(out) if line.startswith(("  not", "  unr"))]
    # partner and platform yielded for this automated task; `company` after `platform` is dead.
    assert coverage == [
        f"not exercised: {path}:31:1",
        f"unreachable: {path}:32:1",
        f"not exercised: {path}:33:1",
        f"not exercised: {path}:34:1",
        f"unreachable: {path}:36:1",
    ]
    assert "fallback coverage: 2 of 15 `else` alternatives exercised" in out


def test_builtin_cascades_count_unless_a_rule_replaces_them(tmp_path: Path) -> None:
    # An unconditional notification.to replaces that cascade; a conditional reminder.to does not.
    rules = [
        Rule("notification.to", role("responsible", 40)),
        Rule("reminder.to", src("contact", 41), when=cmp("document.amount", ">=", 10000)),
    ]
    path = tmp_path / "t.json"
    path.write_text(json.dumps(make_table(rules)), encoding="utf-8")
    write_data(tmp_path)
    cases = write(
        tmp_path,
        "data: data.yaml\ncases:\n"
        "  - {name: dunning, kind: reminder, document: F2026-0042, expect: {}}\n"
        "  - {name: welcome, kind: welcome, relation: R001, recipient: [a@b.be], expect: {}}\n",
    )
    code, out, _ = run("test", str(path), cases)
    assert code == 0, out
    reminder = "`reminder.to = recipient else document.dunning_emails else dunning else contact`"
    welcome = "`welcome.from = file_manager else client_group else functional else communication`"
    assert out.splitlines() == [
        "fallback coverage: 2 of 7 `else` alternatives exercised",
        f"  not exercised: built-in default: `recipient` in {reminder}",
        f"  not exercised: built-in default: `document.dunning_emails` in {reminder}",
        f"  not exercised: built-in default: `contact` in {reminder}",
        f"  not exercised: built-in default: `client_group` in {welcome}",
        f"  not exercised: built-in default: `functional` in {welcome}",
        f"  unreachable: built-in default: `communication` in {welcome} (an earlier term always yields)",
        "2 passed, 0 failed",
    ]


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from(["R001", "invoice", "jan", "a@b.be", "", "x"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from([*CASE_KEYS, *EXPECT_KEYS, "data", "cases", "zzz"]), inner, max_size=4
        ),
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases=st.lists(VALUES, max_size=3))
def test_any_cases_file_runs_or_is_refused_cleanly(
    table_path: Path, tmp_path: Path, cases: list[object]
) -> None:
    """Whatever the shape of a cases file, the runner reports (or refuses it) without a traceback."""
    text = yaml.safe_dump({"data": "data.yaml", "cases": cases}, allow_unicode=True)
    path = write(tmp_path, text, "fuzz.yaml")
    result = CliRunner().invoke(cli, ["test", str(table_path), path])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (0, 1)
    if result.exit_code == 1 and not result.stdout:
        assert result.stderr.startswith(f"error: {path}")

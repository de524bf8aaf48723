"""`mailpolicy test`: policy unit tests from YAML cases files, run on the runtime, with fallback coverage.

A cases file names its data file (relative to itself) and lists cases; each case resolves one
message with the runtime and compares the headers it names under `expect` (SPEC section 5).
Only the runtime is used, so the cases test exactly what a sending service would do with the
compiled table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mailpolicy.compiler.lint import expr_text
from mailpolicy.runtime.addresses import address_key, on_verified_domain, split_addresses
from mailpolicy.runtime.data import Dataset, load_data
from mailpolicy.runtime.errors import DataError, MessageError, MessageSkipped
from mailpolicy.runtime.resolve import Envelope, format_trace, resolve_message
from mailpolicy.runtime.safe_yaml import parse_yaml
from mailpolicy.runtime.table import RuleTable

CASE_KEYS = ("name", "kind", "relation", "sender", "document", "recipient", "expect")
ADDRESS_LISTS = ("reply_to", "to", "cc", "bcc")
# `error` and `skipped` go beyond SPEC section 5: they let a case pin a message that must fail
# (no `to` address) or a mailing that must be skipped (no consent).
EXPECT_KEYS = ("from", "from_name", "reply_to", "to", "cc", "bcc", "subject", "error", "skipped")


class CasesError(Exception):
    """A cases file that cannot be run: unreadable, not the documented shape, or bad data."""


@dataclass
class Case:
    """One case of a cases file."""

    path: Path
    line: int
    name: str
    kind: str
    relation: str | None
    sender: str | None
    document: str | None
    recipients: list[str]
    expect: dict[str, Any]
    data: Dataset

    @property
    def where(self) -> str:
        """`cases.yaml:12`, where the case starts."""
        return f"{self.path}:{self.line}"


@dataclass
class CaseResult:
    """The outcome of one case: passed or not, and the lines that explain a failure."""

    case: Case
    passed: bool
    details: list[str] = field(default_factory=list)
    envelope: Envelope | None = None


@dataclass
class Alternative:
    """One term of an `else` chain in effect (the policy's or a built-in default's), and its use."""

    line: int  # 0 for a built-in default
    column: int
    term: str
    rule: str
    # What identifies its sources in a trace: ("loc", line, column) for a source written in the
    # policy, ("builtin", kind, field, source) for one of a built-in default (which has no loc).
    marks: frozenset[tuple[Any, ...]] = frozenset()
    exercised: bool = False
    reachable: bool = True  # False after a term that always yields: no case can exercise it

    def where(self, policy: str) -> str:
        """`policy.mail:12:30` or `built-in default`."""
        return f"{policy}:{self.line}:{self.column}" if self.line else "built-in default"


@dataclass
class TestReport:
    """Every case result and the fallback coverage of the run."""

    results: list[CaseResult]
    alternatives: list[Alternative]

    @property
    def passed(self) -> int:
        """How many cases passed."""
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        """How many cases failed."""
        return len(self.results) - self.passed

    def render(self, *, policy: str, verbose: bool = False) -> str:
        """The runner output: failures (every case with VERBOSE), coverage, `N passed, M failed`."""
        out: list[str] = []
        for result in self.results:
            if result.passed and not verbose:
                continue
            status = "PASS" if result.passed else "FAIL"
            out.append(f"{status} {result.case.where}: {result.case.name}")
            out.extend("  " + line for line in result.details)
        reachable = [a for a in self.alternatives if a.reachable]
        if self.alternatives:
            used = sum(a.exercised for a in reachable)
            out.append(f"fallback coverage: {used} of {len(reachable)} `else` alternatives exercised")
            for alt in self.alternatives:
                where = f"{alt.where(policy)}: `{alt.term}` in `{alt.rule}`"
                if not alt.reachable:
                    out.append(f"  unreachable: {where} (an earlier term always yields)")
                elif not alt.exercised:
                    out.append(f"  not exercised: {where}")
        out.append(f"{self.passed} passed, {self.failed} failed")
        return "\n".join(out) + "\n"


# --- reading cases files ----------------------------------------------------------------------


def _text(value: Any, where: str, key: str, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise CasesError(f"{where}: '{key}' is required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise CasesError(f"{where}: '{key}' must be a text, not {type(value).__name__}")
    return str(value)


def _case_lines(text: str) -> list[int]:
    """The line where each item of `cases:` starts (the file already parsed safely once)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if key.value == "cases" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def load_cases(path: str | Path) -> list[Case]:
    """The cases of one file, with its data loaded; CasesError names the file, case and key."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise CasesError(f"{path}: no such cases file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CasesError(f"{path}: cannot read: {exc}") from None
    try:
        raw = parse_yaml(text, str(path))
    except DataError as exc:
        raise CasesError(str(exc)) from None
    if not isinstance(raw, dict):
        raise CasesError(f"{path}: expected a mapping with 'data' and 'cases'")
    unknown = sorted(set(raw) - {"data", "cases"})
    if unknown:
        raise CasesError(f"{path}: unknown key '{unknown[0]}' (expected 'data' and 'cases')")
    data_name = _text(raw.get("data"), str(path), "data", required=True)
    assert data_name is not None
    data_path = path.parent / data_name
    if not data_path.is_file():
        raise CasesError(f"{path}: data file '{data_name}' not found (looked for {data_path})")
    try:
        data = load_data(data_path)
    except DataError as exc:
        raise CasesError(str(exc)) from None
    items = raw.get("cases")
    if not isinstance(items, list) or not items:
        raise CasesError(f"{path}: 'cases' must be a non-empty list")
    lines = _case_lines(text)
    cases = []
    for index, item in enumerate(items):
        line = lines[index] if index < len(lines) else 0
        where = f"{path}:{line}: case {index + 1}"
        if not isinstance(item, dict):
            raise CasesError(f"{where}: expected a mapping with name, kind, relation and expect")
        for key in item:
            if key not in CASE_KEYS:
                raise CasesError(f"{where}: unknown key '{key}'{_hint(str(key), CASE_KEYS)}")
        name = _text(item.get("name"), where, "name", required=True)
        assert name is not None
        where = f"{path}:{line}: case '{name}'"
        kind = _text(item.get("kind"), where, "kind", required=True)
        assert kind is not None
        relation = _text(item.get("relation"), where, "relation")
        document = _text(item.get("document"), where, "document")
        if relation is None and document is None:
            raise CasesError(f"{where}: 'relation' is required (or a 'document' of the relation)")
        recipients = item.get("recipient") or []
        if isinstance(recipients, str):
            recipients = [recipients]
        if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
            raise CasesError(f"{where}: 'recipient' must be a list of addresses")
        expect = item.get("expect")
        if not isinstance(expect, dict):
            raise CasesError(
                f"{where}: 'expect' must be a mapping of header values (`{{}}`: the message builds)"
            )
        for key in expect:
            if key not in EXPECT_KEYS:
                raise CasesError(f"{where}: unknown expect key '{key}'{_hint(str(key), EXPECT_KEYS)}")
        cases.append(
            Case(
                path=path,
                line=line,
                name=name,
                kind=kind,
                relation=relation,
                sender=_text(item.get("sender"), where, "sender"),
                document=document,
                recipients=[str(r) for r in recipients],
                expect=_normalise_expect(expect, where),
                data=data,
            )
        )
    return cases


def _hint(name: str, candidates: Sequence[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _normalise_expect(expect: Mapping[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in expect.items():
        if key in ADDRESS_LISTS:
            if value is None:
                value = []
            if isinstance(value, str):
                value = split_addresses(value)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise CasesError(f"{where}: expect '{key}' must be a list of addresses")
            out[key] = [str(v) for v in value]
        elif key == "skipped":
            if value not in (True, False, "true", "false"):
                raise CasesError(f"{where}: expect 'skipped' must be true or false")
            out[key] = value in (True, "true")
        else:
            text = _text(value, where, f"expect {key}")
            out[key] = "" if text is None else text
    return out


# --- running ----------------------------------------------------------------------------------


def _show(addresses: Iterable[str]) -> str:
    return "[" + ", ".join(addresses) + "]"


def _field_trace(envelope: Envelope, fieldname: str) -> list[str]:
    """The trace lines of one field, as `resolve --explain` shows them."""
    if fieldname not in envelope.trace:
        return []
    only = dataclasses.replace(envelope, trace={fieldname: envelope.trace[fieldname]}, warnings=[])
    return format_trace(only).splitlines()


def _compare(case: Case, env: Envelope) -> list[str]:
    details: list[str] = []
    for key, expected in case.expect.items():
        if key in ("error", "skipped"):
            continue
        if key == "from":
            actual_text = env.from_address
            same = address_key(actual_text) == address_key(str(expected))
            shown = f"expected {expected}, got {actual_text}"
        elif key in ADDRESS_LISTS:
            actual = list(getattr(env, key))
            same = {address_key(a) for a in actual} == {address_key(e) for e in expected}
            shown = f"expected {_show(expected)}, got {_show(actual)}"
        else:
            actual_value = env.from_name if key == "from_name" else env.subject
            same = actual_value == expected
            shown = f"expected {expected!r}, got {actual_value!r}"
        if not same:
            details.append(f"{key}: {shown}")
            details.extend("  " + line for line in _field_trace(env, key))
    return details


def run_case(table: RuleTable, case: Case) -> CaseResult:
    """Resolve the case's message with the runtime and compare what it expects."""
    expect = case.expect
    try:
        env = resolve_message(
            table,
            case.data,
            kind=case.kind,
            relation=case.relation,
            sender=case.sender,
            document=case.document,
            recipients=case.recipients,
        )
    except MessageSkipped as exc:
        if expect.get("skipped"):
            return CaseResult(case, True)
        return CaseResult(case, False, [f"skipped: {exc.message}"])
    except MessageError as exc:
        wanted = expect.get("error")
        if wanted is not None and wanted in exc.message:
            return CaseResult(case, True)
        if wanted is not None:
            return CaseResult(
                case, False, [f"error: expected a message containing {wanted!r}, got {exc.message!r}"]
            )
        return CaseResult(case, False, [f"error: {exc.message}"])
    except DataError as exc:
        return CaseResult(case, False, [f"error: {exc}"])
    if expect.get("skipped"):
        return CaseResult(case, False, ["skipped: expected the mailing to be skipped, but it was built"], env)
    if "error" in expect:
        return CaseResult(
            case,
            False,
            [f"error: expected an error containing {expect['error']!r}, but the message was built"],
            env,
        )
    details = _compare(case, env)
    return CaseResult(case, not details, details, env)


# --- fallback coverage ------------------------------------------------------------------------


def _leaf_locs(expr: Mapping[str, Any]) -> Iterator[tuple[int, int]]:
    op = expr.get("op")
    if op in ("else", "union"):
        for child in expr.get("terms", expr.get("items", [])):
            yield from _leaf_locs(child)
    elif expr.get("loc"):
        yield expr["loc"]["line"], expr["loc"]["column"]


def _else_chains(expr: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    if expr.get("op") == "else":
        yield expr
    for child in list(expr.get("terms", [])) + list(expr.get("items", [])):
        yield from _else_chains(child)


def _builtin_in_effect(rules: Sequence[Mapping[str, Any]], builtin: Mapping[str, Any]) -> bool:
    """A kind's built-in default is in effect unless an unconditional rule without language precedes it."""
    for rule in rules:
        if rule is builtin:
            return True
        if rule.get("when") is None and rule.get("lang") is None:
            return False
    return False


def policy_alternatives(table: RuleTable) -> list[Alternative]:
    """Every term of every `else` chain in effect: those written in the policy, then those of the
    built-in defaults that no unconditional rule of the policy replaces (the dunning and welcome
    cascades)."""
    found: list[Alternative] = []
    for kind, fields in table.rules.items():
        for fieldname, rules in fields.items():
            for rule in rules:
                if "expr" not in rule:
                    continue
                builtin = bool(rule.get("builtin")) or not rule.get("loc")
                if builtin and not _builtin_in_effect(rules, rule):
                    continue
                target = fieldname if kind == "general" else f"{kind}.{fieldname}"
                if rule.get("lang"):
                    target += f"[{rule['lang']}]"
                text = f"{target} = {expr_text(rule['expr'])}"
                for chain in _else_chains(rule["expr"]):
                    reachable = True
                    for term in chain["terms"]:
                        marks: set[tuple[Any, ...]]
                        if builtin:
                            line, column = 0, 0
                            marks = {("builtin", kind, fieldname, leaf) for leaf in _leaf_names(term)}
                        else:
                            locs = list(_leaf_locs(term))
                            line, column = min(locs) if locs else (0, 0)
                            marks = {("loc", *loc) for loc in locs}
                        if marks:
                            found.append(
                                Alternative(
                                    line,
                                    column,
                                    expr_text(term),
                                    text,
                                    frozenset(marks),
                                    reachable=reachable,
                                )
                            )
                        reachable = reachable and not _always_yields(term, table.firm, fieldname)
    # The policy's own alternatives in source order, then the built-in ones.
    found.sort(key=lambda a: (a.line == 0, a.line, a.column))
    return found


def _leaf_names(expr: Mapping[str, Any]) -> Iterator[str]:
    if expr.get("op") in ("else", "union"):
        for child in expr.get("terms", expr.get("items", [])):
            yield from _leaf_names(child)
    else:
        yield expr_text(expr)


def _always_yields(expr: Mapping[str, Any], firm: Mapping[str, Any], fieldname: str) -> bool:
    """Whether a term yields an address for every message, so the terms after it are never tried.

    In `from` only addresses on a verified domain count, except `platform`, which From never
    checks (the same reasoning as lint MP601, kept here so the runner needs only the table).
    """
    op = expr.get("op")
    if op in ("else", "union"):
        children = expr.get("terms", expr.get("items", []))
        return any(_always_yields(child, firm, fieldname) for child in children)
    if op == "free":
        address: str | None = expr.get("address")
    elif op == "source" and expr.get("name") in ("company", "functional", "communication"):
        address = firm.get(str(expr["name"]))
    elif op == "source" and expr.get("name") == "platform":
        return True
    elif op == "source" and expr.get("name") == "reply_to":
        return fieldname != "from"  # Reply-To is never empty, but need not be on a verified domain
    else:
        return False
    if not address:
        return False
    return fieldname != "from" or on_verified_domain(address, firm.get("verified_domains", []))


def _used_marks(trace: Mapping[str, Any], fieldname: str) -> Iterator[tuple[Any, ...]]:
    """The marks of every source that yielded in a field's trace (nested `general` traces too)."""
    builtin = trace.get("rule") == "builtin"
    for entry in trace.get("tried", []):
        if entry.get("result") == "used":
            if entry.get("loc"):
                yield ("loc", entry["loc"]["line"], entry["loc"]["column"])
            elif builtin:
                yield ("builtin", trace.get("kind"), fieldname, entry.get("source"))
        if isinstance(entry.get("via"), Mapping):
            yield from _used_marks(entry["via"], fieldname)


def _mark_coverage(table: RuleTable, results: Iterable[CaseResult]) -> list[Alternative]:
    used: set[tuple[Any, ...]] = set()
    for result in results:
        if result.envelope is not None:
            for fieldname, trace in result.envelope.trace.items():
                used.update(_used_marks(trace, fieldname))
    alternatives = policy_alternatives(table)
    for alt in alternatives:
        alt.exercised = bool(alt.marks & used)
    return alternatives


def run_tests(table: RuleTable, case_files: Sequence[str | Path], *, select: str | None = None) -> TestReport:
    """Load every cases file, run the cases whose name contains SELECT, and measure coverage.

    Coverage counts only the cases run, so `-k` narrows it too.
    """
    cases = [case for path in case_files for case in load_cases(path)]
    if select:
        cases = [c for c in cases if select.lower() in c.name.lower()]
    results = [run_case(table, case) for case in cases]
    return TestReport(results, _mark_coverage(table, results))

"""Loading a compiled rule table (docs/ARCHITECTURE.md) and walking its kinds and rules."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from mailpolicy.runtime.errors import TableError

FORMAT = "mailpolicy-ruletable"
FORMAT_VERSION = 1


@dataclass
class RuleTable:
    """A validated rule table: the firm, kinds with parents, rules in precedence order, and more.

    `base_dir` is the folder of the table (or policy) file, for paths the table refers to.
    """

    raw: dict[str, Any]
    firm: dict[str, Any]
    roles: list[str]
    kinds: dict[str, dict[str, Any]]
    rules: dict[str, dict[str, list[dict[str, Any]]]]
    audiences: dict[str, dict[str, Any]]
    smtp: dict[str, Any]
    templates: dict[str, dict[str, Any]]
    policy: str | None = None
    base_dir: Path | None = field(default=None)

    @property
    def parents(self) -> dict[str, str | None]:
        """Kind name → parent kind name (None for `general`)."""
        return {name: info.get("parent") for name, info in self.kinds.items()}

    def lineage(self, kind: str) -> Iterator[str]:
        """The kind, its parent, and so on up to `general`."""
        seen: set[str] = set()
        current: str | None = kind
        while current is not None and current not in seen:
            seen.add(current)
            yield current
            current = self.kinds.get(current, {}).get("parent")

    def candidates(self, kind: str, field_name: str) -> list[dict[str, Any]]:
        """The rules of one kind (not its parents) for one field, in precedence order."""
        return self.rules.get(kind, {}).get(field_name, [])


def _schema() -> dict[str, Any] | None:
    try:
        text = resources.files("mailpolicy").joinpath("schemas/ruletable.schema.json").read_text("utf-8")
    except (FileNotFoundError, OSError):
        return None
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _validate(raw: dict[str, Any], name: str) -> None:
    schema = _schema()
    if schema is None:
        # The schema ships with the compiler; until it exists only the structural checks below run.
        return
    import jsonschema  # lazily: loading a table is the only place the runtime needs it here

    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(raw))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise TableError(f"{name}: not a valid rule table at {where}: {error.message}")


def _free_addresses(expr: Any) -> Iterator[str]:
    if isinstance(expr, dict):
        if expr.get("op") == "free":
            yield expr.get("address", "")
        for key in ("terms", "items"):
            for item in expr.get(key) or []:
                yield from _free_addresses(item)


def _check_addresses(table: RuleTable, name: str) -> None:
    """Every address the table itself puts in headers is one valid address; firm ones normalised.

    The compiler guarantees validity; checking again costs little and keeps a hand-edited or
    tampered table from smuggling a second address or a line break into a header.
    """
    from mailpolicy.runtime.addresses import InvalidAddress, check_address

    for key in ("company", "functional", "communication", "platform"):
        address = table.firm.get(key)
        if address is None and key in ("functional", "communication"):
            continue
        try:
            table.firm[key] = check_address(str(address))
        except InvalidAddress as exc:
            raise TableError(
                f"{name}: not a valid rule table: firm.{key}: {address!r} is not a valid address ({exc})"
            ) from None
    for kind, fields in table.rules.items():
        for field_name, rules in fields.items():
            for rule in rules:
                for address in _free_addresses(rule.get("expr")):
                    try:
                        check_address(address)
                    except InvalidAddress as exc:
                        raise TableError(
                            f"{name}: not a valid rule table: rules.{kind}.{field_name}: "
                            f"{address!r} is not a valid address ({exc})"
                        ) from None


MAX_TABLE_DEPTH = 160
"""Deepest JSON nesting a rule table may have: the compiler bounds expressions and conditions to
64 levels (`MAX_NESTING`), at most two JSON levels each, under the table's own seven."""


def _nesting(value: Any) -> int:
    """How deeply lists and objects nest in VALUE, without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if depth <= MAX_TABLE_DEPTH:  # deeper is refused anyway: no need to walk further
            stack.extend((child, depth + 1) for child in children)
    return deepest


def load_table(source: str | Path | Mapping[str, Any], *, trusted_compiled: bool = False) -> RuleTable:
    """A RuleTable from a JSON file path or an already-parsed dict; TableError when it is not one.

    The format and version are checked before the schema so that a table from another version
    gets a message saying so rather than a list of schema violations.

    TRUSTED_COMPILED is only for a dict the compiler has just returned in the same process
    (`compile_file(...).table`, as the CLI does for a `.mail` policy): the JSON Schema check is
    skipped (jsonschema costs ~75 ms to import and run, most of a bulk render's start-up) because
    the compiler's tables are schema-valid by construction, which its tests hold it to
    (`dump_table` on every seed policy and on generated ones). The format, version, nesting,
    structure and address checks still run. A path is never trusted: tables read from files are
    always validated against the schema.
    """
    base_dir: Path | None = None
    if trusted_compiled and not isinstance(source, Mapping):
        raise TypeError("trusted_compiled applies only to a table the compiler returned (a dict)")
    if isinstance(source, Mapping):
        raw: Any = dict(source)
        name = "rule table"
    else:
        path = Path(source)
        name = str(path)
        base_dir = path.resolve().parent
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise TableError(f"{name}: not a rule table (not UTF-8 text)") from None
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TableError(f"{name}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
        except RecursionError:
            raise TableError(f"{name}: not a rule table (JSON nested too deeply)") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise TableError(f'{name}: not a mailpolicy rule table (expected "format": "{FORMAT}")')
    version = raw.get("format_version")
    if version != FORMAT_VERSION:
        raise TableError(
            f"{name}: rule table format version {version!r} is not supported "
            f"(this mailpolicy reads version {FORMAT_VERSION}); compile the policy again"
        )
    # Before the schema: jsonschema and the runtime's condition evaluator recurse per level, so a
    # hand-edited or tampered table nested a few hundred levels deep raised RecursionError (issue 8).
    if _nesting(raw) > MAX_TABLE_DEPTH:
        raise TableError(f"{name}: not a valid rule table: nested deeper than {MAX_TABLE_DEPTH} levels")
    if not trusted_compiled:
        _validate(raw, name)
    try:
        table = RuleTable(
            raw=raw,
            firm=dict(raw["firm"]),
            roles=list(raw.get("roles", [])),
            kinds=dict(raw["kinds"]),
            rules=dict(raw.get("rules", {})),
            audiences=dict(raw.get("audiences", {})),
            smtp=dict(raw.get("smtp") or {}),
            templates=dict(raw.get("templates", {})),
            policy=raw.get("policy"),
            base_dir=base_dir,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise TableError(f"{name}: not a valid rule table: missing or malformed {exc}") from None
    _check_addresses(table, name)
    if "general" not in table.kinds:
        raise TableError(f"{name}: not a valid rule table: kind 'general' is missing")
    for kind in table.kinds:
        if "general" not in table.lineage(kind):
            raise TableError(f"{name}: not a valid rule table: kind '{kind}' does not lead to 'general'")
    return table

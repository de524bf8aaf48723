"""Reading untrusted YAML and JSON data files without surprises: no aliases, no tags, no deep nesting.

YAML is read from the parser's event stream only (PyYAML's composers recurse, and the C one
crashes on very deep input): values are built from the events in one pass, refusing anchors,
aliases, explicit tags, several documents, duplicate keys and nesting deeper than `MAX_DEPTH` as
they come, before anything is expanded. Unquoted scalars come back as `PlainScalar` so that the schema,
not YAML 1.1's resolver, decides their type (`no` stays the text "no" in a name, `012` stays
"012" in an id): see `coerce`.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from mailpolicy.runtime.errors import DataError

MAX_DEPTH = 32
"""Deepest nesting of lists and mappings a data file may have (a relation's attributes included)."""

MAX_BYTES = 64 * 1024 * 1024
"""Largest data file read (64 MiB)."""


# libyaml's event parser is twenty times faster than PyYAML's and iterative: it is only ever
# asked for events, never to compose nodes (its composer recurses in C and crashes near 30,000
# levels), and parse_yaml stops at the first event deeper than MAX_DEPTH.
# None means that default; tests set PyYAML's pure-Python SafeLoader here to compare the two.
_EVENT_LOADER: Any = None


def event_loader() -> Any:
    """The loader class whose parser `parse_yaml` reads events from (libyaml's when installed).

    PyYAML is imported here, on the first YAML file, not with the module: JSON data files never
    pay for it (~20 ms of start-up).
    """
    if _EVENT_LOADER is not None:
        return _EVENT_LOADER
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class PlainScalar(str):
    """An unquoted YAML scalar: its type (text, number, boolean, null) is decided by the schema."""


_NULL = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
# No leading zeros: `0123` (a postcode, an id) stays text even where any type is allowed.
_NUMBER = re.compile(r"^[-+]?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$")


def _line(mark: Any) -> int | None:
    return None if mark is None else int(mark.line) + 1


def parse_yaml(text: str, name: str) -> Any:
    """The data of one YAML document as dicts, lists, `str` and `PlainScalar`; DataError otherwise.

    The tree is built straight from the parser's events, in one pass and without recursion, so the
    checks (aliases, anchors, tags, depth, duplicate keys) run before any value is expanded.
    """
    import yaml  # lazily: only YAML files need PyYAML (see event_loader)

    root: Any = None
    # Open collections, innermost last: [container, key awaiting its value (mappings only)].
    stack: list[list[Any]] = []
    documents = 0
    try:
        for event in yaml.parse(text, Loader=event_loader()):
            line = _line(event.start_mark)
            if isinstance(event, yaml.AliasEvent):
                raise DataError(name, "YAML aliases (*name) are not allowed in data files", line=line)
            if isinstance(event, yaml.NodeEvent) and event.anchor is not None:
                raise DataError(name, "YAML anchors (&name) are not allowed in data files", line=line)
            if isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)) and event.tag is not None:
                raise DataError(name, f"YAML tags ({event.tag}) are not allowed in data files", line=line)
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise DataError(name, "a data file holds one YAML document", line=line)
            elif isinstance(event, yaml.ScalarEvent):
                # libyaml reports a plain scalar's style as "", the pure-Python parser as None.
                value = PlainScalar(event.value) if not event.style else str(event.value)
                root = _place(stack, value, root, name, line)
            elif isinstance(event, yaml.CollectionStartEvent):
                if len(stack) >= MAX_DEPTH:
                    raise DataError(name, f"nested deeper than {MAX_DEPTH} levels", line=line)
                container: Any = [] if isinstance(event, yaml.SequenceStartEvent) else {}
                root = _place(stack, container, root, name, line)
                stack.append([container, _NO_KEY])
            elif isinstance(event, yaml.CollectionEndEvent):
                stack.pop()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise DataError(name, f"not valid YAML: {exc.problem or exc.context}", line=_line(mark)) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        message = f"not valid YAML: character #x{exc.character:04x} is not allowed"
        raise DataError(name, message, line=line) from None
    except yaml.YAMLError as exc:
        raise DataError(name, f"not valid YAML: {exc}") from None
    return root


_NO_KEY: Any = object()


def _place(stack: list[list[Any]], value: Any, root: Any, name: str, line: int | None) -> Any:
    """Put a value into the innermost open collection (or make it the root); returns the root."""
    if not stack:
        return value
    frame = stack[-1]
    container = frame[0]
    if isinstance(container, list):
        container.append(value)
    elif frame[1] is _NO_KEY:
        if not isinstance(value, str):
            raise DataError(name, "mapping keys must be plain text", line=line)
        if value in container:
            raise DataError(name, f"duplicate key '{value}'", line=line)
        frame[1] = str(value)
    else:
        container[frame[1]] = value
        frame[1] = _NO_KEY
    return root


def parse_json(text: str, name: str) -> Any:
    """The data of a JSON file (numbers with a fraction as Decimal); duplicate keys refused."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)  # in C; only a mapping that lost a key is looked at again
        if len(out) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    raise DataError(name, f"duplicate key '{key}'")
                seen.add(key)
        return out

    try:
        value = json.loads(text, parse_float=Decimal, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise DataError(name, f"not valid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno) from None
    except RecursionError:
        raise DataError(name, f"nested deeper than {MAX_DEPTH} levels") from None
    if _depth(value) > MAX_DEPTH:
        raise DataError(name, f"nested deeper than {MAX_DEPTH} levels")
    return value


def _depth(value: Any) -> int:
    """How many containers deep VALUE is, level by level (comprehensions, not a Python loop per value)."""
    deepest = 0
    level = [value]
    while True:
        containers = [item for item in level if isinstance(item, (dict, list))]
        if not containers:
            return deepest
        deepest += 1
        if deepest > MAX_DEPTH:
            return deepest
        level = [
            child for item in containers for child in (item.values() if isinstance(item, dict) else item)
        ]


def _types(schema: dict[str, Any], root: dict[str, Any]) -> set[str] | None:
    """The JSON types a schema allows, or None when it does not restrict them (untyped)."""
    schema = _deref(schema, root)
    found: set[str] = set()
    restricted = False
    if "type" in schema:
        restricted = True
        kinds = schema["type"]
        found.update([kinds] if isinstance(kinds, str) else kinds)
    if "enum" in schema:
        restricted = True
        for value in schema["enum"]:
            found.add(
                "null"
                if value is None
                else "boolean"
                if isinstance(value, bool)
                else "number"
                if isinstance(value, (int, float))
                else "string"
            )
    for branch in schema.get("anyOf", []) + schema.get("oneOf", []):
        sub = _types(branch, root)
        if sub is None:
            return None
        restricted = True
        found |= sub
    return found if restricted else None


def _deref(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $ref are supported: {ref}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        schema = target
    return schema


def _branch(schema: dict[str, Any], root: dict[str, Any], json_type: str) -> dict[str, Any] | None:
    """The (sub)schema that describes values of `json_type` ("array" or "object")."""
    schema = _deref(schema, root)
    for branch in schema.get("anyOf", []) + schema.get("oneOf", []):
        found = _branch(branch, root, json_type)
        if found is not None:
            return found
    types = _types(schema, root)
    if types is None or json_type in types:
        return schema
    return None


def _scalar(text: PlainScalar, types: set[str] | None) -> Any:
    untyped = types is None
    allowed = types or set()
    if text in _NULL and (untyped or "null" in allowed):
        return None
    if (text in _TRUE or text in _FALSE) and (untyped or "boolean" in allowed):
        return text in _TRUE
    if _NUMBER.match(text) and (untyped or "number" in allowed or "integer" in allowed):
        if "." in text or "e" in text or "E" in text:
            return Decimal(text)
        return int(text)
    if "string" not in allowed and not untyped:
        # The schema will refuse this value anyway; type it as YAML 1.2 would so that the
        # message says "got number 5" rather than "got text '5'".
        return _scalar(text, None)
    return str(text)


def coerce(value: Any, schema: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
    """Give the unquoted YAML scalars in `value` the type the schema expects at their place.

    Where the schema wants text, an unquoted `no`, `012` or `2026-11-20` stays that exact text;
    where it wants a boolean, only `true`/`false` are booleans (YAML 1.1's `yes`/`no`/`on`/`off`
    are not, so the schema reports them); numbers are decimal only. Values the schema leaves
    untyped (a relation's attributes) follow YAML 1.2's core rules, minus leading-zero numbers.
    Quoted scalars are always text. JSON values pass through unchanged.
    """
    root = schema if root is None else root
    if isinstance(value, list):
        branch = _branch(schema, root, "array")
        items = _deref(branch, root).get("items", {}) if branch is not None else {}
        return [coerce(item, items, root) for item in value]
    if isinstance(value, dict):
        branch = _branch(schema, root, "object")
        props: dict[str, Any] = {}
        extra: Any = {}
        if branch is not None:
            branch = _deref(branch, root)
            props = branch.get("properties", {})
            extra = branch.get("additionalProperties", {})
        return {
            key: coerce(item, props.get(key, extra if isinstance(extra, dict) else {}), root)
            for key, item in value.items()
        }
    if isinstance(value, PlainScalar):
        return _scalar(value, _types(schema, root))
    return value

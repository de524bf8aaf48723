"""A quick, conservative JSON Schema check that lets valid data files skip jsonschema.

jsonschema spends about 120 µs per relation of a data file (most of a bulk render's start-up,
and 30 ms just to import); nearly every file is valid. `certainly_valid` walks the instance
with the few keywords `schemas/data.schema.json` uses and answers True only when the instance
satisfies every one of them; False means "not sure": the instance may be invalid, or the schema
uses something this does not handle, and the caller asks jsonschema, which also words the
errors. So a True here never hides an error jsonschema would report: each check below is as
strict as the JSON Schema 2020-12 keyword or stricter (`tests/bench/test_fast_paths.py` holds it
to jsonschema on generated data).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

# Keywords that never make an instance invalid (annotations; `format` only annotates by default,
# and the data loader gives jsonschema no format checker).
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "format", "examples"}
)


Check = Callable[[Any], bool]

# `type` names to the exact Python types a JSON or YAML loader produces. Exact, not isinstance:
# bool is an int subclass, and a subclass of anything is simply "not sure" (jsonschema decides).
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "null": (type(None),),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "number": (int, float, Decimal),
    "integer": (int,),  # 1.0 too in JSON Schema: not sure here
}
# Enum members that can be looked up in a set keyed by (type, value) with the same answer as
# comparing each member (same type and equal): no NaN, no unhashable values.
_HASHABLE_ENUM = frozenset({str, type(None), bool, int})


def _same(a: Any, b: Any) -> bool:
    """Same type and equal, all the way down: stricter than JSON Schema's equality (1 == 1.0),
    never looser. Python's own `==` is looser inside containers: {"a": True} == {"a": 1}."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _never(instance: Any) -> bool:
    return False


def _always(instance: Any) -> bool:
    return True


def certainly_valid(schema: Mapping[str, Any], instance: Any) -> bool:
    """True only if INSTANCE is valid against SCHEMA; False when invalid or not sure.

    Only local `#/$defs/name` references are followed. SCHEMA is compiled into a checker once
    (keyed by its content, so a changed schema is compiled again).
    """
    return checker(json.dumps(schema, sort_keys=True, default=str))(instance)


@lru_cache(maxsize=16)
def checker(schema_json: str) -> Check:
    """The compiled check of a schema given as JSON text (see `certainly_valid`)."""
    return compile_schema(json.loads(schema_json))


def compile_schema(schema: Mapping[str, Any]) -> Check:
    """A function answering `certainly_valid(SCHEMA, instance)` for any instance.

    Each keyword becomes one closure, built once: walking the schema dictionary for every value
    cost ~50 ms on a 3,000-relation file, a fifth of a bulk render's start-up.
    """
    defs = schema.get("$defs", {}) if isinstance(schema, Mapping) else {}
    compiled: dict[str, Check] = {}

    def ref(name: str) -> Check:
        def check(instance: Any) -> bool:
            return compiled[name](instance)

        return check

    def build(sub: Any) -> Check:
        if not isinstance(sub, Mapping):
            return _never  # boolean schemas and nonsense: not sure
        if "patternProperties" in sub:
            return _never
        checks: list[Check] = []
        for key, value in sub.items():
            if key in _ANNOTATIONS or (key == "additionalProperties" and "properties" in sub):
                continue  # additionalProperties is checked together with properties
            made = keyword(sub, key, value)
            if made is _never:
                return _never
            checks.append(made)
        if not checks:
            return _always
        if len(checks) == 1:
            return checks[0]

        def every(instance: Any) -> bool:
            for check in checks:
                if not check(instance):
                    return False
            return True

        return every

    def keyword(sub: Mapping[str, Any], key: str, value: Any) -> Check:
        if key == "$ref":
            if not isinstance(value, str) or not value.startswith("#/$defs/") or value[8:] not in defs:
                return _never
            return ref(value[8:])
        if key == "type":
            names = [value] if isinstance(value, str) else value
            if not isinstance(names, list):
                return _never
            types = frozenset(t for name in names if isinstance(name, str) for t in _TYPES.get(name, ()))
            return lambda instance: type(instance) in types
        if key == "enum":
            if not isinstance(value, list):
                return _never
            if all(type(item) in _HASHABLE_ENUM for item in value):
                members = frozenset((type(item), item) for item in value)
                return lambda instance: (
                    type(instance) in _HASHABLE_ENUM and (type(instance), instance) in members
                )
            items = list(value)
            return lambda instance: any(_same(instance, item) for item in items)
        if key == "required":
            names = list(value)
            return lambda instance: not isinstance(instance, dict) or all(n in instance for n in names)
        if key == "properties":
            return properties(value, sub.get("additionalProperties", True))
        if key == "propertyNames":
            names_check = build(value)
            return lambda instance: not isinstance(instance, dict) or all(names_check(n) for n in instance)
        if key == "items":
            if not isinstance(value, Mapping) or "prefixItems" in sub:
                return _never
            item_check = build(value)
            return lambda instance: not isinstance(instance, list) or all(item_check(i) for i in instance)
        if key == "anyOf":
            options = [build(option) for option in value]
            return lambda instance: any(option(instance) for option in options)
        if key == "minLength":
            least = value
            return lambda instance: not isinstance(instance, str) or len(instance) >= least
        if key == "pattern":
            search = re.compile(value).search
            return lambda instance: not isinstance(instance, str) or search(instance) is not None
        if key == "additionalProperties":  # without properties: every property is additional
            return properties({}, value)
        return _never  # a keyword not handled here: let jsonschema decide

    def properties(known: Any, additional: Any) -> Check:
        if not isinstance(known, Mapping):
            return _never
        checks = {name: build(sub) for name, sub in known.items()}
        if additional is True:
            extra: Check | None = _always
        elif additional is False:
            extra = None
        elif isinstance(additional, Mapping):
            extra = build(additional)
        else:
            return _never

        def check(instance: Any) -> bool:
            if not isinstance(instance, dict):
                return True
            for name, item in instance.items():
                each = checks.get(name, extra)
                if each is None or not each(item):
                    return False
            return True

        return check

    for name, sub in defs.items():
        compiled[name] = build(sub)
    return build(schema)

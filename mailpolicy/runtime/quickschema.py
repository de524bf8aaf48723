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

import re
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

# Keywords that never make an instance invalid (annotations; `format` only annotates by default,
# and the data loader gives jsonschema no format checker).
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "format", "examples"}
)


def _is_type(instance: Any, name: str) -> bool:
    if name == "string":
        return isinstance(instance, str)
    if name == "null":
        return instance is None
    if name == "boolean":
        return isinstance(instance, bool)
    if name == "object":
        return isinstance(instance, dict)
    if name == "array":
        return isinstance(instance, list)
    if name == "number":
        return isinstance(instance, (int, float, Decimal)) and not isinstance(instance, bool)
    if name == "integer":
        return isinstance(instance, int) and not isinstance(instance, bool)  # 1.0 too: not sure
    return False


@lru_cache(maxsize=64)
def _pattern(source: str) -> re.Pattern[str]:
    return re.compile(source)


def certainly_valid(schema: Mapping[str, Any], instance: Any, defs: Mapping[str, Any] | None = None) -> bool:
    """True only if INSTANCE is valid against SCHEMA; False when invalid or not sure.

    DEFS are the root schema's `$defs` (local `#/$defs/name` references only).
    """
    if defs is None:
        defs = schema.get("$defs", {})
    for key, value in schema.items():
        if key in _ANNOTATIONS:
            continue
        if key == "$ref":
            if not isinstance(value, str) or not value.startswith("#/$defs/") or value[8:] not in defs:
                return False
            if not certainly_valid(defs[value[8:]], instance, defs):
                return False
        elif key == "type":
            names = [value] if isinstance(value, str) else value
            if not any(_is_type(instance, name) for name in names):
                return False
        elif key == "enum":
            # Same type and equal: stricter than JSON Schema's equality (1 == 1.0), never looser.
            if not any(type(instance) is type(item) and instance == item for item in value):
                return False
        elif key == "required":
            if isinstance(instance, dict) and any(name not in instance for name in value):
                return False
        elif key == "properties":
            if isinstance(instance, dict):
                for name, sub in value.items():
                    if name in instance and not certainly_valid(sub, instance[name], defs):
                        return False
        elif key == "additionalProperties":
            if "patternProperties" in schema:
                return False
            if isinstance(instance, dict):
                known = schema.get("properties", {})
                extras = [name for name in instance if name not in known]
                if value is False and extras:
                    return False
                if isinstance(value, Mapping):
                    if not all(certainly_valid(value, instance[name], defs) for name in extras):
                        return False
                elif value is not True and value is not False:
                    return False
        elif key == "propertyNames":
            if isinstance(instance, dict) and not all(
                certainly_valid(value, name, defs) for name in instance
            ):
                return False
        elif key == "items":
            if not isinstance(value, Mapping) or "prefixItems" in schema:
                return False
            if isinstance(instance, list) and not all(
                certainly_valid(value, item, defs) for item in instance
            ):
                return False
        elif key == "anyOf":
            if not any(certainly_valid(sub, instance, defs) for sub in value):
                return False
        elif key == "minLength":
            if isinstance(instance, str) and len(instance) < value:
                return False
        elif key == "pattern":
            if isinstance(instance, str) and _pattern(value).search(instance) is None:
                return False
        else:
            return False  # a keyword not handled here: let jsonschema decide
    return True

"""The shortcuts added for speed give exactly what the general code gives (hypothesis).

Each shortcut skips work for the common case (a clean header, a value that is its own
quoted-printable, a data file the quick schema check finds valid); these tests
hold it to the slow path's result on generated input, the awkward characters included.
"""

from __future__ import annotations

import binascii
import json
import sys
from pathlib import Path

import jsonschema
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mailpolicy.runtime.message import _HEADER_CONTROLS, _SPACES, _qp_piece, clean_header_text
from mailpolicy.runtime.quickschema import certainly_valid

ROOT = Path(__file__).resolve().parents[2]

# Characters at the edges of each shortcut's condition: spaces of every kind, line breaks,
# controls, the quoted-printable specials, and plain and non-ASCII letters.
EDGES = st.sampled_from(
    [" ", "\t", "\n", "\r", "\x00", "\x7f", "\x85", "\xa0", "\u2028", "\u2029", "\u3000", "\u200b"]
    + ["=", ".", "a", "Z", "0", "é", "€", "日", "~", "&"]
)
TEXT = st.text(alphabet=st.one_of(EDGES, st.characters(codec="utf-8")), max_size=120)


def _slow_clean(text: str) -> str:
    return _SPACES.sub(" ", text.translate(_HEADER_CONTROLS)).strip()


def _slow_qp(text: str) -> tuple[bytes, int, int, bool]:
    data = binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")
    end = data.find(b"\r\n")
    if end < 0:
        return data, len(data), len(data), False
    return data, end, len(data) - data.rfind(b"\r\n") - 2, True


@settings(max_examples=3000)
@given(TEXT)
@example("  a  ")
@example("a\u2028b")
@example("\u3000a")
def test_clean_header_text_shortcut(text: str) -> None:
    assert clean_header_text(text) == _slow_clean(text)


@settings(max_examples=3000)
@given(TEXT)
@example(".")
@example("..")
@example("a ")
@example("a" * 75)
@example("a" * 76)
@example("a=b")
@example("a\t")
def test_quoted_printable_shortcut(text: str) -> None:
    assert _qp_piece(text) == _slow_qp(text)


# --- the quick data-file schema check -----------------------------------------------------------

SCHEMA = json.loads((ROOT / "mailpolicy" / "schemas" / "data.schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

# Values of every JSON (and YAML-coerced) type, the valid ones more often.
ANY_VALUE = st.one_of(
    st.sampled_from(["", "x", "R001", "a@b.be", "fr", "nl", "xx", "EUR", "eur", "2026-11-20", "a, b@c.be"]),
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.lists(st.sampled_from(["a@b.be", "", "x"]), max_size=2),
    st.lists(st.integers(), max_size=1),
    st.dictionaries(
        st.sampled_from(["responsible", "partner", "9bad", "a-b", "x"]),
        st.sampled_from(["jan", None, 3]),
        max_size=2,
    ),
)
FIELDS = {
    "users": ["id", "name", "email"],
    "client_groups": ["id", "name", "email"],
    "relations": [
        "id",
        "name",
        "emails",
        "dunning_emails",
        "client_group",
        "roles",
        "language",
        "family",
        "accepts_promotional",
        "attributes",
    ],
    "documents": [
        "id",
        "kind",
        "relation",
        "number",
        "date",
        "due_date",
        "amount",
        "currency",
        "dunning_emails",
        "file",
    ],
}


@st.composite
def records(draw: st.DrawFn, collection: str) -> dict[str, object]:
    names = FIELDS[collection] + ["unknown_field"]
    chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names)))
    return {name: draw(ANY_VALUE) for name in chosen}


@st.composite
def data_files(draw: st.DrawFn) -> object:
    if draw(st.integers(0, 20)) == 0:
        return draw(ANY_VALUE)
    out: dict[str, object] = {}
    for collection in draw(st.lists(st.sampled_from([*FIELDS, "extra"]), unique=True)):
        if collection == "extra" or draw(st.integers(0, 10)) == 0:
            out[collection] = draw(ANY_VALUE)
        else:
            out[collection] = draw(st.lists(records(collection), max_size=3))
    return out


@settings(max_examples=3000, deadline=None)
@given(data_files())
def test_quick_schema_check_never_passes_an_invalid_file(raw: object) -> None:
    """What the quick check calls valid, jsonschema calls valid (the converse may not hold)."""
    if certainly_valid(SCHEMA, raw):
        assert list(VALIDATOR.iter_errors(raw)) == []


def test_quick_schema_check_passes_the_valid_files() -> None:
    """It does answer True for valid files, or it would be no shortcut: the example, generated data."""
    from mailpolicy.runtime.safe_yaml import coerce, parse_yaml

    example = coerce(
        parse_yaml((ROOT / "examples" / "data.yaml").read_text(encoding="utf-8"), "data.yaml"), SCHEMA
    )
    assert list(VALIDATOR.iter_errors(example)) == []
    assert certainly_valid(SCHEMA, example)
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from render_all import generate
    finally:
        sys.path.remove(str(ROOT / "bench"))
    assert certainly_valid(SCHEMA, generate(50))
    broken = generate(3)
    broken["relations"][1]["language"] = "xx"  # type: ignore[index]
    assert not certainly_valid(SCHEMA, broken)


# Small schemas with each keyword the compiled check handles, and some it must give up on.
KEYWORD_SCHEMAS = [
    {"type": "integer"},
    {"type": ["number", "null"]},
    {"enum": [1, "a", None, True]},
    {"enum": [1.0, [1], {"a": 1}]},
    {"type": "object", "required": ["a"], "properties": {"a": {"minLength": 2}}},
    {"properties": {"a": {"type": "string"}}, "additionalProperties": False},
    {"additionalProperties": {"type": "boolean"}},
    {"propertyNames": {"pattern": "^[a-z]+$"}},
    {"items": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
    {"$defs": {"x": {"type": "array", "items": {"$ref": "#/$defs/x"}}}, "$ref": "#/$defs/x"},
    {"patternProperties": {"^a": {"type": "string"}}},
    {"maximum": 3},
    {"items": [{"type": "string"}]},
    {"$ref": "#/$defs/missing"},
]


@settings(max_examples=2000)
@given(
    st.sampled_from(range(len(KEYWORD_SCHEMAS))),
    st.recursive(
        ANY_VALUE,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["a", "b", "A1"]), inner, max_size=3)
        ),
        max_leaves=6,
    ),
)
@example(index=3, instance={"a": True})  # Python's == says {"a": True} == {"a": 1}
@example(index=3, instance=[True])
def test_compiled_quick_check_never_passes_what_jsonschema_refuses(index: int, instance: object) -> None:
    """Each keyword compiled on its own is as strict as jsonschema's, or gives up (False)."""
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **KEYWORD_SCHEMAS[index]}
    if certainly_valid(schema, instance):
        assert jsonschema.Draft202012Validator(schema).is_valid(instance), (schema, instance)


def test_compiled_quick_check_answers_for_the_simple_cases() -> None:
    """It does say True where it can (else it would be no shortcut) and gives up where it must."""
    assert certainly_valid({"type": "integer"}, 3)
    assert not certainly_valid({"type": "integer"}, True)
    assert certainly_valid({"enum": [1, "a", None]}, None)
    assert not certainly_valid({"enum": [1, "a", None]}, 1.0)
    assert not certainly_valid({"enum": [True]}, 1)
    assert certainly_valid(KEYWORD_SCHEMAS[9], [[], [[]]])
    assert not certainly_valid(KEYWORD_SCHEMAS[9], [[], [1]])
    assert not certainly_valid({"patternProperties": {"^a": {}}}, {})  # not handled: not sure
    assert not certainly_valid({"maximum": 3}, 1)

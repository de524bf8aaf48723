"""Hostile data files: YAML bombs, anchors, duplicate keys, deep nesting, YAML 1.1 surprises, wrong types.

Every test writes the file into a temporary folder and loads it by its bare name, so the pinned
error text is exactly what a user sees.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailpolicy.runtime.data import load_data
from mailpolicy.runtime.errors import DataError
from mailpolicy.runtime.safe_yaml import MAX_BYTES, MAX_DEPTH

# A billion-laughs bomb in under 400 bytes: nine levels of nine aliases expand to 9**9 (387
# million) strings when a loader walks the aliases.
ALIAS_BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test writes and loads its files by bare name in a temporary folder."""
    monkeypatch.chdir(tmp_path)


def load_error(text: str, name: str = "data.yaml") -> str:
    """The DataError text of loading TEXT from a file called NAME (fails if it loads)."""
    Path(name).write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_data(name)
    return str(info.value)


def test_alias_bomb_is_refused_quickly() -> None:
    """GIVEN a 342-byte billion-laughs file WHEN loaded THEN refused at its first anchor, at once."""
    assert len(ALIAS_BOMB.encode()) < 400
    started = time.perf_counter()
    assert load_error(ALIAS_BOMB) == "data.yaml:1: YAML anchors (&name) are not allowed in data files"
    assert time.perf_counter() - started < 1.0


def test_anchor_alone_is_refused() -> None:
    """GIVEN an anchor that is never used WHEN loaded THEN still refused (SPEC 3)."""
    text = "users: []\nrelations: &r []\n"
    assert load_error(text) == "data.yaml:2: YAML anchors (&name) are not allowed in data files"


def test_alias_alone_is_refused() -> None:
    """GIVEN an alias without its anchor WHEN loaded THEN refused as an alias, not a parser crash."""
    assert load_error("users: *x\n") == "data.yaml:1: YAML aliases (*name) are not allowed in data files"


def test_python_tag_is_refused() -> None:
    """GIVEN a python/object tag WHEN loaded THEN refused: no object is ever built from a tag."""
    text = "users: !!python/object/apply:os.system ['echo pwned']\n"
    assert load_error(text) == (
        "data.yaml:1: YAML tags (tag:yaml.org,2002:python/object/apply:os.system) "
        "are not allowed in data files"
    )


def test_duplicate_keys_are_refused() -> None:
    """GIVEN a relation with `emails` twice WHEN loaded THEN refused at the second key."""
    text = "relations:\n  - id: R1\n    name: X\n    emails: [a@x.be]\n    emails: [evil@x.be]\n"
    assert load_error(text) == "data.yaml:5: duplicate key 'emails'"


def test_duplicate_keys_in_json_are_refused() -> None:
    """GIVEN a JSON relation with `emails` twice WHEN loaded THEN refused (json.loads keeps the last)."""
    text = '{"relations": [{"id": "R1", "name": "X", "emails": ["a@x.be"], "emails": ["evil@x.be"]}]}'
    assert load_error(text, "data.json") == "data.json: duplicate key 'emails'"


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    """GIVEN attributes nested one level deeper than MAX_DEPTH WHEN loaded THEN refused with the limit."""
    # The top mapping, `relations`, the relation and `attributes` are four levels: lists fill the rest.
    ok_lists = MAX_DEPTH - 4
    base = "relations:\n  - id: R1\n    name: X\n    emails: [a@x.be]\n    attributes: {deep: "
    Path("ok.yaml").write_text(base + "[" * ok_lists + "]" * ok_lists + "}\n", encoding="utf-8")
    assert load_data("ok.yaml").relations["R1"].attributes["deep"] == _nested(ok_lists)
    too_deep = ok_lists + 1
    text = base + "[" * too_deep + "]" * too_deep + "}\n"
    assert load_error(text) == f"data.yaml:5: nested deeper than {MAX_DEPTH} levels"


def _nested(levels: int) -> list[object]:
    """`[[...]]` nested LEVELS deep, as the loader returns it."""
    value: list[object] = []
    for _ in range(levels - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("deep.yaml", "relations: " + "[" * 100_000),
        ("deep.json", '{"relations": ' + "[" * 100_000 + "]" * 100_000 + "}"),
        ("deepmap.yaml", "relations: " + "{a: " * 100_000),
    ],
    ids=["yaml-lists", "json-lists", "yaml-mappings"],  # short ids: pytest puts them in the environment
)
def test_100000_levels_never_crash_the_interpreter(tmp_path: Path, name: str, text: str) -> None:
    """GIVEN 100,000 nested brackets WHEN loaded in a fresh interpreter THEN a DataError, no segfault.

    PyYAML's C loader crashes near 30,000 levels; run in a subprocess so a crash shows as a
    return code instead of killing the test run.
    """
    (tmp_path / name).write_text(text, encoding="utf-8")
    script = (
        "import sys\n"
        "from mailpolicy.runtime.data import load_data\n"
        "from mailpolicy.runtime.errors import DataError\n"
        "try:\n"
        f"    load_data({name!r})\n"
        "except DataError as exc:\n"
        "    print(exc)\n"
        "    sys.exit(3)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 3, done.stderr
    line = "" if name.endswith(".json") else ":1"
    assert done.stdout == f"{name}{line}: nested deeper than {MAX_DEPTH} levels\n"


def test_yaml_11_surprises_do_not_corrupt_ids_and_strings() -> None:
    """GIVEN `id: no`, `id: 012`, `number: 0012`, `name: no` WHEN loaded THEN they stay that exact text."""
    text = """\
relations:
  - id: no
    name: no
    emails: [a@x.be]
  - id: 012
    name: on
    emails: [b@x.be]
    attributes: {number: 0012, flag: no, when: 2026-01-01}
documents:
  - {id: 012, kind: invoice, relation: 012, number: 0012, date: 2026-11-20, amount: 1210.00, currency: EUR}
"""
    Path("data.yaml").write_text(text, encoding="utf-8")
    data = load_data("data.yaml")
    assert data.errors == []
    assert list(data.relations) == ["no", "012"]
    assert data.relations["no"].name == "no"
    assert data.relations["012"].name == "on"
    # Untyped attributes: a leading-zero number stays text (a postcode, an account number).
    assert data.relations["012"].attributes["number"] == "0012"
    assert list(data.documents) == ["012"]
    document = data.documents["012"]
    assert (document.relation, document.number) == ("012", "0012")


def test_yaml_11_no_as_language_is_a_named_error() -> None:
    """GIVEN `language: no` WHEN loaded THEN the relation fails alone, naming record and field."""
    text = "relations:\n  - id: R1\n    name: X\n    emails: [a@x.be]\n    language: no\n"
    Path("data.yaml").write_text(text, encoding="utf-8")
    data = load_data("data.yaml")
    assert [str(e) for e in data.errors] == [
        "data.yaml: relation 'R1', field 'language': expected one of fr, nl, en, de, got text 'no'"
    ]
    assert data.relations == {}


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("name", "[X]", "expected text, got a list"),
        ("accepts_promotional", "yes", "expected true or false, got text 'yes'"),
        ("emails", "{a: b}", None),
    ],
)
def test_wrong_types_name_the_record_and_the_field(field: str, value: str, expected: str | None) -> None:
    """GIVEN a field of the wrong type WHEN loaded THEN the error names the file, relation and field."""
    fields = {"name": "X", "emails": "[a@x.be]", field: value}
    body = "".join(f"    {k}: {v}\n" for k, v in fields.items())
    Path("data.yaml").write_text(f"relations:\n  - id: R1\n{body}", encoding="utf-8")
    data = load_data("data.yaml")
    assert len(data.errors) == 1
    error = data.errors[0]
    assert (error.record, error.field) == ("R1", field)
    assert str(error).startswith(f"data.yaml: relation 'R1', field '{field}': ")
    if expected is not None:
        assert error.message == expected


def test_non_utf8_data_file_is_a_data_error() -> None:
    """GIVEN a Latin-1 data file WHEN loaded THEN a DataError, not a UnicodeDecodeError."""
    Path("data.yaml").write_bytes("relations:\n  - id: R1\n    name: Soci\xe9t\xe9\n".encode("latin-1"))
    with pytest.raises(DataError) as info:
        load_data("data.yaml")
    assert str(info.value).startswith("data.yaml")
    assert "UTF-8" in str(info.value)


def test_raw_nul_in_yaml_is_a_data_error() -> None:
    """GIVEN a raw NUL byte in a YAML file WHEN loaded THEN a located DataError."""
    assert load_error("users: [\x00]\n") == "data.yaml:1: not valid YAML: character #x0000 is not allowed"


_YAML_BITS = st.sampled_from(
    [
        "relations:",
        "documents:",
        "users:",
        "\n",
        "\n  - ",
        "  ",
        "id: R1",
        "name: ",
        "emails: ",
        "[",
        "]",
        "{",
        "}",
        ",",
        ": ",
        "&a ",
        "*a",
        "!!python/object ",
        "- ",
        "'",
        '"',
        "no",
        "012",
        "2026-11-20",
        "~",
        "? ",
        "|",
        ">",
        "%YAML 1.1\n",
        "---\n",
        "...\n",
        "\t",
        "\x00",
        "\ufeff",
        "é",
        "<<: ",
    ]
)
yamlish = st.lists(st.one_of(_YAML_BITS, st.text(max_size=4)), max_size=40).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=yamlish)
def test_any_yaml_text_loads_or_is_a_data_error(text: str) -> None:
    """GIVEN any YAML-like text (anchors, tags, merges, tabs, NUL, BOM...) WHEN loaded
    THEN a Dataset or a DataError naming the file: never another exception."""
    Path("data.yaml").write_text(text, encoding="utf-8")
    try:
        load_data("data.yaml")
    except DataError as exc:
        assert str(exc).startswith("data.yaml")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200))
def test_any_bytes_load_or_are_a_data_error(data: bytes) -> None:
    """GIVEN arbitrary bytes as a YAML or JSON data file WHEN loaded THEN a Dataset or a DataError."""
    for name in ("data.yaml", "data.json"):
        Path(name).write_bytes(data)
        try:
            load_data(name)
        except DataError as exc:
            assert str(exc).startswith(name)


def test_data_file_over_the_size_limit_is_refused_unread() -> None:
    """GIVEN a (sparse) data file one byte over MAX_BYTES WHEN loaded THEN refused before reading it."""
    with Path("data.yaml").open("wb") as fh:
        fh.truncate(MAX_BYTES + 1)
    started = time.perf_counter()
    with pytest.raises(DataError) as info:
        load_data("data.yaml")
    assert time.perf_counter() - started < 1.0
    assert str(info.value) == f"data.yaml: larger than {MAX_BYTES // (1024 * 1024)} MiB"

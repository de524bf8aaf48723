"""Fuzzing the data loader: whatever the bytes, a Dataset or a DataError, never another exception."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailpolicy.runtime import load_data
from mailpolicy.runtime.errors import DataError
from tests.runtime.tables import DATA

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def load_bytes(raw: bytes, suffix: str) -> Any:
    """Load `raw` as a data file; a DataError is a fine outcome, returned rather than raised."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"data{suffix}"
        path.write_bytes(raw)
        try:
            return load_data(path)
        except DataError as exc:
            assert str(exc).startswith(str(path))
            return exc


@SETTINGS
@given(st.binary(max_size=400), st.sampled_from([".yaml", ".json"]))
def test_random_bytes(raw: bytes, suffix: str) -> None:
    """Random bytes never crash the loader."""
    load_bytes(raw, suffix)


@SETTINGS
@given(st.data())
def test_mutated_example(data: st.DataObject) -> None:
    """The example data with a slice deleted, duplicated or replaced by YAML punctuation."""
    text = DATA
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, min(len(text), start + 40)))
    insert = data.draw(
        st.sampled_from(["", "&a ", "*a", "!!str ", "{", "[", "]", "- ", ": ", "\n  ", "'", text[start:end]])
    )
    load_bytes((text[:start] + insert + text[end:]).encode("utf-8"), ".yaml")


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
records = st.dictionaries(
    st.sampled_from(
        [
            "id",
            "name",
            "email",
            "emails",
            "dunning_emails",
            "roles",
            "client_group",
            "language",
            "accepts_promotional",
            "attributes",
            "kind",
            "relation",
            "date",
            "amount",
            "currency",
            "file",
        ]
    ),
    json_values,
    max_size=6,
)


@SETTINGS
@given(
    st.dictionaries(
        st.sampled_from(["users", "client_groups", "relations", "documents"]), st.lists(records, max_size=3)
    ),
    st.sampled_from([".yaml", ".json"]),
)
def test_random_records(document: dict[str, Any], suffix: str) -> None:
    """Records of random shapes and types: every problem is a DataError or a record error."""
    raw = json.dumps(document) if suffix == ".json" else yaml.safe_dump(document, allow_unicode=True)
    result = load_bytes(raw.encode("utf-8"), suffix)
    if not isinstance(result, DataError):
        for error in result.errors:
            assert error.collection in ("relation", "document") and error.record is not None


@SETTINGS
@given(
    st.text(max_size=300),
    st.one_of(st.none(), st.text(max_size=30), st.lists(st.text(max_size=30), max_size=3)),
    st.text(max_size=12),
)
def test_random_values_in_valid_records(file: str, emails: Any, date: str) -> None:
    """Valid records with random text where paths, addresses and dates go never crash the loader."""
    document = {
        "relations": [{"id": "R", "name": "A", "emails": emails, "dunning_emails": emails}],
        "documents": [
            {
                "id": "D",
                "kind": "invoice",
                "relation": "R",
                "file": file,
                "date": date,
                "dunning_emails": emails,
            }
        ],
    }
    result = load_bytes(json.dumps(document).encode("utf-8"), ".json")
    assert not isinstance(result, DataError)
    assert set(result.documents) | {e.record for e in result.errors} == {"D"}

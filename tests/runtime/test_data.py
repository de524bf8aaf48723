"""Loading data files (SPEC section 3): types, ids, addresses, and hostile YAML refused safely."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailpolicy.runtime import load_data
from mailpolicy.runtime.errors import DataError, MessageError
from mailpolicy.runtime.safe_yaml import MAX_DEPTH
from tests.runtime.tables import DATA, write_data


def load_text(tmp_path: Path, text: str, name: str = "data.yaml"):  # type: ignore[no-untyped-def]
    """Write `text` as a data file and load it."""
    return load_data(write_data(tmp_path, text, name))


def data_error(tmp_path: Path, text: str, name: str = "data.yaml") -> str:
    """The text of the DataError that loading `text` raises, with the folder left out."""
    with pytest.raises(DataError) as info:
        load_text(tmp_path, text, name)
    return str(info.value).replace(str(tmp_path) + "/", "")


def record_error(tmp_path: Path, text: str) -> str:
    """The text of the one record-level error of a data file (the record fails alone)."""
    data = load_text(tmp_path, text)
    assert len(data.errors) == 1, data.errors
    return str(data.errors[0]).replace(str(tmp_path) + "/", "")


def test_the_example_shape_loads(tmp_path: Path) -> None:
    """The data of SPEC section 3 loads with the right types."""
    data = load_text(tmp_path, DATA)
    relation = data.relations["R001"]
    assert relation.emails == ["compta@garage-martin.be"]
    assert relation.dunning_emails == ["relances@garage-martin.be", "patron@garage-martin.be"]
    assert relation.roles == {"responsible": "jan", "partner": "marie", "file_manager": "jan"}
    assert relation.accepts_promotional is True
    assert data.relations["R002"].accepts_promotional is False
    document = data.documents["F2026-0042"]
    assert (document.number, document.date, document.due_date) == ("2026-0042", "2026-11-20", "2026-12-20")
    assert str(document.amount) == "1210.00"
    assert document.file == str((tmp_path / "invoices/F2026-0042.pdf").resolve())
    assert data.users["lise"].email == "Lise@dupont-associes.be"  # domain lower-cased, local part kept
    assert data.errors == [] and data.warnings == []


def test_yaml_and_json_give_the_same_records(tmp_path: Path) -> None:
    """The same data as JSON loads to the same records."""
    yaml_data = load_text(tmp_path, DATA)
    as_json = {
        "users": [{"id": "jan", "name": "Jan", "email": "jan@dupont-associes.be"}],
        "relations": [
            {
                "id": "R001",
                "name": "Garage",
                "emails": "a@garage.be, b@garage.be",
                "roles": {"responsible": "jan"},
            }
        ],
        "documents": [
            {"id": "F1", "kind": "invoice", "relation": "R001", "date": "2026-11-20", "amount": 1210.00}
        ],
    }
    data = load_text(tmp_path, json.dumps(as_json), "data.json")
    assert data.relations["R001"].emails == ["a@garage.be", "b@garage.be"]
    assert str(data.documents["F1"].amount) == "1210.0"
    assert yaml_data.relations["R001"].roles["responsible"] == data.relations["R001"].roles["responsible"]


def test_yaml_1_1_surprises_do_not_corrupt_text(tmp_path: Path) -> None:
    """`no`, `012`, `1e3`, `2026-11-20` and `~`-like words stay text wherever text is expected."""
    data = load_text(
        tmp_path,
        "users:\n  - {id: no, name: yes, email: no@dupont-associes.be}\n"
        "relations:\n"
        "  - {id: 012, name: off, family: 1e3, roles: {responsible: no},\n"
        "     attributes: {zip: 0123, count: 12, ratio: 1.5, flag: true, label: no, date: 2026-11-20}}\n"
        "documents:\n  - {id: 0x1F, kind: invoice, relation: 012, number: 2026-0042, date: 2026-11-20}\n",
    )
    assert list(data.users) == ["no"] and data.users["no"].name == "yes"
    relation = data.relations["012"]
    assert (relation.name, relation.family, relation.roles) == ("off", "1e3", {"responsible": "no"})
    assert relation.attributes == {
        "zip": "0123",
        "count": 12,
        "ratio": relation.attributes["ratio"],
        "flag": True,
        "label": "no",
        "date": "2026-11-20",
    }
    assert str(relation.attributes["ratio"]) == "1.5"
    assert data.documents["0x1F"].number == "2026-0042"


def test_booleans_are_only_true_and_false(tmp_path: Path) -> None:
    """`accepts_promotional: yes` is a type error, not a silent true."""
    text = "relations:\n  - {id: R1, name: A, accepts_promotional: yes}\n  - {id: R2, name: B}\n"
    assert record_error(tmp_path, text) == (
        "data.yaml: relation 'R1', field 'accepts_promotional': expected true or false, got text 'yes'"
    )


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ("{id: R1}", "data.yaml: relation 'R1', field 'name': missing required field"),
        (
            "{id: R1, name: A, emails: {a: b}}",
            "data.yaml: relation 'R1', field 'emails': "
            "expected an address list or a comma-separated string, got a mapping",
        ),
        (
            "{id: R1, name: A, language: es}",
            "data.yaml: relation 'R1', field 'language': expected one of fr, nl, en, de, got text 'es'",
        ),
        (
            "{id: R1, name: A, colour: red}",
            "data.yaml: relation 'R1', field 'colour': unknown field "
            "(expected one of: id, name, emails, dunning_emails, client_group, roles, language, family, "
            "accepts_promotional, attributes)",
        ),
        (
            "{id: R1, name: A, roles: {responsible: ghost}}",
            "data.yaml: relation 'R1', field 'roles.responsible': unknown user 'ghost'",
        ),
        (
            "{id: R1, name: A, client_group: nope}",
            "data.yaml: relation 'R1', field 'client_group': unknown client group 'nope'",
        ),
        ("{name: A}", "data.yaml: relations[0], field 'id': missing required field"),
        ("{id: R1, name: [A]}", "data.yaml: relation 'R1', field 'name': expected text, got a list"),
    ],
)
def test_bad_relations_fail_alone_naming_file_record_and_field(
    tmp_path: Path, record: str, message: str
) -> None:
    """A wrong type, unknown id or missing field is a data error of that record only."""
    data = load_text(tmp_path, f"relations:\n  - {record}\n  - {{id: OK, name: Fine}}\n")
    assert [str(e).replace(str(tmp_path) + "/", "") for e in data.errors] == [message]
    assert list(data.relations) == ["OK"]


def test_resolving_a_broken_relation_reports_its_data_error(tmp_path: Path) -> None:
    """A message for a relation that failed to load fails with the data error's text."""
    data = load_text(tmp_path, "relations:\n  - {id: R1, name: A, roles: {partner: ghost}}\n")
    with pytest.raises(MessageError) as info:
        data.relation("R1", kind="invoice")
    assert str(info.value).endswith("data.yaml: relation 'R1', field 'roles.partner': unknown user 'ghost'")


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ("{id: F1, kind: invoice, relation: R9}", "document 'F1', field 'relation': unknown relation 'R9'"),
        (
            "{id: F1, kind: invoice, relation: R1, date: 20/11/2026}",
            "document 'F1', field 'date': expected a date YYYY-MM-DD, got text '20/11/2026'",
        ),
        (
            "{id: F1, kind: invoice, relation: R1, date: 2026-02-30}",
            "document 'F1', field 'date': expected a date YYYY-MM-DD, got text '2026-02-30'",
        ),
        (
            "{id: F1, kind: invoice, relation: R1, amount: '12'}",
            "document 'F1', field 'amount': expected a number, got text '12'",
        ),
        (
            "{id: F1, kind: invoice, relation: R1, currency: euro}",
            "document 'F1', field 'currency': expected a 3-letter currency code such as EUR, got text 'euro'",
        ),
        (
            "{id: F1, kind: invoice, relation: R1, file: ../secret.pdf}",
            "document 'F1', field 'file': must be a path inside the data file's folder",
        ),
        (
            "{id: F1, kind: invoice, relation: R1, file: /etc/passwd}",
            "document 'F1', field 'file': must be a path inside the data file's folder",
        ),
    ],
)
def test_bad_documents_fail_alone(tmp_path: Path, record: str, message: str) -> None:
    """Documents are checked like relations: the bad one is reported, the others load."""
    text = f"relations:\n  - {{id: R1, name: A}}\ndocuments:\n  - {record}\n"
    assert record_error(tmp_path, text) == f"data.yaml: {message}"


def test_attachment_path_with_a_nul_byte_is_a_record_error(tmp_path: Path) -> None:
    """A NUL byte in `document.file` (JSON allows it) fails that document, not the load."""
    text = json.dumps(
        {
            "relations": [{"id": "R1", "name": "A"}],
            "documents": [{"id": "F1", "kind": "invoice", "relation": "R1", "file": "a\u0000.pdf"}],
        }
    )
    assert record_error(tmp_path, text.replace("data.yaml", "")) == (
        "data.yaml: document 'F1', field 'file': not a usable file path"
    )


def test_attachment_symlink_leaving_the_folder_is_refused(tmp_path: Path) -> None:
    """A symlink inside the folder that points outside it is refused like `..`."""
    (tmp_path / "data").mkdir()
    (tmp_path / "secret.pdf").write_text("secret")
    (tmp_path / "data" / "link.pdf").symlink_to(tmp_path / "secret.pdf")
    text = (
        "relations:\n  - {id: R1, name: A}\n"
        "documents:\n  - {id: F1, kind: invoice, relation: R1, file: link.pdf}\n"
    )
    data = load_data(write_data(tmp_path / "data", text))
    assert [e.field for e in data.errors] == ["file"]


def test_address_strings_split_on_commas_list_items_never(tmp_path: Path) -> None:
    """`"a, b"` is two addresses; a list item holding a comma is one invalid address, skipped."""
    data = load_text(
        tmp_path,
        "relations:\n"
        "  - id: R1\n    name: A\n"
        "    emails: ['a@garage.be, b@garage.be', c@garage.be]\n"
        '    dunning_emails: " d@garage.be ,e@garage.be,, "\n',
    )
    relation = data.relations["R1"]
    assert relation.emails == ["c@garage.be"]
    assert relation.dunning_emails == ["d@garage.be", "e@garage.be"]
    assert [w.replace(str(tmp_path) + "/", "") for w in data.warnings] == [
        "data.yaml: relation 'R1', field 'emails': 'a@garage.be, b@garage.be' is not a valid address "
        "(The part after the @-sign contains invalid characters: ',', '@', SPACE.); skipped"
    ]


@pytest.mark.parametrize(
    "address",
    [
        "Jan <jan@x.be>",
        "alice@example.org)<bob@evil.com",
        "a@localhost",
        "a" * 65 + "@x.be",
        "a@" + "b" * 250 + ".be",
        "a@x.be\r\nBcc: evil@x.be",
        "=?utf-8?q?a=0ABcc:_x@evil?=@x.be",
        '"quoted"@x.be',
        "a@[127.0.0.1]",
    ],
)
def test_invalid_addresses_never_load(tmp_path: Path, address: str) -> None:
    """Display names, comments, dotless domains, overlong parts, line breaks: skipped with a warning."""
    data = load_text(
        tmp_path, "relations:\n  - id: R1\n    name: A\n    emails:\n      - " + json.dumps(address) + "\n"
    )
    assert data.relations["R1"].emails == []
    assert len(data.warnings) == 1 and "is not a valid address" in data.warnings[0]


# --- hostile YAML ---------------------------------------------------------------------------------


def test_aliases_are_refused(tmp_path: Path) -> None:
    """The billion-laughs alias bomb is refused before anything is expanded."""
    bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [*{previous},*{previous},*{previous},*{previous},*{previous}]\n"
    assert data_error(tmp_path, bomb) == "data.yaml:1: YAML anchors (&name) are not allowed in data files"
    assert (
        data_error(tmp_path, "users: *x\n")
        == "data.yaml:1: YAML aliases (*name) are not allowed in data files"
    )


def test_tags_are_refused(tmp_path: Path) -> None:
    """Explicit tags (`!!python/object`, `!!str`) are refused."""
    assert data_error(tmp_path, "users: !!python/object:os.system [ls]\n") == (
        "data.yaml:1: YAML tags (tag:yaml.org,2002:python/object:os.system) are not allowed in data files"
    )


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    """A key given twice is an error at its second line (YAML and JSON)."""
    text = "relations:\n  - id: R1\n    name: A\n    name: B\n"
    assert data_error(tmp_path, text) == "data.yaml:4: duplicate key 'name'"
    assert (
        data_error(tmp_path, '{"users": [], "users": []}', "data.json") == "data.json: duplicate key 'users'"
    )


def test_deep_nesting_is_refused_without_crashing(tmp_path: Path) -> None:
    """Nesting past MAX_DEPTH is a clear error, even 100 000 levels deep (the C loader would crash)."""
    deep = "[" * 100_000 + "]" * 100_000
    assert data_error(tmp_path, "a: " + deep) == f"data.yaml:1: nested deeper than {MAX_DEPTH} levels"
    assert data_error(tmp_path, deep, "data.json") == f"data.json: nested deeper than {MAX_DEPTH} levels"
    ok = (
        "relations:\n  - {id: R1, name: A, attributes: "
        + "{a: " * (MAX_DEPTH - 4)
        + "1"
        + "}" * (MAX_DEPTH - 4)
        + "}\n"
    )
    assert load_text(tmp_path, ok).relations["R1"].attributes


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("users: [\n", "data.yaml:2: not valid YAML: did not find expected node content"),
        ("a: 1\n---\nb: 2\n", "data.yaml:2: a data file holds one YAML document"),
        ("- 1\n- 2\n", "data.yaml: expected a mapping with users, client_groups, relations and documents"),
        ("users: 5\n", "data.yaml: field 'users': expected a list, got number 5"),
        (
            "people: []\n",
            "data.yaml: field 'people': unknown field (expected one of: users, client_groups, "
            "relations, documents)",
        ),
        ("a: \x00\n", "data.yaml:1: not valid YAML: character #x0000 is not allowed"),
        ("users:\n  - {id: jan}\n", "data.yaml: user 'jan', field 'email': missing required field"),
        (
            "users:\n  - {id: a, email: a@x.be}\n  - {id: a, email: b@x.be}\n",
            "data.yaml: user 'a', field 'id': duplicate id",
        ),
        (
            "relations:\n  - {id: a, name: A}\n  - {id: a, name: B}\n",
            "data.yaml: relation 'a', field 'id': duplicate id",
        ),
    ],
)
def test_bad_files_are_data_errors(tmp_path: Path, text: str, message: str) -> None:
    """Problems with the whole file (or its users and client groups) stop the load."""
    assert data_error(tmp_path, text) == message


def test_non_utf8_is_refused(tmp_path: Path) -> None:
    """A data file in another encoding is a data error, not a crash."""
    path = tmp_path / "data.yaml"
    path.write_bytes(b"relations:\n  - {id: R1, name: Caf\xe9}\n")
    with pytest.raises(DataError) as info:
        load_data(path)
    assert str(info.value) == f"{path}:2: not UTF-8 text (byte 33)"


def test_empty_file_is_an_empty_dataset(tmp_path: Path) -> None:
    """An empty data file has no records (and no error)."""
    data = load_text(tmp_path, "")
    assert (data.relations, data.users, data.documents) == ({}, {}, {})


@pytest.mark.parametrize("loader", ["libyaml", "pure"])
def test_both_event_parsers_give_the_same_data_and_refusals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loader: str
) -> None:
    """Without libyaml the pure-Python parser reads the same values and refuses the same input."""
    import yaml

    from mailpolicy.runtime import safe_yaml

    if loader == "pure":
        monkeypatch.setattr(safe_yaml, "_EVENT_LOADER", yaml.SafeLoader)
    else:
        assert safe_yaml.event_loader() is yaml.CSafeLoader
    data = load_text(tmp_path, DATA)
    assert data.relations["R001"].dunning_emails == ["relances@garage-martin.be", "patron@garage-martin.be"]
    assert data.documents["F2026-0042"].number == "2026-0042"
    assert (
        data_error(tmp_path, "a: " + "[" * 100_000) == f"data.yaml:1: nested deeper than {MAX_DEPTH} levels"
    )
    assert (
        data_error(tmp_path, "a: &x 1\n") == "data.yaml:1: YAML anchors (&name) are not allowed in data files"
    )
    assert data_error(tmp_path, "a: 1\na: 2\n") == "data.yaml:2: duplicate key 'a'"
    assert data_error(tmp_path, "? [a]\n: 1\n") == "data.yaml:1: mapping keys must be plain text"


def test_unreadable_files_are_data_errors(tmp_path: Path) -> None:
    """A missing file or a folder is a DataError naming it, for callers that did not check first."""
    with pytest.raises(DataError) as info:
        load_data(tmp_path / "missing.yaml")
    assert str(info.value) == f"{tmp_path / 'missing.yaml'}: cannot read: No such file or directory"
    with pytest.raises(DataError) as info:
        load_data(tmp_path)
    assert str(info.value) == f"{tmp_path}: cannot read: Is a directory"


def test_broken_records_keep_their_place_for_bulk_runs(tmp_path: Path) -> None:
    """relation_order and document_order list every id, broken ones included, in file order."""
    data = load_text(
        tmp_path,
        "relations:\n  - {id: R1, name: A}\n  - {id: R2, name: B, language: xx}\n  - {id: R3, name: C}\n"
        "documents:\n  - {id: F1, kind: invoice, relation: R2}\n"
        "  - {id: F2, kind: invoice, relation: R1, amount: x}\n",
    )
    assert (data.relation_order, list(data.relations)) == (["R1", "R2", "R3"], ["R1", "R3"])
    assert (data.document_order, list(data.documents)) == (["F1", "F2"], ["F1"])
    with pytest.raises(MessageError) as info:
        data.document("F2", kind="invoice")
    assert str(info.value).endswith("document 'F2', field 'amount': expected a number, got text 'x'")
    assert (info.value.kind, info.value.document) == ("invoice", "F2")
    with pytest.raises(MessageError, match="relation 'R2', field 'language'"):
        data.relation("R2")

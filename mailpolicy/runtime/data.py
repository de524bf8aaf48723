"""Loading and validating a data file (SPEC section 3): users, client groups, relations, documents.

Problems with the whole file (not YAML/JSON, wrong top-level shape, a bad user or client group,
duplicate ids) raise `DataError`. A bad relation or document fails alone: it is kept out of the
dataset and its `DataError` is remembered, so a bulk run reports it and goes on with the others;
resolving a message for it raises `MessageError` with that text. Invalid address strings are
skipped with a warning and never reach a header.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from mailpolicy.runtime.addresses import InvalidAddress, check_address, split_addresses
from mailpolicy.runtime.errors import DataError, MessageError
from mailpolicy.runtime.safe_yaml import MAX_BYTES, coerce, parse_json, parse_yaml

_COLLECTIONS = {
    "users": "user",
    "client_groups": "client_group",
    "relations": "relation",
    "documents": "document",
}
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


@dataclass(frozen=True)
class SkippedAddress:
    """An address string from the data that is not one valid address, and why."""

    text: str
    reason: str


@dataclass
class User:
    """One of the firm's collaborators; senders are users. `email` is None when it was invalid."""

    id: str
    name: str | None
    email: str | None
    skipped: dict[str, list[SkippedAddress]] = field(default_factory=dict)


@dataclass
class ClientGroup:
    """A group of relations that may have its own address (used by the welcome cascade)."""

    id: str
    name: str | None
    email: str | None
    skipped: dict[str, list[SkippedAddress]] = field(default_factory=dict)


@dataclass
class Relation:
    """A client of the firm; `roles` maps role name → user id (ids checked at load time)."""

    id: str
    name: str
    emails: list[str]
    dunning_emails: list[str]
    client_group: str | None
    roles: dict[str, str]
    language: str | None
    family: str | None
    accepts_promotional: bool
    attributes: dict[str, Any]
    skipped: dict[str, list[SkippedAddress]] = field(default_factory=dict)


@dataclass
class Document:
    """An invoice or other document of a relation; dates are `YYYY-MM-DD`, `file` is absolute."""

    id: str
    kind: str
    relation: str
    number: str | None
    date: str | None
    due_date: str | None
    amount: Decimal | None
    currency: str | None
    dunning_emails: list[str]
    file: str | None
    skipped: dict[str, list[SkippedAddress]] = field(default_factory=dict)


@dataclass
class Dataset:
    """A loaded data file. `errors` holds the relations and documents that failed alone."""

    path: str
    users: dict[str, User]
    client_groups: dict[str, ClientGroup]
    relations: dict[str, Relation]
    documents: dict[str, Document]
    relation_order: list[str]
    document_order: list[str]
    errors: list[DataError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    broken: dict[tuple[str, str], DataError] = field(default_factory=dict)

    def relation(self, relation_id: str, *, kind: str | None = None) -> Relation:
        """The relation with this id, or MessageError naming the id (or its data error)."""
        if relation_id in self.relations:
            return self.relations[relation_id]
        if ("relation", relation_id) in self.broken:
            raise MessageError(str(self.broken["relation", relation_id]), kind=kind, relation=relation_id)
        raise MessageError(
            f"unknown relation '{relation_id}' in {self.path}", kind=kind, relation=relation_id
        )

    def document(self, document_id: str, *, kind: str | None = None) -> Document:
        """The document with this id, or MessageError naming the id (or its data error)."""
        if document_id in self.documents:
            return self.documents[document_id]
        if ("document", document_id) in self.broken:
            raise MessageError(str(self.broken["document", document_id]), kind=kind, document=document_id)
        raise MessageError(
            f"unknown document '{document_id}' in {self.path}", kind=kind, document=document_id
        )

    def user(self, user_id: str, *, kind: str | None = None, relation: str | None = None) -> User:
        """The user with this id, or MessageError naming the id."""
        if user_id in self.users:
            return self.users[user_id]
        raise MessageError(f"unknown user '{user_id}' in {self.path}", kind=kind, relation=relation)


def _schema() -> dict[str, Any]:
    text = resources.files("mailpolicy").joinpath("schemas/data.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, (int, float, Decimal)):
        return f"number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_TYPE_WORDS = {
    "string": "text",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
}


def _schema_message(error: Any) -> tuple[str | None, str]:
    """(extra field path, message) in the words of a data file's author."""
    validator = error.validator
    if validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else None
        return missing, "missing required field"
    if validator == "additionalProperties":
        known = error.schema.get("properties", {})
        extras = [k for k in error.instance if k not in known]
        field_name = extras[0] if extras else None
        return field_name, f"unknown field (expected one of: {', '.join(known)})"
    if validator == "type":
        kinds = error.validator_value
        kinds = [kinds] if isinstance(kinds, str) else kinds
        words = " or ".join(_TYPE_WORDS[k] for k in kinds if k != "null")
        return None, f"expected {words}, got {_describe(error.instance)}"
    if validator == "anyOf":
        return None, f"expected an address list or a comma-separated string, got {_describe(error.instance)}"
    if validator == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value if v is not None)
        return None, f"expected one of {allowed}, got {_describe(error.instance)}"
    if validator == "minLength":
        return None, "must not be empty"
    if validator == "pattern":
        if error.schema.get("pattern") == "^[A-Z]{3}$":
            return None, f"expected a 3-letter currency code such as EUR, got {_describe(error.instance)}"
        return None, f"{_describe(error.instance)} is not a valid name"
    return None, str(error.message)


def _field_path(parts: list[Any]) -> str | None:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None


def _record_name(raw: Any, index: int) -> str | int:
    if isinstance(raw, dict) and isinstance(raw.get("id"), str) and raw["id"]:
        return str(raw["id"])
    return index


class _Loader:
    """One load: the raw document, the errors found per record, the warnings."""

    def __init__(self, path: Path, raw: dict[str, Any]):
        self.path = path
        self.name = str(path)
        self.raw = raw
        self.warnings: list[str] = []
        self.record_errors: dict[tuple[str, int], DataError] = {}

    def fail(self, collection: str, index: int, field_name: str | None, message: str) -> None:
        """Remember the first error of a record; a relation or document then fails alone."""
        key = (collection, index)
        if key in self.record_errors:
            return
        items = self.raw.get(collection + "s") or []
        record = _record_name(items[index], index) if index < len(items) else index
        self.record_errors[key] = DataError(
            self.name, message, collection=collection, record=record, field=field_name
        )

    def addresses(
        self,
        collection: str,
        record: str,
        field_name: str,
        value: Any,
        skipped: dict[str, list[SkippedAddress]],
    ) -> list[str]:
        """Valid addresses of one field; invalid ones are skipped with a warning."""
        valid: list[str] = []
        for text in split_addresses(value):
            try:
                valid.append(check_address(text))
            except InvalidAddress as exc:
                skipped.setdefault(field_name, []).append(SkippedAddress(text, str(exc)))
                self.warnings.append(
                    str(
                        DataError(
                            self.name,
                            f"{text!r} is not a valid address ({exc}); skipped",
                            collection=collection,
                            record=record,
                            field=field_name,
                        )
                    )
                )
        return valid


def load_data(path: str | Path) -> Dataset:
    """Load and validate a YAML or JSON data file (JSON when the name ends in `.json`)."""
    path = Path(path)
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise DataError(name, f"larger than {MAX_BYTES // (1024 * 1024)} MiB")
        raw_bytes = path.read_bytes()
        text = raw_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw_bytes.count(b"\n", 0, exc.start) + 1
        raise DataError(name, f"not UTF-8 text (byte {exc.start})", line=line) from None
    except OSError as exc:
        raise DataError(name, f"cannot read: {exc.strerror or exc}") from None
    schema = _schema()
    if path.suffix.lower() == ".json":
        raw = parse_json(text, name)
    else:
        raw = coerce(parse_yaml(text, name), schema)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise DataError(name, "expected a mapping with users, client_groups, relations and documents")
    return _build(path, raw, schema)


def _build(path: Path, raw: dict[str, Any], schema: dict[str, Any]) -> Dataset:
    from mailpolicy.runtime.quickschema import certainly_valid

    loader = _Loader(path, raw)
    name = loader.name
    # jsonschema costs ~120 µs a relation: a file the quick check finds valid skips it; any doubt
    # and jsonschema decides (and words the errors).
    found: list[Any] = []
    if not certainly_valid(schema, raw):
        import jsonschema

        found = list(jsonschema.Draft202012Validator(schema).iter_errors(raw))
    for error in sorted(found, key=lambda e: [str(p) for p in e.absolute_path]):
        where = list(error.absolute_path)
        extra, message = _schema_message(error)
        if len(where) >= 2 and where[0] in _COLLECTIONS and isinstance(where[1], int):
            collection = _COLLECTIONS[str(where[0])]
            field_name = _field_path(where[2:] + ([extra] if extra else []))
            if collection in ("relation", "document"):
                loader.fail(collection, where[1], field_name, message)
                continue
            record = _record_name(raw[where[0]][where[1]], where[1])
            raise DataError(name, message, collection=collection, record=record, field=field_name)
        raise DataError(name, message, field=_field_path(where + ([extra] if extra else [])))

    users: dict[str, User] = {}
    _ids(name, "user", raw.get("users") or [])
    for item in raw.get("users") or []:
        skipped: dict[str, list[SkippedAddress]] = {}
        emails = loader.addresses("user", item["id"], "email", [item["email"]], skipped)
        users[item["id"]] = User(item["id"], item.get("name"), emails[0] if emails else None, skipped)

    groups: dict[str, ClientGroup] = {}
    _ids(name, "client_group", raw.get("client_groups") or [])
    for item in raw.get("client_groups") or []:
        skipped = {}
        given = [item["email"]] if item.get("email") else []
        emails = loader.addresses("client_group", item["id"], "email", given, skipped)
        groups[item["id"]] = ClientGroup(item["id"], item.get("name"), emails[0] if emails else None, skipped)

    relation_items = raw.get("relations") or []
    relation_ids = _ids(name, "relation", relation_items)
    relations: dict[str, Relation] = {}
    for index, item in enumerate(relation_items):
        if ("relation", index) in loader.record_errors:
            continue
        relation = _relation(loader, index, item, users, groups)
        if relation is not None:
            relations[relation.id] = relation

    document_items = raw.get("documents") or []
    document_ids = _ids(name, "document", document_items)
    documents: dict[str, Document] = {}
    known_relations = set(relation_ids)
    for index, item in enumerate(document_items):
        if ("document", index) in loader.record_errors:
            continue
        document = _document(loader, index, item, known_relations)
        if document is not None:
            documents[document.id] = document

    # Relations before documents, each in file order, as the file reads.
    order = list(_COLLECTIONS.values())
    errors = [
        loader.record_errors[key]
        for key in sorted(loader.record_errors, key=lambda k: (order.index(k[0]), k[1]))
    ]
    broken: dict[tuple[str, str], DataError] = {
        (error.collection or "", error.record): error for error in errors if isinstance(error.record, str)
    }
    return Dataset(
        path=name,
        users=users,
        client_groups=groups,
        relations=relations,
        documents=documents,
        relation_order=relation_ids,
        document_order=document_ids,
        errors=errors,
        warnings=loader.warnings,
        broken=broken,
    )


def _ids(name: str, collection: str, items: list[Any]) -> list[str]:
    """The ids of a collection in file order (records without a usable id left out); duplicates refused."""
    ids: list[str] = []
    seen: set[str] = set()
    for item in items:
        record_id = item.get("id") if isinstance(item, dict) else None
        if isinstance(record_id, str) and record_id:
            if record_id in seen:
                raise DataError(name, "duplicate id", collection=collection, record=record_id, field="id")
            seen.add(record_id)
            ids.append(record_id)
    return ids


def _relation(
    loader: _Loader, index: int, item: dict[str, Any], users: dict[str, User], groups: dict[str, ClientGroup]
) -> Relation | None:
    rid = item["id"]
    roles: dict[str, str] = {}
    for role, user_id in (item.get("roles") or {}).items():
        if user_id is None:
            continue  # an explicitly empty role is an empty role, not an error
        if user_id not in users:
            loader.fail("relation", index, f"roles.{role}", f"unknown user '{user_id}'")
            return None
        roles[role] = user_id
    group = item.get("client_group")
    if group is not None and group not in groups:
        loader.fail("relation", index, "client_group", f"unknown client group '{group}'")
        return None
    skipped: dict[str, list[SkippedAddress]] = {}
    return Relation(
        id=rid,
        name=item["name"],
        emails=loader.addresses("relation", rid, "emails", item.get("emails"), skipped),
        dunning_emails=loader.addresses(
            "relation", rid, "dunning_emails", item.get("dunning_emails"), skipped
        ),
        client_group=group,
        roles=roles,
        language=item.get("language"),
        family=item.get("family"),
        accepts_promotional=item.get("accepts_promotional") is True,
        attributes=dict(item.get("attributes") or {}),
        skipped=skipped,
    )


def _date(loader: _Loader, index: int, field_name: str, value: str | None) -> tuple[bool, str | None]:
    if value is None:
        return True, None
    try:
        if not _DATE.match(value):
            raise ValueError
        datetime.date.fromisoformat(value)
    except ValueError:
        loader.fail("document", index, field_name, f"expected a date YYYY-MM-DD, got {_describe(value)}")
        return False, None
    return True, value


def _document(loader: _Loader, index: int, item: dict[str, Any], relation_ids: set[str]) -> Document | None:
    did = item["id"]
    if item["relation"] not in relation_ids:
        loader.fail("document", index, "relation", f"unknown relation '{item['relation']}'")
        return None
    ok_date, date = _date(loader, index, "date", item.get("date"))
    ok_due, due_date = _date(loader, index, "due_date", item.get("due_date"))
    if not (ok_date and ok_due):
        return None
    file = item.get("file")
    resolved: str | None = None
    if file:
        base = loader.path.resolve().parent
        try:
            target = (base / file).resolve()
        except (ValueError, OSError):  # a NUL byte, a name too long for the system
            loader.fail("document", index, "file", "not a usable file path")
            return None
        # Attachments come from the data file's folder only: an exported file must not be able
        # to attach /etc/passwd or ../../secrets (`..`, absolute paths and escaping symlinks).
        if Path(file).is_absolute() or not target.is_relative_to(base):
            loader.fail("document", index, "file", "must be a path inside the data file's folder")
            return None
        resolved = str(target)
    amount = item.get("amount")
    skipped: dict[str, list[SkippedAddress]] = {}
    return Document(
        id=did,
        kind=item["kind"],
        relation=item["relation"],
        number=item.get("number"),
        date=date,
        due_date=due_date,
        amount=None if amount is None else Decimal(str(amount)),
        currency=item.get("currency"),
        dunning_emails=loader.addresses(
            "document", did, "dunning_emails", item.get("dunning_emails"), skipped
        ),
        file=resolved,
        skipped=skipped,
    )

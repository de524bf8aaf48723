"""The runtime's exceptions: bad rule tables, bad data files, messages that cannot be built."""

from __future__ import annotations

from typing import Any


class TableError(Exception):
    """A rule table that is not valid JSON, not schema-valid, or of another format version."""


class DataError(Exception):
    """A data file, or one record in it, that breaks SPEC section 3.

    `str()` reads `data.yaml: relation 'R001', field 'emails': message`; the record and field
    parts are left out when the problem concerns the whole file.
    """

    def __init__(
        self,
        path: str,
        message: str,
        *,
        collection: str | None = None,
        record: str | int | None = None,
        field: str | None = None,
        line: int | None = None,
    ) -> None:
        self.path = path
        self.collection = collection  # "relation", "document", "user", "client_group"
        self.record = record  # the record's id, or its 0-based index when it has no usable id
        self.field = field
        self.message = message
        self.line = line
        super().__init__(self._text())

    def where(self) -> str:
        """`relation 'R001', field 'emails'` (or `relations[3]` for a record without an id)."""
        parts = []
        if self.record is not None:
            if isinstance(self.record, int):
                parts.append(f"{self.collection}s[{self.record}]")
            else:
                parts.append(f"{self.collection} '{self.record}'")
        if self.field is not None:
            parts.append(f"field '{self.field}'")
        return ", ".join(parts)

    def _text(self) -> str:
        head = self.path if self.line is None else f"{self.path}:{self.line}"
        where = self.where()
        return f"{head}: {where}: {self.message}" if where else f"{head}: {self.message}"


class MessageError(Exception):
    """A message that cannot be built: no `to` address, a missing placeholder value, an unknown id.

    One bad message fails alone; `loc` is the policy line and column when a rule is to blame.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str | None = None,
        relation: str | None = None,
        document: str | None = None,
        loc: dict[str, Any] | None = None,
    ) -> None:
        self.message = message
        self.kind = kind
        self.relation = relation
        self.document = document
        self.loc = loc
        super().__init__(message)


class MessageSkipped(MessageError):
    """Not a failure: a message deliberately not built (a mailing to a relation without consent)."""

"""The send journal: a SQLite outbox recording each message before it is sent and after the reply.

A message is identified by a *stable id* that does not change between two runs of the same
command (kind, relation, document, sender, envelope addresses, subject, template), never by its
Message-ID or date. The row is written and synced to disk with state `sending` before the first
SMTP command of the message, then marked `sent`, `partial`, `failed` or `unknown` after the reply.
A `sending` row found when the journal is opened again means the process died in flight: whether
the server got that message is unknown, so it is marked `unknown` and not resent automatically.
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

SCHEMA_VERSION = 1

#: states a row can be in; `sending` only between the two writes around one SMTP transaction
STATES = ("sending", "sent", "partial", "failed", "unknown")
#: states meaning "do not send again": the server accepted it for at least one recipient, or may have
DONE_STATES = frozenset({"sent", "partial"})


class JournalError(Exception):
    """A journal that cannot be opened: not a mailpolicy journal, another version, or in use."""


class EnvelopeLike(Protocol):
    """What the journal needs of an envelope to derive a message's stable id."""

    @property
    def kind(self) -> str: ...
    @property
    def relation(self) -> str: ...
    @property
    def document(self) -> str | None: ...
    @property
    def sender(self) -> str | None: ...
    @property
    def from_address(self) -> str: ...
    @property
    def to(self) -> list[str]: ...
    @property
    def cc(self) -> list[str]: ...
    @property
    def bcc(self) -> list[str]: ...
    @property
    def subject(self) -> str: ...
    @property
    def template(self) -> str | None: ...


def stable_id(envelope: EnvelopeLike) -> str:
    """The id of a message that stays the same when the same command runs again.

    Built from what decides who gets which message, not from the Message-ID or the date (new on
    every run) nor from the rendered bytes (MIME boundaries may be random). So a corrected typo in a
    template body does not resend the batch; a different subject or template is another message.
    """
    identity = {
        "kind": envelope.kind,
        "relation": envelope.relation,
        "document": envelope.document,
        "sender": envelope.sender,
        "from": envelope.from_address.lower(),
        "to": [a.lower() for a in envelope.to],
        "cc": [a.lower() for a in envelope.cc],
        "bcc": [a.lower() for a in envelope.bcc],
        "subject": envelope.subject,
        "template": envelope.template,
    }
    canonical = json.dumps(identity, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class JournalEntry:
    """One row of the journal."""

    id: str
    kind: str
    relation: str
    document: str | None
    message_id: str | None
    mail_from: str
    recipients: tuple[str, ...]
    state: str
    attempts: int
    detail: dict[str, Any]
    updated_at: str


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


class Journal:
    """A SQLite outbox at PATH, opened by one sending process at a time.

    `begin()` records a message as `sending` and syncs before anything goes to the server;
    `finish()` records the outcome. WAL with synchronous=FULL: a committed row survives a kill -9
    and a power cut. An exclusive lock file keeps two sends from sharing a journal.
    """

    def __init__(self, path: str | os.PathLike[str], *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.interrupted: list[JournalEntry] = []
        self._lock_file: Any = None
        if read_only:
            if not self.path.exists():
                # A dry run with a new journal: nothing is recorded yet, and nothing must be created.
                self._db: sqlite3.Connection | None = None
                return
            uri = f"file:{self.path}?mode=ro"
            self._db = self._connect(uri, uri=True)
            self._check_schema()
            return
        self._lock()
        self._db = self._connect(str(self.path))
        try:
            self._db.execute("PRAGMA synchronous=FULL")
            tables = self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
            if not tables:
                # Only a new, empty database becomes a journal: never write into someone else's.
                self._db.execute("PRAGMA journal_mode=WAL")
                self._create_schema()
            self._check_schema()
            self.interrupted = self._recover()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise JournalError(f"{self.path}: not a mailpolicy journal ({exc})") from None
        except JournalError:
            self.close()
            raise

    def _connect(self, target: str, *, uri: bool = False) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(target, uri=uri, isolation_level=None, timeout=10)
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: cannot open the journal ({exc})") from None
        db.row_factory = sqlite3.Row
        return db

    def _lock(self) -> None:
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            self._lock_file = open(lock_path, "a+")  # noqa: SIM115 - held for the journal's lifetime
        except OSError as exc:
            raise JournalError(f"{self.path}: cannot create the lock file {lock_path} ({exc})") from None
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            self._lock_file = None
            raise JournalError(f"{self.path}: the journal is in use by another send") from None

    def _create_schema(self) -> None:
        assert self._db is not None
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT OR IGNORE INTO meta VALUES ('format', 'mailpolicy-journal');
            INSERT OR IGNORE INTO meta VALUES ('version', '1');
            CREATE TABLE IF NOT EXISTS outbox (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                relation TEXT NOT NULL,
                document TEXT,
                message_id TEXT,
                mail_from TEXT NOT NULL,
                recipients TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('sending','sent','partial','failed','unknown')),
                attempts INTEGER NOT NULL DEFAULT 0,
                detail TEXT NOT NULL DEFAULT '{}',
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            );
            """
        )

    def _check_schema(self) -> None:
        assert self._db is not None
        try:
            rows = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: not a mailpolicy journal ({exc})") from None
        if rows.get("format") != "mailpolicy-journal":
            raise JournalError(f"{self.path}: not a mailpolicy journal")
        if rows.get("version") != str(SCHEMA_VERSION):
            raise JournalError(
                f"{self.path}: journal version {rows.get('version')} is not supported "
                f"(expected {SCHEMA_VERSION})"
            )

    def _recover(self) -> list[JournalEntry]:
        """Mark rows left in `sending` by a process that died as `unknown`, and return them."""
        assert self._db is not None
        stale = [self._entry(r) for r in self._db.execute("SELECT * FROM outbox WHERE state = 'sending'")]
        if stale:
            detail = json.dumps({"reason": "interrupted while sending: the server may or may not have it"})
            self._db.execute(
                "UPDATE outbox SET state = 'unknown', detail = ?, updated_at = ? WHERE state = 'sending'",
                (detail, _now()),
            )
        return stale

    @staticmethod
    def _entry(row: sqlite3.Row) -> JournalEntry:
        return JournalEntry(
            id=row["id"],
            kind=row["kind"],
            relation=row["relation"],
            document=row["document"],
            message_id=row["message_id"],
            mail_from=row["mail_from"],
            recipients=tuple(json.loads(row["recipients"])),
            state=row["state"],
            attempts=row["attempts"],
            detail=json.loads(row["detail"]),
            updated_at=row["updated_at"],
        )

    # --- queries --------------------------------------------------------------------------------

    def get(self, message_key: str) -> JournalEntry | None:
        """The row for MESSAGE_KEY, or None when this message was never attempted."""
        if self._db is None:
            return None
        row = self._db.execute("SELECT * FROM outbox WHERE id = ?", (message_key,)).fetchone()
        return self._entry(row) if row is not None else None

    def entries(self) -> list[JournalEntry]:
        """Every row, oldest first."""
        if self._db is None:
            return []
        return [self._entry(r) for r in self._db.execute("SELECT * FROM outbox ORDER BY rowid")]

    # --- writes ---------------------------------------------------------------------------------

    def begin(
        self,
        message_key: str,
        *,
        kind: str,
        relation: str,
        document: str | None,
        message_id: str | None,
        mail_from: str,
        recipients: Iterable[str],
    ) -> None:
        """Record that MESSAGE_KEY is about to be sent; durable before this returns."""
        assert self._db is not None and not self.read_only, "journal opened read-only"
        now = _now()
        self._write(
            """
            INSERT INTO outbox (id, kind, relation, document, message_id, mail_from, recipients,
                                state, attempts, detail, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, 'sending', 0, '{}', ?, ?)
            ON CONFLICT (id) DO UPDATE SET state = 'sending', message_id = excluded.message_id,
                mail_from = excluded.mail_from, recipients = excluded.recipients,
                updated_at = excluded.updated_at
            """,
            (
                message_key,
                kind,
                relation,
                document,
                message_id,
                mail_from,
                json.dumps(list(recipients)),
                now,
                now,
            ),
        )

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        """One committed write; a failure (disk full, read-only file) is a JournalError."""
        assert self._db is not None
        try:
            self._db.execute(sql, params)
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: cannot write the journal ({exc})") from None

    def finish(self, message_key: str, state: str, *, attempts: int, detail: dict[str, Any]) -> None:
        """Record the server's verdict for MESSAGE_KEY (`sent`, `partial`, `failed` or `unknown`)."""
        assert self._db is not None and not self.read_only, "journal opened read-only"
        if state not in STATES or state == "sending":
            raise ValueError(f"not a final journal state: {state!r}")
        self._write(
            "UPDATE outbox SET state = ?, attempts = attempts + ?, detail = ?, updated_at = ? WHERE id = ?",
            (state, attempts, json.dumps(detail, ensure_ascii=False, sort_keys=True), _now(), message_key),
        )

    def close(self) -> None:
        """Close the database and release the lock."""
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

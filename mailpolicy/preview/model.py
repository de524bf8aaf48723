"""What the preview shows: the compiled policy, the data, and every message of the selection.

This module knows nothing about HTTP: it turns the files on disk into an immutable `Snapshot`
that the web layer renders, so one reload swaps one object and a request never sees half a
reload.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from mailpolicy.diagnostics import Diagnostic, Span

# The kinds of the policy are shown in this order first (the built-in kinds as SPEC 2.2 lists
# them), then declared kinds alphabetically: consultants read `general` before its children.
BUILTIN_KIND_ORDER = (
    "general",
    "invoice",
    "reminder",
    "task",
    "welcome",
    "notification",
    "notification.failed_task",
    "notification.message",
    "notification.vat_ok",
    "notification.user_request",
    "mailing",
)


@dataclass(frozen=True)
class Selection:
    """Which messages the preview lists: the selection options of `render`/`send` (SPEC 5).

    With no relation, document or audience given, every relation is shown.
    """

    kind: str | None = None
    relations: tuple[str, ...] = ()
    documents: tuple[str, ...] = ()
    audience: str | None = None
    sender: str | None = None
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True)
class MessageKey:
    """Identifies one message across reloads: its kind, relation and document."""

    kind: str
    relation: str
    document: str | None = None

    def query(self) -> str:
        """The URL query string that names this message."""
        params = {"kind": self.kind, "relation": self.relation}
        if self.document is not None:
            params["document"] = self.document
        return urlencode(params)

    def file_stem(self) -> str:
        """A file-name-safe stem for the downloaded `.eml`."""
        parts = [self.kind, self.relation] + ([self.document] if self.document else [])
        raw = "-".join(parts)
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in raw)[:120] or "message"


@dataclass
class Entry:
    """One message of the gallery: its envelope when it resolves, else the error that stopped it."""

    key: MessageKey
    relation_name: str
    envelope: Any = None  # mailpolicy.runtime.Envelope
    error: Exception | None = None
    skipped: bool = False

    @property
    def failed(self) -> bool:
        """True when the message cannot be built (a skipped mailing is not a failure)."""
        return self.error is not None and not self.skipped

    def search_text(self) -> str:
        """The lower-cased text the gallery search matches against."""
        env = self.envelope
        words = [self.key.kind, self.key.relation, self.relation_name, self.key.document or ""]
        if env is not None:
            words += [env.subject, env.from_address, *env.to]
        if self.error is not None:
            words.append(str(self.error))
        return " ".join(words).lower()


@dataclass(frozen=True)
class RenderedMessage:
    """A message as sent (the `.eml` bytes) and the parts the message page shows."""

    eml: bytes
    html: str | None
    text: str | None
    attachments: list[tuple[str, int]]  # (file name, size in bytes)


@dataclass
class Snapshot:
    """Everything loaded from disk at one moment; replaced as a whole on every reload."""

    version: str
    policy_path: Path
    data_path: Path
    selection: Selection
    table: dict[str, Any] | None = None
    rule_table: Any = None  # mailpolicy.runtime RuleTable
    data: Any = None  # mailpolicy.runtime Dataset
    diagnostics: list[Diagnostic] = field(default_factory=list)
    problems: list[Diagnostic] = field(default_factory=list)  # errors that stop the preview
    entries: list[Entry] = field(default_factory=list)
    rendered: dict[MessageKey, RenderedMessage] = field(default_factory=dict)  # filled on demand

    @property
    def ok(self) -> bool:
        """True when the policy compiled and the data loaded, so messages can be shown."""
        return not self.problems

    def find(self, key: MessageKey) -> Entry | None:
        """The entry for KEY, or None when the current policy/data no longer has it."""
        for entry in self.entries:
            if entry.key == key:
                return entry
        return None

    @property
    def policy_source(self) -> Path:
        """The text the rules' lines point into: the policy, or for a compiled table the policy it
        was compiled from when that file sits next to it."""
        name = (self.table or {}).get("policy")
        if self.policy_path.suffix != ".mail" and isinstance(name, str):
            candidate = self.policy_path.parent / Path(name).name
            if candidate.is_file():
                return candidate
        return self.policy_path

    def sources(self) -> dict[str, Path]:
        """The files the source view may show, by the name used in links (never any other path)."""
        files = {
            self.policy_path.name: self.policy_path,
            self.policy_source.name: self.policy_source,
            self.data_path.name: self.data_path,
        }
        base = self.policy_path.parent
        for name in (self.table or {}).get("templates", {}):
            files[name] = base / name
        for diag in self.problems + self.diagnostics:
            if diag.span is not None:
                path = _source_file(diag.span.path, base)
                if path is not None and path.is_file():
                    files.setdefault(diag.span.path, path)
        return files

    def source_name(self, path: str | None) -> str:
        """The source-view name of a file named by a diagnostic or a template slot."""
        if path is None:
            return self.policy_source.name
        for name, file in self.sources().items():
            if name == path or str(file) == path:
                return name
        return path


def _source_file(path: str, base: Path) -> Path | None:
    """A diagnostic's path as a file: absolute, relative to the policy folder, or to the cwd."""
    candidate = Path(path)
    if candidate.is_absolute():
        return candidate
    for root in (base, Path.cwd()):
        if (root / candidate).is_file():
            return root / candidate
    return None


def ordered_kinds(kinds: Iterable[str]) -> list[str]:
    """The kinds in reading order: the built-ins as the spec lists them, then declared kinds."""
    names = set(kinds)
    first = [k for k in BUILTIN_KIND_ORDER if k in names]
    return first + sorted(names - set(first))


def _problem(code: str, message: str, path: Path, line: int | None = None) -> Diagnostic:
    span = Span(str(path), line, 1) if line else None
    return Diagnostic(code=code, message=message, span=span)


def load_snapshot(policy_path: Path, data_path: Path, selection: Selection, version: str) -> Snapshot:
    """Compile the policy, load the data and resolve every message of the selection.

    Never raises for bad input: compile diagnostics and data errors become `problems`, which the
    preview shows instead of the gallery, and each message that fails keeps its own error.
    """
    from mailpolicy.compiler import compile_file
    from mailpolicy.runtime import load_data, load_table
    from mailpolicy.runtime.errors import DataError, TableError

    snap = Snapshot(version=version, policy_path=policy_path, data_path=data_path, selection=selection)
    try:
        if policy_path.suffix != ".mail":
            # An already compiled rule table (any file not named *.mail, as the CLI decides):
            # nothing to compile, only to load.
            snap.rule_table = load_table(policy_path)
            snap.table = snap.rule_table.raw
        else:
            result = compile_file(policy_path)
            errors = [d for d in result.diagnostics if d.severity == "error"]
            snap.diagnostics = [d for d in result.diagnostics if d.severity != "error"]
            if errors or result.table is None:
                snap.problems = errors or [_problem("E-COMPILE", "the policy did not compile", policy_path)]
                return snap
            snap.table = result.table
            snap.rule_table = load_table(result.table)
    except OSError as exc:
        snap.problems.append(_problem("E-IO", f"cannot read the policy: {exc.strerror}", policy_path))
        return snap
    except TableError as exc:
        snap.problems.append(_problem("E-TABLE", str(exc), policy_path))
        return snap
    try:
        snap.data = load_data(data_path)
    except DataError as exc:
        snap.problems.append(_problem("E-DATA", str(exc), data_path, exc.line))
        return snap
    except OSError as exc:
        snap.problems.append(_problem("E-IO", f"cannot read the data: {exc.strerror}", data_path))
        return snap
    from mailpolicy.runtime.batch import SelectionError

    try:
        snap.entries = list(plan_entries(snap))
    except SelectionError as exc:
        snap.problems.append(_problem("E-SELECTION", str(exc), policy_path))
    return snap


def plan_entries(snap: Snapshot) -> Iterable[Entry]:
    """Every kind of the policy against every selected relation, in gallery order.

    A relation gets one message per document the kind is about (`document_kinds`: an invoice
    and its reminder for each invoice), and one message without document otherwise, so a kind
    whose template needs a document shows why it fails for a relation that has none.
    """
    from mailpolicy.runtime.batch import plan_messages

    table, data, sel = snap.rule_table, snap.data, snap.selection
    kinds = [sel.kind] if sel.kind else ordered_kinds(table.kinds)

    def entries(kind: str, **select: Any) -> Iterable[Entry]:
        items = plan_messages(table, data, kind=kind, sender=sel.sender, recipients=sel.recipients, **select)
        for item in items:
            yield _entry(data, kind, item)

    if sel.documents:
        for doc_id in sel.documents:
            doc = data.documents.get(doc_id)
            kind = sel.kind or (doc.kind if doc is not None else "general")
            yield from entries(kind, documents=(doc_id,))
        return
    if sel.audience:
        for kind in kinds:
            yield from entries(kind, audience=sel.audience)
        return
    relations = list(sel.relations) or list(data.relation_order)
    if not sel.relations:
        # Relations without a usable id cannot be listed by id; show their data error once.
        for error in data.errors:
            if error.collection == "relation" and isinstance(error.record, int):
                yield Entry(MessageKey(kinds[0], f"relations[{error.record}]"), "", error=error)
    by_relation: dict[str, list[Any]] = {}
    for doc_id in data.document_order:
        if doc_id in data.documents:
            document = data.documents[doc_id]
            by_relation.setdefault(document.relation, []).append(document)
    present = {d.kind for docs in by_relation.values() for d in docs}
    for kind in kinds:
        doc_kinds = document_kinds(table, kind, present)
        for rel_id in relations:
            docs = tuple(d.id for d in by_relation.get(rel_id, ()) if d.kind in doc_kinds)
            if docs:
                yield from entries(kind, documents=docs)
            else:
                yield from entries(kind, relation=rel_id)


def document_kinds(table: Any, kind: str, present: set[str]) -> set[str]:
    """The document kinds a message of KIND is about: its own, else its nearest ancestor's.

    A credit note message is about credit notes when the data has some; a reminder (which
    extends invoice) is about invoices. `general` is about no document.
    """
    for ancestor in table.lineage(kind):
        if ancestor == "general":
            break
        if ancestor in present:
            return {ancestor}
    return set()


def _entry(data: Any, kind: str, item: Any) -> Entry:
    """A gallery entry from one planned item: an Envelope, or the error of that message."""
    from mailpolicy.runtime.errors import MessageError, MessageSkipped

    if isinstance(item, MessageError):
        relation = item.relation or ""
        if not relation and item.document in data.documents:
            relation = data.documents[item.document].relation
        key = MessageKey(item.kind or kind, relation, item.document)
        return Entry(
            key, _relation_name(data, relation), error=item, skipped=isinstance(item, MessageSkipped)
        )
    key = MessageKey(item.kind, item.relation, item.document)
    return Entry(key, _relation_name(data, item.relation), envelope=item)


def _relation_name(data: Any, relation_id: str) -> str:
    relation = data.relations.get(relation_id)
    return relation.name if relation is not None else ""


def render(snap: Snapshot, entry: Entry) -> RenderedMessage:
    """Build ENTRY's message exactly as `render` writes it, and pull out the parts to show.

    Raises the runtime's `MessageError` when the template cannot be filled for this message.
    """
    from mailpolicy.runtime.message import compose_message

    cached = snap.rendered.get(entry.key)
    if cached is not None:
        return cached
    composed = compose_message(snap.rule_table, snap.data, entry.envelope)
    parsed = email.message_from_bytes(composed.data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)  # guaranteed by policy=default
    html_part = parsed.get_body(("html",))
    text_part = parsed.get_body(("plain",))
    attachments = []
    for part in parsed.iter_attachments():
        payload = part.get_payload(decode=True)
        size = len(payload) if isinstance(payload, bytes) else 0
        attachments.append((part.get_filename() or "attachment", size))
    rendered = RenderedMessage(
        eml=composed.data,
        html=html_part.get_content() if html_part is not None else None,
        text=text_part.get_content() if text_part is not None else None,
        attachments=attachments,
    )
    snap.rendered[entry.key] = rendered
    return rendered

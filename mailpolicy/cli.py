"""The `mailpolicy` command line: a thin click layer over the public API.

Commands import their stage lazily so that `check` does not pay for MJML, jsonschema or Babel.
Exit codes everywhere: 0 success, 1 errors in the policy, data or messages, 2 usage errors.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from mailpolicy.runtime.data import Dataset
    from mailpolicy.runtime.table import RuleTable


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mailpolicy")
def cli() -> None:
    """Decide who sends, receives and is copied on every email a firm sends, and produce them."""


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a clear error (never a traceback) and exit with CODE."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def require_file(path: str, what: str = "file") -> None:
    """Exit 2 unless PATH is a file: `no such file: PATH`, or that PATH is a folder."""
    from pathlib import Path

    if Path(path).is_dir():
        fail(f"{path} is a folder, not a {what}", 2)
    if not Path(path).is_file():
        fail(f"no such {what}: {path}", 2)


def load_policy_or_table(path: str) -> RuleTable:
    """A `.mail` policy compiled (errors printed, exit 1) or a `.json` rule table loaded (exit 1 if bad)."""
    from pathlib import Path

    from mailpolicy.runtime.errors import TableError
    from mailpolicy.runtime.table import load_table

    source = Path(path)
    require_file(path)
    if source.suffix != ".mail":
        try:
            return load_table(source)
        except TableError as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"cannot read {path}: {exc.strerror}", 2)
    from mailpolicy.compiler import compile_file

    try:
        result = compile_file(source)
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}", 2)
    errors = [d for d in result.diagnostics if d.severity == "error"]
    _print_diagnostics(errors, result.source, str(source), spaced=False)
    if errors or result.table is None:
        fail(f"{path}: the policy has errors")
    try:
        # Compiled just now in this process: schema-valid by construction, so no jsonschema
        # (~75 ms of start-up); load_table's other checks still run. See docs/ARCHITECTURE.md.
        table = load_table(result.table, trusted_compiled=True)
    except TableError as exc:
        fail(str(exc))
    table.base_dir = source.resolve().parent
    return table


# --- commands are added below, one section per command ---------------------------------------


# --- check and compile -----------------------------------------------------------------------


def _print_diagnostics(
    diagnostics: list[Any], source: str | None, path: str | None = None, *, spaced: bool = True
) -> None:
    """Diagnostics in the text form (excerpt, caret, help) on stderr, one blank line apart if SPACED.

    SOURCE is the text of the policy at PATH; a diagnostic in another file (an MJML template)
    gets its excerpt from that file, read once.
    """
    from pathlib import Path

    from mailpolicy.diagnostics import render_text

    texts: dict[str, str | None] = {}
    for diag in diagnostics:
        where = diag.span.path if diag.span else None
        text = source
        if where is not None and path is not None and where != path:
            if where not in texts:
                try:
                    texts[where] = Path(where).read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    texts[where] = None
            text = texts[where]
        click.echo(render_text(diag, text), err=True)
        if spaced:
            click.echo("", err=True)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _source_order(diag: Any) -> tuple[int, str, int, int]:
    span = diag.span
    return (0, "", 0, 0) if span is None else (1, span.path, span.line, span.column)


@cli.command("check")
@click.argument("policies", metavar="POLICY...", nargs=-1, required=True)
@click.option("--strict", is_flag=True, help="Warnings fail too, and kinds without subject or template warn.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github", "sarif"]),
    default="text",
    show_default=True,
    help="text on stderr; json, github annotations or SARIF 2.1.0 on stdout.",
)
@click.option(
    "--explain-empty", is_flag=True, help="Report, per kind, whether `to` and `reply_to` can come out empty."
)
def check_command(policies: tuple[str, ...], strict: bool, fmt: str, explain_empty: bool) -> None:
    """Check policies and print their diagnostics; exit 1 on errors (or warnings with --strict).

    Lint warnings (MP6xx, docs/authoring.md) come with the compiler's own findings.
    """
    import json

    from mailpolicy.compiler import compile_file
    from mailpolicy.compiler.formats import format_diagnostics
    from mailpolicy.compiler.lint import check_emptiness, format_emptiness, lint_table

    if explain_empty and fmt not in ("text", "json"):
        raise click.UsageError("--explain-empty goes with --format text or json")
    for name in policies:
        require_file(name)
    errors = warnings = 0
    collected: list[Any] = []
    emptiness: list[dict[str, Any]] = []
    reports: list[str] = []
    for name in policies:
        try:
            result = compile_file(name, strict=strict)
        except OSError as exc:
            fail(f"{name}: cannot read: {exc.strerror or exc}", 2)
        diagnostics = list(result.diagnostics)
        if result.table is not None:
            diagnostics += lint_table(result.table, name, result.source)
            # Lint and compiler findings read best together, in source order (stable sort).
            diagnostics.sort(key=_source_order)
            if explain_empty:
                report = check_emptiness(result.table)
                reports.append(format_emptiness(report, name))
                emptiness += [{"path": name, **entry.as_dict()} for entry in report]
        elif explain_empty:
            reports.append(f"{name}: not analysed: the policy has errors\n")
        if fmt == "text":
            _print_diagnostics(diagnostics, result.source, name)
        collected += diagnostics
        errors += sum(d.severity == "error" for d in diagnostics)
        warnings += sum(d.severity == "warning" for d in diagnostics)
    if fmt == "json" and explain_empty:
        payload = {"diagnostics": [d.as_dict() for d in collected], "emptiness": emptiness}
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    elif fmt != "text":
        click.echo(format_diagnostics(collected, fmt), nl=False)
    else:
        click.echo("".join(reports), nl=False)
    what = _plural(len(policies), "policy").replace("policys", "policies")
    click.echo(f"checked {what}: {_plural(errors, 'error')}, {_plural(warnings, 'warning')}", err=True)
    if errors or (strict and warnings):
        sys.exit(1)


@cli.command("compile")
@click.argument("policy", metavar="POLICY")
@click.option("-o", "--output", "out", metavar="OUT.json", help="Write the table here (default: stdout).")
def compile_command(policy: str, out: str | None) -> None:
    """Compile a policy into its JSON rule table (deterministic, schema-validated)."""
    from pathlib import Path

    from mailpolicy.compiler import compile_file, dump_table

    require_file(policy)
    try:
        result = compile_file(policy)
    except OSError as exc:
        fail(f"{policy}: cannot read: {exc.strerror or exc}", 2)
    _print_diagnostics(result.diagnostics, result.source, policy)
    if result.table is None or not result.ok:
        fail(f"{policy}: the policy has errors; no rule table was written")
    try:
        text = dump_table(result.table)
    except ValueError as exc:
        fail(str(exc))
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{out}: cannot write: {exc.strerror or exc}", 2)


# --- selection options (render, send, preview) -----------------------------------------------


@dataclass(frozen=True)
class MessageSelection:
    """The messages a render, send or preview run is about (SPEC section 5's selection options)."""

    data_path: str
    kind: str | None
    relation: str | None
    documents: tuple[str, ...]
    audience: str | None
    all_relations: bool
    sender: str | None
    recipients: tuple[str, ...]

    def chosen(self) -> list[str]:
        """The selection options given, by their option names."""
        given = (
            ("--relation", self.relation),
            ("--document", self.documents),
            ("--audience", self.audience),
            ("--all", self.all_relations),
        )
        return [name for name, value in given if value]

    def require_one(self) -> None:
        """Usage error (exit 2) unless exactly one selection option is given, and --kind where needed."""
        chosen = self.chosen()
        if len(chosen) != 1:
            given = f" (got {', '.join(chosen)})" if chosen else ""
            options = "--relation, --document, --audience or --all"
            raise click.UsageError(f"choose exactly one of {options}{given}")
        if self.kind is None and not self.documents:
            raise click.UsageError("--kind is required unless messages are selected with --document")

    def check_names(self, table: RuleTable, data: Dataset) -> None:
        """Exit 1 once for an unknown --kind or --sender, instead of once per selected message."""
        from mailpolicy.diagnostics import did_you_mean
        from mailpolicy.runtime.errors import MessageError

        if self.kind is not None and self.kind not in table.kinds:
            hint = did_you_mean(self.kind, table.kinds)
            fail(f"unknown kind '{self.kind}'" + (f"; {hint[0]}" if hint else ""))
        if self.sender is not None:
            try:
                data.user(self.sender)
            except MessageError as exc:
                fail(str(exc))

    def plan(self, table: RuleTable, data: Dataset) -> Iterator[Any]:
        """The selected messages, streamed: each an Envelope or the error of that one message.

        render and send never show a trace, so none is built (about a quarter of resolving a message).
        """
        from mailpolicy.runtime.batch import plan_messages

        return plan_messages(
            table,
            data,
            kind=self.kind,
            relation=self.relation,
            documents=self.documents,
            audience=self.audience,
            all_relations=self.all_relations,
            sender=self.sender,
            recipients=self.recipients,
            trace=False,
        )


def selection_options(command: Any) -> Any:
    """The options that select messages, shared by render, send and preview (SPEC section 5).

    The command receives them as one `selection: MessageSelection` parameter.
    """

    @functools.wraps(command)
    def packed(
        *args: Any,
        data_path: str,
        kind: str | None,
        relation: str | None,
        documents: tuple[str, ...],
        audience: str | None,
        all_relations: bool,
        sender: str | None,
        recipients: tuple[str, ...],
        **kwargs: Any,
    ) -> Any:
        """The command, called with the selection options packed into one MessageSelection."""
        selection = MessageSelection(
            data_path, kind, relation, documents, audience, all_relations, sender, recipients
        )
        return command(*args, selection=selection, **kwargs)

    options = [
        click.option(
            "--data",
            "data_path",
            required=True,
            type=click.Path(exists=True, dir_okay=False),
            help="The data file (YAML or JSON).",
        ),
        click.option(
            "--kind",
            metavar="KIND",
            help="The message kind (defaults to each document's kind with --document).",
        ),
        click.option("--relation", metavar="ID", help="One message to this relation."),
        click.option(
            "--document",
            "documents",
            multiple=True,
            metavar="DOC_ID",
            help="One message per document, to its relation (repeatable).",
        ),
        click.option("--audience", metavar="NAME", help="The relations of this audience of the policy."),
        click.option("--all", "all_relations", is_flag=True, help="Every relation of the data file."),
        click.option(
            "--sender", metavar="USER_ID", help="The sending user's id (feeds the `sender` source)."
        ),
        click.option(
            "--recipient",
            "recipients",
            multiple=True,
            metavar="ADDR",
            help="An address for the `recipient` source.",
        ),
    ]
    for option in reversed(options):
        packed = option(packed)
    return packed


def load_data_file(path: str) -> Dataset:
    """The data file, or a clear error naming the file, record and field (exit 1)."""
    from mailpolicy.runtime.data import load_data
    from mailpolicy.runtime.errors import DataError

    try:
        return load_data(path)
    except DataError as exc:
        fail(str(exc))


# --- render ----------------------------------------------------------------------------------

RENDER_PROGRESS_EVERY = 1000


def _eml_name(relation: str, document: str | None) -> str:
    """`R001.eml` or `R001_F2026-0042.eml`: ids made safe as file names."""
    import re

    stem = relation if document is None else f"{relation}_{document}"
    return (re.sub(r"[^A-Za-z0-9._-]", "_", stem).lstrip(".") or "message") + ".eml"


@cli.command("render")
@click.argument("policy_or_table", metavar="POLICY_OR_TABLE", type=click.Path(exists=True, dir_okay=False))
@selection_options
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for the .eml files."
)
def render_command(
    policy_or_table: str,
    selection: MessageSelection,
    out_dir: str,
) -> None:
    """Write one .eml per selected message into --out (exit 1 if any message failed)."""
    import os
    from pathlib import Path

    from mailpolicy.runtime.batch import SelectionError
    from mailpolicy.runtime.errors import MessageError, MessageSkipped
    from mailpolicy.runtime.message import compose_message

    selection.require_one()
    table = load_policy_or_table(policy_or_table)
    data = load_data_file(selection.data_path)
    selection.check_names(table, data)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot create {out}: {exc.strerror or exc}")
    plan = selection.plan(table, data)
    counts = {"written": 0, "skipped": 0, "failed": 0}
    names: set[str] = set()
    out_text = str(out)

    def who(relation_id: str | None, document_id: str | None) -> str:
        """`relation 'R001', document 'F1'`: how a failure line names its message."""
        parts = [
            f"relation '{relation_id}'" if relation_id else "",
            f"document '{document_id}'" if document_id else "",
        ]
        return ", ".join(p for p in parts if p) or "message"

    def render_one(item: Any) -> str:
        """Write one planned message; which of the counts it adds to."""
        if isinstance(item, MessageSkipped):
            click.echo(f"skipped: {who(item.relation, item.document)}: {item.message}", err=True)
            return "skipped"
        if isinstance(item, MessageError):
            click.echo(f"failed: {who(item.relation, item.document)}: {item.message}", err=True)
            return "failed"
        try:
            composed = compose_message(table, data, item)
        except MessageError as exc:
            click.echo(f"failed: {who(item.relation, item.document)}: {exc.message}", err=True)
            return "failed"
        for warning in item.warnings:  # each warning names its record already
            click.echo(f"warning: {warning}", err=True)
        name = _eml_name(item.relation, item.document)
        if name in names:  # two ids that map to the same safe name
            stem, n = name[:-4], 2
            while f"{stem}-{n}.eml" in names:
                n += 1
            name = f"{stem}-{n}.eml"
        names.add(name)
        target = os.path.join(out_text, name)
        try:
            # One plain open per file (no pathlib objects): a bulk run creates thousands of them.
            with open(target, "wb") as handle:
                handle.write(composed.data)
        except OSError as exc:
            fail(f"cannot write {target}: {exc.strerror or exc}")
        return "written"

    try:
        for done, item in enumerate(plan, 1):
            counts[render_one(item)] += 1
            if done % RENDER_PROGRESS_EVERY == 0:
                click.echo(f"... {done} messages", err=True)
    except SelectionError as exc:
        raise click.UsageError(str(exc)) from None
    written, skipped, failed = counts["written"], counts["skipped"], counts["failed"]
    summary = f"{written} written to {out}"
    if skipped:
        summary += f", {skipped} skipped"
    if failed:
        summary += f", {failed} failed"
    click.echo(summary)
    if failed:
        sys.exit(1)


# --- send ------------------------------------------------------------------------------------


def _addresses(values: list[str]) -> str:
    return ", ".join(values) if values else "-"


@cli.command("send")
@click.argument("policy_or_table", metavar="POLICY_OR_TABLE", type=click.Path(exists=True, dir_okay=False))
@selection_options
@click.option("--dry-run", is_flag=True, help="Print the send plan (one line per message) and send nothing.")
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(dir_okay=False),
    help="SQLite outbox: running again with it sends only what was not sent.",
)
@click.option(
    "--retry-unknown",
    is_flag=True,
    help="Send again the messages the journal marks unknown (their fate was lost in a crash).",
)
@click.option(
    "--report", "report_path", type=click.Path(dir_okay=False), help="Also write the report as JSON here."
)
@click.option(
    "--attempts",
    type=click.IntRange(1, 20),
    default=4,
    show_default=True,
    help="Attempts per message for transient trouble (4xx, dropped connections).",
)
@click.option(
    "--retry-delay",
    type=click.FloatRange(0, 3600),
    default=1.0,
    show_default=True,
    help="Seconds before the first retry; doubled at each retry.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(1, 3600),
    default=60.0,
    show_default=True,
    help="Socket timeout, seconds.",
)
def send_command(
    policy_or_table: str,
    selection: MessageSelection,
    dry_run: bool,
    journal_path: str | None,
    retry_unknown: bool,
    report_path: str | None,
    attempts: int,
    retry_delay: float,
    timeout: float,
) -> None:
    """Send the selected messages through the sender's or the firm's SMTP server, and report.

    Login and password come from the environment variables the policy names. Exit 0 when every
    message was sent (or skipped on purpose), 1 otherwise. See docs/sending.md.
    """
    import json
    from collections.abc import Iterable
    from pathlib import Path

    from mailpolicy.runtime.batch import SelectionError
    from mailpolicy.runtime.errors import MessageError, MessageSkipped
    from mailpolicy.runtime.journal import DONE_STATES, Journal, JournalError, stable_id
    from mailpolicy.runtime.message import compose_message
    from mailpolicy.runtime.send import Outcome, RetryPolicy, Sender
    from mailpolicy.runtime.smtp_settings import SmtpSettingsError, describe_server, settings_for

    selection.require_one()
    table = load_policy_or_table(policy_or_table)
    data = load_data_file(selection.data_path)
    selection.check_names(table, data)
    plan: Iterable[Any] = selection.plan(table, data)
    show_bar = not dry_run and sys.stderr.isatty()
    try:
        # The bar needs the total; without one the plan streams, never all in memory.
        plan = list(plan) if show_bar else plan
        if dry_run:
            server = describe_server(table, selection.sender)
            journal = Journal(journal_path, read_only=True) if journal_path else None
            counts = {"to send": 0, "already sent": 0, "unknown": 0, "cannot be built": 0, "skipped": 0}
            for item in plan:
                if isinstance(item, MessageError):
                    label = " ".join(p for p in (item.kind, item.relation, item.document) if p)
                    if isinstance(item, MessageSkipped):
                        counts["skipped"] += 1
                        click.echo(f"{label}: skipped: {item.message}")
                    else:
                        counts["cannot be built"] += 1
                        click.echo(f"{label}: error: {item.message}")
                    continue
                entry = journal.get(stable_id(item)) if journal is not None else None
                state = "to send"
                if entry is not None and entry.state in DONE_STATES:
                    state = "already sent"
                elif entry is not None and entry.state in ("unknown", "sending") and not retry_unknown:
                    state = "unknown"
                counts[state] += 1
                label = " ".join(p for p in (item.kind, item.relation, item.document) if p)
                click.echo(
                    f"{label}: MAIL FROM:<{item.from_address}> To: {_addresses(item.to)} "
                    f"CC: {_addresses(item.cc)} BCC: {_addresses(item.bcc)} via {server}"
                    + ("" if state == "to send" else f" ({state})")
                )
            if journal is not None:
                journal.close()
            click.echo("dry run, nothing sent: " + ", ".join(f"{n} {what}" for what, n in counts.items()))
            sys.exit(1 if counts["cannot be built"] else 0)
    except SelectionError as exc:
        raise click.UsageError(str(exc)) from None
    except JournalError as exc:
        fail(str(exc))
    if report_path and not Path(report_path).resolve().parent.is_dir():
        # Found out before sending, not after a batch has gone out.
        raise click.BadParameter(f"no such folder for {report_path}", param_hint="--report")
    try:
        # Read the variables once, before anything is sent: a missing one stops the run cleanly.
        settings = settings_for(table, selection.sender)
    except SmtpSettingsError as exc:
        fail(str(exc))
    try:
        outbox = Journal(journal_path) if journal_path else None
    except JournalError as exc:
        fail(str(exc))
    if outbox is not None and outbox.interrupted:
        fate = "sent again now" if retry_unknown else "not resent (see --retry-unknown)"
        click.echo(
            f"warning: {len(outbox.interrupted)} message(s) of a previous run were interrupted while "
            f"sending; their fate is unknown, {fate}",
            err=True,
        )

    def compose(envelope: Any) -> Any:
        """Compose one message to send, after printing its data warnings."""
        for warning in envelope.warnings:
            click.echo(f"warning: {envelope.kind} {envelope.relation}: {warning}", err=True)
        return compose_message(table, data, envelope)

    policy = RetryPolicy(attempts=attempts, base_delay=retry_delay)
    try:
        with Sender(settings, retry=policy, timeout=timeout) as smtp:
            if show_bar:
                assert isinstance(plan, list)
                with click.progressbar(length=len(plan), label="sending", file=sys.stderr) as bar:

                    def advance(_outcome: Outcome) -> None:
                        bar.update(1)

                    report = smtp.send_batch(
                        plan, journal=outbox, compose=compose, progress=advance, retry_unknown=retry_unknown
                    )
            else:
                report = smtp.send_batch(plan, journal=outbox, compose=compose, retry_unknown=retry_unknown)
    except SelectionError as exc:
        raise click.UsageError(str(exc)) from None
    except JournalError as exc:
        # Every message already marked in the journal is safe; the one being marked may be unknown.
        fail(f"{exc}; stopped: nothing more was sent")
    except KeyboardInterrupt:
        # The message in flight, if any, stays `sending` in the journal: unknown at the next run.
        again = "run the same command with the same journal" if outbox is not None else "use --journal"
        fail(f"interrupted; to send the rest without duplicates, {again}", 130)
    finally:
        if outbox is not None:
            outbox.close()
    click.echo(report.as_text())
    if report_path:
        try:
            Path(report_path).write_text(
                json.dumps(report.as_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
            )
        except OSError as exc:
            fail(f"cannot write {report_path}: {exc.strerror or exc}")
    sys.exit(0 if report.ok else 1)


# --- preview ---------------------------------------------------------------------------------

PREVIEW_PORT = 8765
_PREVIEW_STACK = {"starlette", "uvicorn", "watchfiles", "anyio"}


@cli.command("preview")
@click.argument("policy", type=click.Path(exists=True, dir_okay=False))
@selection_options
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=PREVIEW_PORT,
    show_default=True,
    help="Port on 127.0.0.1; 0 takes a free one.",
)
@click.option(
    "--open/--no-open",
    "open_browser",
    default=True,
    show_default=True,
    help="Open the page in the browser (never in CI or without a display).",
)
def preview_command(
    policy: str,
    selection: MessageSelection,
    port: int,
    open_browser: bool,
) -> None:
    """A local web page with every message of POLICY and why each address is where it is.

    Without --kind, every kind of the policy; without a selection option, every relation (--all).
    Reloads by itself when the policy, a template or the data file is saved.
    """
    from pathlib import Path

    chosen = selection.chosen()
    if len(chosen) > 1:
        raise click.UsageError(
            f"choose at most one of --relation, --document, --audience or --all (got {', '.join(chosen)})"
        )
    try:
        from mailpolicy.preview.model import Selection
        from mailpolicy.preview.server import PortInUse, serve
    except ImportError as exc:
        if (exc.name or "").split(".")[0] in _PREVIEW_STACK:
            fail(
                f"the preview needs its web stack ({exc.name} is missing): pip install 'mailpolicy[preview]'"
            )
        raise
    shown = Selection(
        kind=selection.kind,
        relations=(selection.relation,) if selection.relation else (),
        documents=selection.documents,
        audience=selection.audience,
        sender=selection.sender,
        recipients=selection.recipients,
    )
    try:
        data_path = Path(selection.data_path)
        serve(Path(policy), data_path, shown, port=port, open_browser=open_browser, echo=click.echo)
    except PortInUse as exc:
        fail(str(exc), 2)


# --- resolve ---------------------------------------------------------------------------------


@cli.command("resolve")
@click.argument("policy_or_table", metavar="POLICY_OR_TABLE", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The data file (YAML or JSON).",
)
@click.option(
    "--kind", required=True, metavar="KIND", help="The message kind (invoice, reminder, general...)."
)
@click.option("--relation", metavar="ID", help="The relation's id (may be left out with --document).")
@click.option("--sender", metavar="USER_ID", help="The sending user's id (feeds the `sender` source).")
@click.option("--document", metavar="DOC_ID", help="The document's id.")
@click.option(
    "--recipient", "recipients", multiple=True, metavar="ADDR", help="An address for the `recipient` source."
)
@click.option("--explain", is_flag=True, help="Add the trace: which rule decided each field and why.")
def resolve_command(
    policy_or_table: str,
    data_path: str,
    kind: str,
    relation: str | None,
    sender: str | None,
    document: str | None,
    recipients: tuple[str, ...],
    explain: bool,
) -> None:
    """Print one message's From, Reply-To, To, CC, BCC and subject as JSON.

    With --explain, the JSON also says which rule decided each field and why each source was used
    or skipped; in a terminal the same is printed readably on stderr.
    """
    import json

    from mailpolicy.runtime.errors import MessageError, MessageSkipped
    from mailpolicy.runtime.resolve import format_trace, resolve_message

    if relation is None and document is None:
        raise click.UsageError("give --relation ID or --document ID")
    table = load_policy_or_table(policy_or_table)
    data = load_data_file(data_path)
    try:
        envelope = resolve_message(
            table,
            data,
            kind=kind,
            relation=relation,
            sender=sender,
            document=document,
            recipients=recipients,
        )
    except MessageSkipped as exc:
        # A mailing to a relation without consent is reported, not a failure (SPEC 2.4).
        click.echo(json.dumps({"kind": kind, "relation": exc.relation, "skipped": exc.message}, indent=2))
        return
    except MessageError as exc:
        fail(str(exc))
    for warning in envelope.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(json.dumps(envelope.as_dict(explain=explain), ensure_ascii=False, indent=2))
    if explain and sys.stdout.isatty():
        click.echo(format_trace(envelope), err=True)


# --- fmt -------------------------------------------------------------------------------------


@cli.command("fmt")
@click.argument("policies", metavar="POLICY...", nargs=-1, required=True)
@click.option("--check", is_flag=True, help="Write nothing; list files that would change, exit 1 if any.")
@click.option("--diff", "show_diff", is_flag=True, help="Write nothing; print a unified diff of the changes.")
def fmt_command(policies: tuple[str, ...], check: bool, show_diff: bool) -> None:
    """Rewrite policies in the one canonical layout (comments kept, meaning unchanged).

    `-` formats standard input to standard output (for editors).
    """
    from pathlib import Path

    from mailpolicy.diagnostics import DiagnosticError, render_text
    from mailpolicy.dsl.fmt import format_policy, unified_diff
    from mailpolicy.dsl.parser import decode_policy, read_policy

    for name in policies:
        if name != "-":
            require_file(name)
    changed: list[str] = []
    broken = False
    for name in policies:
        path = Path(name)
        text: str | None = None
        try:
            if name == "-":
                text = decode_policy(click.get_binary_stream("stdin").read(), "<stdin>")
            else:
                text = read_policy(path)
            formatted = format_policy(text, "<stdin>" if name == "-" else name)
        except DiagnosticError as exc:
            # A file that does not parse is never rewritten; say why and go on with the others.
            for diag in exc.diagnostics:
                click.echo(render_text(diag, text), err=True)
            broken = True
            continue
        except OSError as exc:
            click.echo(f"error: {name}: cannot read: {exc.strerror or exc}", err=True)
            broken = True
            continue
        if name == "-" and not check and not show_diff:
            click.echo(formatted, nl=False)
            continue
        if formatted == text:
            continue
        changed.append(name)
        if show_diff:
            click.echo(unified_diff(text, formatted, name), nl=False)
        if check:
            click.echo(f"would reformat {name}")
        elif not show_diff:
            path.write_bytes(formatted.encode("utf-8"))
            click.echo(f"reformatted {name}")
    if broken:
        sys.exit(1)
    if check and changed:
        sys.exit(1)


# --- test ------------------------------------------------------------------------------------


@cli.command("test")
@click.argument("policy", metavar="POLICY", type=click.Path(dir_okay=False))
@click.argument("cases", metavar="CASES.yaml...", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-v", "--verbose", is_flag=True, help="A line for every case, passed or failed.")
@click.option("-k", "select", metavar="PATTERN", help="Run only the cases whose name contains PATTERN.")
def test_command(policy: str, cases: tuple[str, ...], verbose: bool, select: str | None) -> None:
    """Policy unit tests: resolve each case's message and compare the expected headers."""

    from mailpolicy.policytest import CasesError, run_tests

    for name in cases:
        require_file(name, "cases file")
    table = load_policy_or_table(policy)
    try:
        report = run_tests(table, cases, select=select)
    except CasesError as exc:
        fail(str(exc))
    click.echo(report.render(policy=policy, verbose=verbose), nl=False)
    if not report.results:
        fail(f"no case matches -k {select!r}" if select else "no cases to run")
    if report.failed:
        sys.exit(1)


# --- diff ------------------------------------------------------------------------------------


@cli.command("diff")
@click.argument("old", metavar="OLD", type=click.Path(dir_okay=False))
@click.argument("new", metavar="NEW", type=click.Path(dir_okay=False))
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The data file (YAML or JSON) whose relations and documents are compared.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option(
    "--sender",
    metavar="USER_ID",
    help="Resolve as this user (feeds the `sender` source); default: automated mail.",
)
@click.option("--exit-code", is_flag=True, help="Exit 1 when some header differs (for CI gates).")
def diff_command(old: str, new: str, data_path: str, fmt: str, sender: str | None, exit_code: bool) -> None:
    """Which clients' headers would change between two policies (or rule tables)."""
    from mailpolicy.policydiff import diff_tables

    old_table = load_policy_or_table(old)
    new_table = load_policy_or_table(new)
    data = load_data_file(data_path)
    if sender is not None and sender not in data.users:
        fail(f"unknown user '{sender}' in {data_path}")  # an unknown id is a data error (1), as in resolve
    report = diff_tables(old_table, new_table, data, sender=sender)
    click.echo(report.as_json() if fmt == "json" else report.as_table(), nl=False)
    # A relation or document the data file gets wrong is left out of the comparison; saying
    # nothing would pass "no header changes" off as covering those clients too.
    for error in data.errors:
        click.echo(f"error: {error}; not compared", err=True)
    if data.errors or (exit_code and report.changes):
        sys.exit(1)


def main() -> None:
    """Console-script entry point."""
    cli()


if __name__ == "__main__":
    main()

"""The `mailpolicy` command line: a thin click layer over the public API.

Commands import their stage lazily so that `check` does not pay for MJML, jsonschema or Babel.
Exit codes everywhere: 0 success, 1 errors in the policy, data or messages, 2 usage errors.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from mailpolicy.runtime.table import RuleTable


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mailpolicy")
def cli() -> None:
    """Decide who sends, receives and is copied on every email a firm sends, and produce them."""


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a clear error (never a traceback) and exit with CODE."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def load_policy_or_table(path: str) -> RuleTable:
    """A `.mail` policy compiled (errors printed, exit 1) or a `.json` rule table loaded (exit 1 if bad)."""
    from pathlib import Path

    from mailpolicy.runtime.errors import TableError
    from mailpolicy.runtime.table import load_table

    source = Path(path)
    if not source.is_file():
        fail(f"no such file: {path}", 2)
    if source.suffix != ".mail":
        try:
            return load_table(source)
        except TableError as exc:
            fail(str(exc))
    from mailpolicy.compiler import compile_file
    from mailpolicy.diagnostics import render_text

    result = compile_file(source)
    errors = [d for d in result.diagnostics if d.severity == "error"]
    for diag in errors:
        text = None
        if diag.span is not None:
            try:
                text = Path(diag.span.path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                text = None
        click.echo(render_text(diag, text), err=True)
    if errors or result.table is None:
        fail(f"{path}: the policy has errors; nothing was resolved")
    try:
        table = load_table(result.table)
    except TableError as exc:
        fail(str(exc))
    table.base_dir = source.resolve().parent
    return table


# --- commands are added below, one section per command ---------------------------------------


# --- selection options (render, send, preview) -----------------------------------------------


def selection_options(command: Any) -> Any:
    """The options that select messages, shared by render, send and preview (SPEC section 5).

    Adds `data_path`, `kind`, `relation`, `documents`, `audience`, `all_relations`, `sender` and
    `recipients` parameters; call `check_selection` in the command for the one-of rule.
    """
    options = [
        click.option(
            "--data",
            "data_path",
            required=True,
            type=click.Path(exists=True, dir_okay=False),
            help="The data file (YAML or JSON).",
        ),
        click.option("--kind", help="The message kind (defaults to each document's kind with --document)."),
        click.option("--relation", help="One message to this relation."),
        click.option(
            "--document",
            "documents",
            multiple=True,
            help="One message per document, to its relation (repeatable).",
        ),
        click.option("--audience", help="The relations of this audience of the policy."),
        click.option("--all", "all_relations", is_flag=True, help="Every relation of the data file."),
        click.option("--sender", help="The sending user's id (feeds the `sender` source)."),
        click.option(
            "--recipient", "recipients", multiple=True, help="An address for the `recipient` source."
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def check_selection(
    kind: str | None,
    relation: str | None,
    documents: tuple[str, ...],
    audience: str | None,
    all_relations: bool,
) -> None:
    """Usage error (exit 2) unless exactly one selection option is given, and --kind where needed."""
    chosen = [
        name
        for name, value in (
            ("--relation", relation),
            ("--document", documents),
            ("--audience", audience),
            ("--all", all_relations),
        )
        if value
    ]
    if len(chosen) != 1:
        given = f" (got {', '.join(chosen)})" if chosen else ""
        raise click.UsageError(f"choose exactly one of --relation, --document, --audience or --all{given}")
    if kind is None and not documents:
        raise click.UsageError("--kind is required unless messages are selected with --document")


# --- render ----------------------------------------------------------------------------------

RENDER_PROGRESS_EVERY = 1000


def _eml_name(relation: str, document: str | None) -> str:
    """`R001.eml` or `R001_F2026-0042.eml`: ids made safe as file names."""
    import re

    stem = relation if document is None else f"{relation}_{document}"
    return re.sub(r"[^A-Za-z0-9._-]", "_", stem).lstrip(".") + ".eml"


@cli.command("render")
@click.argument("policy_or_table", metavar="POLICY_OR_TABLE", type=click.Path(exists=True, dir_okay=False))
@selection_options
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for the .eml files."
)
def render_command(
    policy_or_table: str,
    data_path: str,
    kind: str | None,
    relation: str | None,
    documents: tuple[str, ...],
    audience: str | None,
    all_relations: bool,
    sender: str | None,
    recipients: tuple[str, ...],
    out_dir: str,
) -> None:
    """Write one .eml per selected message into --out (exit 1 if any message failed)."""
    from pathlib import Path

    from mailpolicy.runtime.batch import SelectionError, plan_messages
    from mailpolicy.runtime.data import load_data
    from mailpolicy.runtime.errors import DataError, MessageError, MessageSkipped
    from mailpolicy.runtime.message import compose_message

    check_selection(kind, relation, documents, audience, all_relations)
    table = load_policy_or_table(policy_or_table)
    try:
        data = load_data(data_path)
    except DataError as exc:
        fail(str(exc))
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot create {out}: {exc.strerror or exc}")
    plan = plan_messages(
        table,
        data,
        kind=kind,
        relation=relation,
        documents=documents,
        audience=audience,
        all_relations=all_relations,
        sender=sender,
        recipients=recipients,
    )
    written = skipped = failed = 0
    names: set[str] = set()

    def who(relation_id: str | None, document_id: str | None) -> str:
        parts = [
            f"relation '{relation_id}'" if relation_id else "",
            f"document '{document_id}'" if document_id else "",
        ]
        return ", ".join(p for p in parts if p) or "message"

    try:
        for item in plan:
            if isinstance(item, MessageError):
                if isinstance(item, MessageSkipped):
                    skipped += 1
                    click.echo(f"skipped: {who(item.relation, item.document)}: {item.message}", err=True)
                else:
                    failed += 1
                    click.echo(f"failed: {who(item.relation, item.document)}: {item.message}", err=True)
                continue
            try:
                composed = compose_message(table, data, item)
            except MessageError as exc:
                failed += 1
                click.echo(f"failed: {who(item.relation, item.document)}: {exc.message}", err=True)
                continue
            for warning in item.warnings:
                click.echo(f"warning: {who(item.relation, item.document)}: {warning}", err=True)
            name = _eml_name(item.relation, item.document)
            if name in names:  # two ids that map to the same safe name
                stem, n = name[:-4], 2
                while f"{stem}-{n}.eml" in names:
                    n += 1
                name = f"{stem}-{n}.eml"
            names.add(name)
            try:
                (out / name).write_bytes(composed.data)
            except OSError as exc:
                fail(f"cannot write {out / name}: {exc.strerror or exc}")
            written += 1
            done = written + skipped + failed
            if done % RENDER_PROGRESS_EVERY == 0:
                click.echo(f"... {done} messages", err=True)
    except SelectionError as exc:
        raise click.UsageError(str(exc)) from None
    summary = f"{written} written to {out}"
    if skipped:
        summary += f", {skipped} skipped"
    if failed:
        summary += f", {failed} failed"
    click.echo(summary)
    if failed:
        sys.exit(1)


# --- preview ---------------------------------------------------------------------------------

PREVIEW_PORT = 8765
_PREVIEW_STACK = {"starlette", "uvicorn", "watchfiles", "anyio"}


@cli.command("preview")
@click.argument("policy", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The data file (YAML or JSON).",
)
@click.option("--kind", help="Show only this kind (default: every kind of the policy).")
@click.option("--relation", help="Show only this relation.")
@click.option(
    "--document", "documents", multiple=True, help="Show the message of this document (repeatable)."
)
@click.option("--audience", help="Show only the relations of this audience.")
@click.option("--all", "all_relations", is_flag=True, help="Every relation (the default).")
@click.option("--sender", help="The sending user's id (feeds the `sender` source).")
@click.option("--recipient", "recipients", multiple=True, help="An address for the `recipient` source.")
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
    data_path: str,
    kind: str | None,
    relation: str | None,
    documents: tuple[str, ...],
    audience: str | None,
    all_relations: bool,
    sender: str | None,
    recipients: tuple[str, ...],
    port: int,
    open_browser: bool,
) -> None:
    """A local web page with every message of POLICY and why each address is where it is.

    Reloads by itself when the policy, a template or the data file is saved.
    """
    from pathlib import Path

    chosen = [
        n
        for n, v in (
            ("--relation", relation),
            ("--document", documents),
            ("--audience", audience),
            ("--all", all_relations),
        )
        if v
    ]
    if len(chosen) > 1:
        raise click.UsageError(f"choose one of {', '.join(chosen)}")
    try:
        from mailpolicy.preview.model import Selection
        from mailpolicy.preview.server import PortInUse, serve
    except ImportError as exc:
        if (exc.name or "").split(".")[0] in _PREVIEW_STACK:
            fail(
                f"the preview needs its web stack ({exc.name} is missing): pip install 'mailpolicy[preview]'"
            )
        raise
    selection = Selection(
        kind=kind,
        relations=(relation,) if relation else (),
        documents=documents,
        audience=audience,
        sender=sender,
        recipients=recipients,
    )
    try:
        serve(Path(policy), Path(data_path), selection, port=port, open_browser=open_browser, echo=click.echo)
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
@click.option("--kind", required=True, help="The message kind (invoice, reminder, general, ...).")
@click.option("--relation", help="The relation's id (may be left out with --document).")
@click.option("--sender", help="The sending user's id (feeds the `sender` source).")
@click.option("--document", help="The document's id.")
@click.option("--recipient", "recipients", multiple=True, help="An address for the `recipient` source.")
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
    """Print who sends and receives one message, as JSON (SPEC section 5)."""
    import json

    from mailpolicy.runtime.data import load_data
    from mailpolicy.runtime.errors import DataError, MessageError, MessageSkipped
    from mailpolicy.runtime.resolve import format_trace, resolve_message

    if relation is None and document is None:
        raise click.UsageError("give --relation ID or --document ID")
    table = load_policy_or_table(policy_or_table)
    try:
        data = load_data(data_path)
    except DataError as exc:
        fail(str(exc))
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


def main() -> None:
    """Console-script entry point."""
    cli()


if __name__ == "__main__":
    main()

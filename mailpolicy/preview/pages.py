"""The preview's HTML pages, rendered on the server; every value from a file is escaped here.

Plain functions returning strings keep the pages dependency-free (no template engine to install)
and make the one rule easy to check: anything that is not a literal of this module goes through
`esc()` (or `attr()` inside attributes) before it reaches the page.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from mailpolicy.diagnostics import Diagnostic
from mailpolicy.preview.model import Entry, MessageKey, RenderedMessage, Snapshot

PAGE_SIZE = 24
WIDTHS = (600, 375)
ENVELOPE_FIELDS = (("from", "From"), ("reply_to", "Reply-To"), ("to", "To"), ("cc", "CC"), ("bcc", "BCC"))


def esc(value: object) -> str:
    """Text content: every value that comes from the policy, the data or an error."""
    return html.escape(str(value), quote=False)


def attr(value: object) -> str:
    """An attribute value (quotes escaped too)."""
    return html.escape(str(value), quote=True)


def layout(snap: Snapshot, title: str, body: str) -> str:
    """The page frame: header, live-reload script (served by us, so the CSP can forbid inline code)."""
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} · mailpolicy preview</title>"
        '<link rel="stylesheet" href="/static/preview.css">'
        '<script src="/static/preview.js" defer></script>'
        f'</head><body data-version="{attr(snap.version)}">'
        '<header class="top"><a class="brand" href="/">mailpolicy preview</a>'
        f'<span class="files">{esc(snap.policy_path.name)} · {esc(snap.data_path.name)}</span>'
        '<span id="live" class="live" title="reloads when the policy, a template or the data changes">'
        "live</span></header>"
        f"<main>{body}</main></body></html>\n"
    )


def source_link(snap: Snapshot, loc: dict[str, Any] | None, file: str | None = None) -> str:
    """`firm-settings.mail:12` linked to the source view with that line highlighted."""
    if not loc or not loc.get("line"):
        return '<span class="builtin">built-in default</span>'
    name = snap.source_name(file or loc.get("file"))
    line = int(loc["line"])
    href = f"/source?{urlencode({'file': name, 'line': line})}#L{line}"
    col = f":{int(loc['column'])}" if loc.get("column") else ""
    return f'<a class="rule" href="{attr(href)}">{esc(name)}:{line}{col}</a>'


# --- gallery -----------------------------------------------------------------------------------


def gallery_page(snap: Snapshot, *, query: str = "", kind: str = "", status: str = "", page: int = 1) -> str:
    """Every message of the selection as a card, filtered by the search box, paged."""
    if not snap.ok:
        return problems_page(snap)
    entries = filter_entries(snap.entries, query=query, kind=kind, status=status)
    pages = max(1, math.ceil(len(entries) / PAGE_SIZE))
    page = min(max(1, page), pages)
    shown = entries[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    failed = sum(1 for e in snap.entries if e.failed)
    kinds = list(dict.fromkeys(e.key.kind for e in snap.entries))  # in gallery order
    options = "".join(
        f'<option value="{attr(k)}"{" selected" if k == kind else ""}>{esc(k)}</option>' for k in kinds
    )
    status_opts = "".join(
        f'<option value="{v}"{" selected" if v == status else ""}>{label}</option>'
        for v, label in (("", "all"), ("ok", "built"), ("failed", "failed"), ("skipped", "skipped"))
    )
    form = (
        '<form class="search" method="get" action="/">'
        f'<input type="search" name="q" value="{attr(query)}" placeholder="relation, kind or subject" '
        'aria-label="search">'
        f'<select name="kind" aria-label="kind"><option value="">every kind</option>{options}</select>'
        f'<select name="status" aria-label="status">{status_opts}</select>'
        '<button type="submit">Filter</button></form>'
    )
    summary = (
        f'<p class="summary"><span id="count">{len(entries)}</span> of {len(snap.entries)} messages'
        f" · {failed} failed</p>"
    )
    cards = "".join(_card(snap, e) for e in shown) or '<p class="empty">No message matches.</p>'
    body = (
        f"<h1>Messages</h1>{_warnings(snap)}{_data_notes(snap)}{form}{summary}"
        f'<ol class="gallery">{cards}</ol>{_pager(query, kind, status, page, pages)}'
    )
    return layout(snap, "Messages", body)


def filter_entries(entries: Iterable[Entry], *, query: str, kind: str, status: str) -> list[Entry]:
    """The entries matching every word of QUERY (relation, kind, subject...), KIND and STATUS."""
    words = query.lower().split()
    out = []
    for entry in entries:
        if kind and entry.key.kind != kind:
            continue
        if status == "failed" and not entry.failed:
            continue
        if status == "skipped" and not entry.skipped:
            continue
        if status == "ok" and entry.error is not None:
            continue
        text = entry.search_text()
        if all(w in text for w in words):
            out.append(entry)
    return out


def _card(snap: Snapshot, entry: Entry) -> str:
    key = entry.key
    href = f"/message?{key.query()}"
    doc = f' · <span class="doc">{esc(key.document)}</span>' if key.document else ""
    head = (
        f'<a class="open" href="{attr(href)}"><span class="kind">{esc(key.kind)}</span> · '
        f'<span class="relation">{esc(key.relation)}</span>{doc}</a>'
        f'<div class="relname">{esc(entry.relation_name)}</div>'
    )
    env = entry.envelope
    if entry.error is not None:
        cls = "skipped" if entry.skipped else "failed"
        label = "skipped" if entry.skipped else "failed"
        loc = getattr(entry.error, "loc", None)
        where = f" ({source_link(snap, loc)})" if isinstance(loc, dict) else ""
        body = f'<p class="error"><b>{label}:</b> {esc(entry.error)}{where}</p>'
        return f'<li class="card {cls}">{head}{body}</li>'
    body = (
        f'<dl><dt>Subject</dt><dd class="subject">{esc(env.subject) or "<i>(empty)</i>"}</dd>'
        f'<dt>From</dt><dd class="from">{esc(_from_text(env))}</dd>'
        f'<dt>To</dt><dd class="to">{esc(", ".join(env.to))}</dd></dl>'
    )
    return f'<li class="card">{head}{body}</li>'


def _from_text(env: Any) -> str:
    return f"{env.from_name} <{env.from_address}>" if env.from_name else env.from_address


def _pager(query: str, kind: str, status: str, page: int, pages: int) -> str:
    if pages <= 1:
        return ""

    def link(n: int, label: str) -> str:
        params = {k: v for k, v in (("q", query), ("kind", kind), ("status", status)) if v}
        params["page"] = str(n)
        return f'<a href="/?{attr(urlencode(params))}">{label}</a>'

    prev = link(page - 1, "← previous") if page > 1 else ""
    nxt = link(page + 1, "next →") if page < pages else ""
    return f'<nav class="pager">{prev}<span>page {page} of {pages}</span>{nxt}</nav>'


def _warnings(snap: Snapshot) -> str:
    if not snap.diagnostics:
        return ""
    items = "".join(_diagnostic(snap, d) for d in snap.diagnostics)
    return (
        f'<details class="warnings"><summary>{len(snap.diagnostics)} warning(s) in the policy</summary>'
        f"{items}</details>"
    )


def _data_notes(snap: Snapshot) -> str:
    """Records of the data file that failed alone, and address strings skipped with a warning."""
    data = snap.data
    errors = [str(e) for e in getattr(data, "errors", [])]
    warnings = list(getattr(data, "warnings", []))
    if not errors and not warnings:
        return ""
    items = "".join(f'<li class="error">{esc(e)}</li>' for e in errors)
    items += "".join(f"<li>{esc(w)}</li>" for w in warnings)
    return (
        f'<details class="data-notes"><summary>{len(errors)} data error(s), {len(warnings)} data warning(s)'
        f"</summary><ul>{items}</ul></details>"
    )


# --- diagnostics -------------------------------------------------------------------------------


def problems_page(snap: Snapshot) -> str:
    """Why nothing can be shown: the compile diagnostics or the data error, with source excerpts."""
    items = "".join(_diagnostic(snap, d) for d in snap.problems + snap.diagnostics)
    count = len(snap.problems)
    body = (
        f'<h1 class="problems-title">{count} error{"s stop" if count != 1 else " stops"} '
        "the preview</h1>"
        "<p>Fix the file and save it: this page reloads by itself.</p>"
        f'<div id="diagnostics">{items}</div>'
    )
    return layout(snap, "Errors", body)


def _diagnostic(snap: Snapshot, diag: Diagnostic) -> str:
    span = diag.span
    where = ""
    excerpt = ""
    if span is not None:
        loc = {"line": span.line, "column": span.column}
        where = source_link(snap, loc, span.path) + ": "
        excerpt = _excerpt(snap, diag)
    helps = "".join(f'<p class="help">help: {esc(h)}</p>' for h in diag.help)
    return (
        f'<section class="diagnostic sev-{attr(diag.severity)}">'
        f'<p class="message">{where}<b>{esc(diag.severity)}[{esc(diag.code)}]</b>: {esc(diag.message)}</p>'
        f"{excerpt}{helps}</section>"
    )


def _excerpt(snap: Snapshot, diag: Diagnostic) -> str:
    """Two lines of context either side of the span, the span's line marked and underlined."""
    span = diag.span
    assert span is not None
    path = snap.sources().get(snap.source_name(span.path))
    try:
        lines = path.read_text(encoding="utf-8").splitlines() if path else []
    except (OSError, UnicodeDecodeError):
        return ""
    if not 1 <= span.line <= len(lines):
        return ""
    rows = []
    for n in range(max(1, span.line - 2), min(len(lines), span.line + 2) + 1):
        text = lines[n - 1]
        if n == span.line:
            start = span.column - 1
            end = span.end_column - 1 if span.end_line in (None, span.line) and span.end_column else len(text)
            end = max(end, start + 1)
            marked = f"{esc(text[:start])}<mark>{esc(text[start:end]) or ' '}</mark>{esc(text[end:])}"
            rows.append(f'<span class="hl"><span class="ln">{n}</span>{marked}</span>')
        else:
            rows.append(f'<span><span class="ln">{n}</span>{esc(text)}</span>')
    return f'<pre class="excerpt">{"".join(rows)}</pre>'


# --- message -----------------------------------------------------------------------------------


def message_page(
    snap: Snapshot, entry: Entry, rendered: RenderedMessage | None, error: Exception | None, width: int
) -> str:
    """One message: its envelope with the rule behind every address, the HTML and text parts."""
    key = entry.key
    title = f"{key.kind} · {key.relation}" + (f" · {key.document}" if key.document else "")
    back = '<p><a href="/">← all messages</a></p>'
    head = f'<h1>{esc(title)}</h1><p class="relname">{esc(entry.relation_name)}</p>'
    if entry.error is not None or entry.envelope is None:
        label = "Skipped" if entry.skipped else "This message cannot be built"
        loc = getattr(entry.error, "loc", None)
        where = f" ({source_link(snap, loc)})" if loc else ""
        body = f'{back}{head}<p class="error"><b>{label}:</b> {esc(entry.error)}{where}</p>'
        return layout(snap, title, body)
    env = entry.envelope
    parts = [back, head, _envelope_table(snap, env)]
    if env.warnings:
        items = "".join(f"<li>{esc(w)}</li>" for w in env.warnings)
        parts.append(f'<h2>Warnings</h2><ul class="warnings">{items}</ul>')
    if error is not None:
        loc = getattr(error, "loc", None)
        where = f" ({source_link(snap, loc)})" if loc else ""
        parts.append(f'<p class="error"><b>The body cannot be rendered:</b> {esc(error)}{where}</p>')
    elif rendered is not None:
        parts.append(_body(key, rendered, width))
    return layout(snap, title, "".join(parts))


def _envelope_table(snap: Snapshot, env: Any) -> str:
    """Subject, From, Reply-To, To, CC, BCC: each address with the source and rule that chose it."""
    trace = env.trace or {}
    rows = [
        _text_row(snap, "subject", "Subject", env.subject, trace.get("subject")),
        _text_row(snap, "from_name", "From name", env.from_name, trace.get("from_name")),
    ]
    for name, label in ENVELOPE_FIELDS:
        step = trace.get(name)
        values = [env.from_address] if name == "from" else list(getattr(env, name))
        items = "".join(_address(snap, step, v) for v in values) or '<li class="none">—</li>'
        rows.append(
            f'<tr id="field-{name}"><th>{label}</th><td class="value"><ul>{items}</ul></td>'
            f'<td class="decided">{_decided(snap, step)}</td></tr>'
        )
    sender = f" · sender <b>{esc(env.sender)}</b>" if env.sender else ""
    return (
        '<h2>Envelope</h2><table class="envelope"><thead><tr><th>Field</th><th>Value</th>'
        f"<th>Decided by</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f'<p class="meta">language <b>{esc(env.language)}</b>{sender}</p>'
    )


def _text_row(snap: Snapshot, name: str, label: str, value: str, step: Any) -> str:
    shown = esc(value) if value else '<i class="none">(empty)</i>'
    return (
        f'<tr id="field-{name}"><th>{label}</th><td class="value">{shown}</td>'
        f'<td class="decided">{_decided(snap, step)}</td></tr>'
    )


def _rule_loc(step: dict[str, Any]) -> dict[str, Any] | None:
    rule = step.get("rule")
    return rule if isinstance(rule, dict) else None


def origin(step: Any, address: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The trace step and source entry that yielded ADDRESS, following `general` into the parent kind.

    Addresses compare case-insensitively, as the resolver de-duplicates them.
    """
    if not isinstance(step, dict):
        return None
    wanted = address.lower()
    for entry in step.get("tried", []):
        if entry.get("result") != "used":
            continue
        if wanted not in (a.lower() for a in entry.get("addresses", [])):
            continue
        deeper = origin(entry.get("via"), address) if "via" in entry else None
        return deeper or (step, entry)
    return None


def _address(snap: Snapshot, step: Any, address: str) -> str:
    """One address and why it is there: the source that yielded it and the rule, linked."""
    found = origin(step, address)
    why = ""
    if found is not None:
        decided, entry = found
        user = f" (user {esc(entry['user'])})" if entry.get("user") else ""
        kind = f' <span class="ofkind">({esc(decided.get("kind"))})</span>' if decided.get("kind") else ""
        note = f' <span class="note">{esc(entry["reason"])}</span>' if entry.get("reason") else ""
        # The source term's own position when the trace has it (same line, exact column).
        loc = entry.get("loc") if isinstance(entry.get("loc"), dict) else _rule_loc(decided)
        why = (
            f'<span class="why">from <code class="source">{esc(entry["source"])}</code>{user} · '
            f"{source_link(snap, loc)}{kind}{note}</span>"
        )
    shown = f'<span class="addr">{esc(address)}</span>'
    return f'<li class="address" data-address="{attr(address)}">{shown}{why}</li>'


def _decided(snap: Snapshot, step: Any) -> str:
    """The rule that decided a field, then the rules passed over and the sources skipped, and why."""
    if not isinstance(step, dict):
        return '<span class="none">—</span>'
    kind = f' <span class="ofkind">({esc(step.get("kind"))})</span>' if step.get("kind") else ""
    skipped = [_passed(snap, p) for p in step.get("passed", [])]
    skipped += _skipped_sources(snap, step)
    items = "".join(f"<li>{item}</li>" for item in skipped)
    more = f'<ul class="skipped">{items}</ul>' if items else ""
    return f'<div class="rule-line">{source_link(snap, _rule_loc(step))}{kind}</div>{more}'


def _passed(snap: Snapshot, passed: dict[str, Any]) -> str:
    rule = passed.get("rule")
    where = source_link(snap, rule if isinstance(rule, dict) else None)
    return f"rule {where} ({esc(passed.get('kind', ''))}) passed over: {esc(passed.get('reason', ''))}"


def _skipped_sources(snap: Snapshot, step: dict[str, Any]) -> list[str]:
    out = []
    for entry in step.get("tried", []):
        if entry.get("result") == "skipped":
            address = f" {esc(entry['address'])}" if entry.get("address") else ""
            loc = entry.get("loc") if isinstance(entry.get("loc"), dict) else None
            where = f" ({source_link(snap, loc)})" if loc else ""
            out.append(
                f'<code class="source">{esc(entry.get("source", ""))}</code>{address}{where} skipped: '
                f"{esc(entry.get('reason', ''))}"
            )
        if isinstance(entry.get("via"), dict):
            out += [
                f"{esc(entry['via'].get('kind', ''))}: {item}"
                for item in _skipped_sources(snap, entry["via"])
            ]
    return out


def _body(key: MessageKey, rendered: RenderedMessage, width: int) -> str:
    q = key.query()
    parts = [f'<p class="download"><a id="download" href="/message.eml?{attr(q)}" download>Download .eml</a>']
    parts += [f" · {esc(name)} ({size} bytes)" for name, size in rendered.attachments]
    parts.append("</p>")
    if rendered.html is not None:
        switches = "".join(
            f'<a class="width{" active" if w == width else ""}" href="/message?{attr(q)}&amp;width={w}" '
            f'data-width="{w}">{w} px</a>'
            for w in WIDTHS
        )
        parts.append(
            f'<h2>HTML part</h2><nav class="widths">{switches}</nav>'
            f'<iframe id="html-part" title="HTML part" sandbox="" width="{width}" height="640" '
            f'src="/message.html?{attr(q)}"></iframe>'
        )
    if rendered.text is not None:
        parts.append(f'<h2>Text part</h2><pre class="text-part">{esc(rendered.text)}</pre>')
    return "".join(parts)


# --- source view and errors ----------------------------------------------------------------------


def source_page(snap: Snapshot, name: str, text: str, line: int | None) -> str:
    """A policy, template or data file with numbered, anchored lines; LINE highlighted."""
    rows = []
    for n, content in enumerate(text.splitlines(), start=1):
        cls = ' class="hl"' if n == line else ""
        rows.append(f'<span id="L{n}"{cls}><a class="ln" href="#L{n}">{n}</a>{esc(content)}</span>')
    body = (
        f'<p><a href="/">← all messages</a></p><h1>{esc(name)}</h1><pre class="source">{"".join(rows)}</pre>'
    )
    return layout(snap, name, body)


def not_found_page(snap: Snapshot, message: str) -> str:
    """A 404 that says what was not found and links back."""
    return layout(
        snap, "Not found", f'<h1>Not found</h1><p>{esc(message)}</p><p><a href="/">← all messages</a></p>'
    )

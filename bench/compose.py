"""Benchmark 1: compose one message (resolve + fill + MIME bytes) from a loaded rule table.

The messages are invoices of examples/firm-settings.mail (template templates/invoice.mjml,
13.6 KB of HTML once rendered) to generated relations: each timed batch goes through DISTINCT
invoices (their own number, date, amount, relation name and addresses, in French, Dutch and
English), so that no per-value cache sees the same message twice in a row, as in a bulk run.
Ours: `resolve_message(..., trace=False)` then `compose_message` (the fast path, as `render`
and `send` run it), the same with the trace built (as `preview` resolves), and the stdlib path
`build_email_message` + `as_bytes()` for reference. Comparator: the naive pipeline of `naive.py`
for the same invoices (MJML rendered per message, EmailMessage, bytes(msg)), given the resolved
addresses and the formatted values for free.
Targets: <= 100 µs per message and >= 15x faster than the naive pipeline.
"""

from __future__ import annotations

import itertools
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import naive  # noqa: E402
from _common import EXAMPLES, header, line, parser, ratio, repeat, stats, under  # noqa: E402
from render_all import generate  # noqa: E402

from mailpolicy.compiler import compile_file  # noqa: E402
from mailpolicy.runtime import load_data, load_table, resolve_message  # noqa: E402
from mailpolicy.runtime.message import build_email_message, compose_message  # noqa: E402


def invoices(n: int) -> dict[str, object]:
    """N relations (generated as for render_all.py), each with one invoice of its own."""
    data = generate(n)
    data["documents"] = [
        {
            "id": f"F{i:05d}",
            "kind": "invoice",
            "relation": f"R{i:05d}",
            "number": f"2026-{i:05d}",
            "date": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}",
            "due_date": f"2027-{1 + i % 12:02d}-{1 + i % 28:02d}",
            "amount": round(50 + i * 37.13 % 20000, 2),
            "currency": "EUR",
        }
        for i in range(n)
    ]
    return data


def main() -> None:
    """Run the benchmark and print its results."""
    args = parser(__doc__ or "").parse_args()
    distinct, batch, naive_batch, runs = (20, 20, 5, 3) if args.quick else (1000, 1000, 60, 9)

    result = compile_file(EXAMPLES / "firm-settings.mail")
    assert result.table is not None, result.diagnostics
    table = load_table(result.table)
    with tempfile.TemporaryDirectory(prefix="mailpolicy-bench-") as tmp:
        path = Path(tmp) / "invoices.json"
        path.write_text(json.dumps(invoices(distinct)), encoding="utf-8")
        data = load_data(path)
    ids = list(data.document_order)
    assert len(ids) == distinct and not data.errors

    def envelope(document: str) -> object:
        return resolve_message(table, data, kind="invoice", document=document, sender="jan")

    # The naive pipeline gets the resolved envelope and the values for free (not timed).
    prepared = []
    for document_id in ids:
        env = envelope(document_id)
        doc = data.document(document_id)
        rel = data.relation(doc.relation)
        values = naive.values_for(
            table.firm,
            {"name": rel.name, "id": rel.id},
            {"number": doc.number, "date": doc.date, "due_date": doc.due_date, "amount": doc.amount},
        )
        prepared.append((env, values))
    mjml_source = (EXAMPLES / "templates" / "invoice.mjml").read_text(encoding="utf-8")
    first = prepared[0][0]
    html_parts = table.templates[first.template]["html"]  # type: ignore[attr-defined]
    html_size = sum(len(p.encode()) for p in html_parts if isinstance(p, str))

    def ours(document: str) -> bytes:
        env = resolve_message(table, data, kind="invoice", document=document, sender="jan", trace=False)
        return compose_message(table, data, env).data

    def traced(document: str) -> bytes:
        env = resolve_message(table, data, kind="invoice", document=document, sender="jan")
        return compose_message(table, data, env).data

    def stdlib(document: str) -> bytes:
        env = resolve_message(table, data, kind="invoice", document=document, sender="jan")
        return build_email_message(table, data, env).as_bytes()

    def naive_one(item: tuple[object, dict[str, str]]) -> bytes:
        env, values = item
        return naive.naive_message(
            mjml_source,
            naive.TEXT_TEMPLATES["invoice"],
            values,
            from_name=env.from_name,  # type: ignore[attr-defined]
            from_address=env.from_address,  # type: ignore[attr-defined]
            to=env.to,  # type: ignore[attr-defined]
            cc=env.cc,  # type: ignore[attr-defined]
            reply_to=env.reply_to,  # type: ignore[attr-defined]
            subject=env.subject,  # type: ignore[attr-defined]
        )

    header("compose one message (resolve + fill + MIME bytes)")
    sizes = [len(ours(d)) for d in ids]
    line(
        "messages",
        f"{distinct} distinct invoices, HTML template {html_size / 1000:.1f} KB, "
        f"{min(sizes)}-{max(sizes)} bytes",
    )
    for d in ids:  # warm-up: prepared bodies, Babel's formats, as a long run would have them
        stdlib(d)
    naive_one(prepared[0])

    def per_message(fn: Callable[[object], object], items: list[object], n: int, cpu: bool) -> list[float]:
        cycle = itertools.cycle(items)

        def many() -> None:
            for _ in range(n):
                fn(next(cycle))

        return [s / n * 1e6 for s in repeat(many, runs, cpu=cpu)]

    # CPU time first (the steadier measure on a shared machine), then wall time.
    for cpu, unit in ((True, "µs/message CPU"), (False, "µs/message wall")):
        fast = stats(per_message(ours, list(ids), batch, cpu), unit)  # type: ignore[arg-type]
        with_trace = stats(per_message(traced, list(ids), batch, cpu), unit)  # type: ignore[arg-type]
        slow = stats(per_message(naive_one, list(prepared), naive_batch, cpu), unit)  # type: ignore[arg-type]
        std = stats(per_message(stdlib, list(ids), naive_batch, cpu), unit)  # type: ignore[arg-type]
        what = "CPU" if cpu else "wall"
        line(f"mailpolicy compose_message (fast path), {what}", fast)
        line(f"  the same, trace built, {what}", with_trace)
        line(f"mailpolicy build_email_message (stdlib), {what}", std)
        line(f"naive pipeline (MJML per message), {what}", slow)
        under(f"fast path per message, {what}", fast.median, 100, "µs")
        ratio(f"naive / fast path, {what}", slow, fast, target=15)
        ratio(f"stdlib path / fast path, {what}", std, fast)


if __name__ == "__main__":
    main()

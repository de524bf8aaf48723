"""Benchmark 1: compose one message (resolve + fill + MIME bytes) from a loaded rule table.

Ours: `resolve_message` then `compose_message` (the fast path) for the example invoice
F2026-0042 of examples/ (template templates/invoice.mjml, 13.5 KB of HTML once rendered), and the
stdlib path `build_email_message` + `as_bytes()` for reference. Comparator: the naive pipeline
of `naive.py` for the same message (MJML rendered per message, EmailMessage, bytes(msg)).
Targets: <= 100 µs per message and >= 15x faster than the naive pipeline.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import naive  # noqa: E402
from _common import EXAMPLES, header, line, parser, ratio, repeat, stats, under  # noqa: E402

from mailpolicy.compiler import compile_file  # noqa: E402
from mailpolicy.runtime import load_data, load_table, resolve_message  # noqa: E402
from mailpolicy.runtime.message import build_email_message, compose_message  # noqa: E402

DOCUMENT = "F2026-0042"


def main() -> None:
    """Run the benchmark and print its results."""
    args = parser(__doc__ or "").parse_args()
    batch, runs = (20, 3) if args.quick else (500, 9)
    naive_batch = 5 if args.quick else 60

    result = compile_file(EXAMPLES / "firm-settings.mail")
    assert result.table is not None, result.diagnostics
    table = load_table(result.table)
    data = load_data(EXAMPLES / "data.yaml")

    def ours() -> bytes:
        env = resolve_message(table, data, kind="invoice", document=DOCUMENT, sender="jan")
        return compose_message(table, data, env).data

    def stdlib() -> bytes:
        env = resolve_message(table, data, kind="invoice", document=DOCUMENT, sender="jan")
        return build_email_message(table, data, env).as_bytes()

    # The naive pipeline gets the resolved envelope and the values for free (not timed).
    env = resolve_message(table, data, kind="invoice", document=DOCUMENT, sender="jan")
    document = data.document(DOCUMENT)
    relation = data.relation(document.relation)
    values = naive.values_for(
        table.firm,
        {"name": relation.name, "id": relation.id},
        {
            "number": document.number,
            "date": document.date,
            "due_date": document.due_date,
            "amount": document.amount,
            "currency": document.currency,
        },
    )
    mjml_source = (EXAMPLES / "templates" / "invoice.mjml").read_text(encoding="utf-8")
    assert env.template is not None
    html_parts = table.templates[env.template]["html"]
    html_size = sum(len(p.encode()) for p in html_parts if isinstance(p, str))

    def naive_one() -> bytes:
        return naive.naive_message(
            mjml_source,
            naive.TEXT_TEMPLATES["invoice"],
            values,
            from_name=env.from_name,
            from_address=env.from_address,
            to=env.to,
            cc=env.cc,
            reply_to=env.reply_to,
            subject=env.subject,
        )

    header("compose one message (resolve + fill + MIME bytes)")
    line("message", f"invoice {DOCUMENT}, HTML template {html_size / 1000:.1f} KB, {len(ours())} bytes")
    ours(), stdlib(), naive_one()  # warm caches (prepared bodies, Babel) as a long run would have them

    def per_message(fn: Callable[[], object], n: int, cpu: bool) -> list[float]:
        def many() -> None:
            for _ in range(n):
                fn()

        return [s / n * 1e6 for s in repeat(many, runs, cpu=cpu)]

    # CPU time first (the steadier measure on a shared machine), then wall time.
    for cpu, unit in ((True, "µs/message CPU"), (False, "µs/message wall")):
        fast = stats(per_message(ours, batch, cpu), unit)
        slow = stats(per_message(naive_one, naive_batch, cpu), unit)
        std = stats(per_message(stdlib, naive_batch, cpu), unit)
        what = "CPU" if cpu else "wall"
        line(f"mailpolicy compose_message (fast path), {what}", fast)
        line(f"mailpolicy build_email_message (stdlib), {what}", std)
        line(f"naive pipeline (MJML per message), {what}", slow)
        under(f"fast path per message, {what}", fast.median, 100, "µs")
        ratio(f"naive / fast path, {what}", slow, fast, target=15)
        ratio(f"stdlib path / fast path, {what}", std, fast)


if __name__ == "__main__":
    main()

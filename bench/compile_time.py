"""Benchmark 4: compile time (parse + check + rule table) for generated policies of 200 and 20,000 lines.

The policies read like the example: the firm block, then one block per generated kind with a
comment line, its address rules (fallback chains, a free address under a `when` condition,
`none`), a subject with a language variant, and a blank line; no templates (MJML is
benchmarked elsewhere), so that the numbers measure the DSL and the checks.
Comparator, in the same run: Lark's LALR parse alone of the same text into a plain parse tree
(the grammar and post-lexer of `mailpolicy.dsl.parser`, positions kept), the floor for any
compiler built on it; also the same parse with the garbage collector paused.
Target: 20,000 lines in under 1 s.
"""

from __future__ import annotations

import gc
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import header, line, parser, ratio, repeat, stats, under  # noqa: E402
from lark import Lark  # noqa: E402

from mailpolicy.compiler import compile_file  # noqa: E402
from mailpolicy.dsl import parser as dsl_parser  # noqa: E402

HEAD = """\
# Generated policy for the compile benchmark.
firm {
  name             = "Cabinet Dupont & Associés"
  company          = "info@dupont-associes.be"
  functional       = "noreply@dupont-associes.be"
  communication    = "contact@dupont-associes.be"
  platform         = "inbox@mailer.example"
  verified_domains = ["dupont-associes.be"]
}
role tax_advisor
from     = sender else company
reply_to = responsible else company

"""

BLOCK = """\
# --- kind {i}: its own addresses and subject ---
kind k{i} extends {parent}
k{i}.reply_to = collaborator else substitute else company
k{i}.cc = responsible
k{i}.bcc = free "office{i}@dupont-associes.be" when document.amount >= {i}
k{i}.to = recipient else dunning else contact
k{i}.subject = "Facture {{{{ document.number }}}} – {{{{ firm.name }}}}"
k{i}.subject[nl] = "Factuur {{{{ document.number }}}}"
k{i}.attach = none

"""

_PARENTS = ("invoice", "reminder", "task", "general")


def policy(lines: int) -> str:
    """A policy of about LINES lines."""
    blocks = max(1, (lines - HEAD.count("\n")) // BLOCK.count("\n"))
    return HEAD + "".join(BLOCK.format(i=i, parent=_PARENTS[i % 4]) for i in range(blocks))


def plain_lark() -> Lark:
    """The policy grammar with Lark's own tree building only (no AST transformer)."""
    return Lark.open(
        "grammar.lark",
        rel_to=dsl_parser.__file__,
        parser="lalr",
        lexer="basic",
        propagate_positions=True,
        maybe_placeholders=False,
        postlex=dsl_parser._NewlinePostLexer(),
        cache=True,
    )


def paused(fn: Callable[[], object]) -> Callable[[], None]:
    """FN with the garbage collector paused while it runs."""

    def run() -> None:
        gc.disable()
        try:
            fn()
        finally:
            gc.enable()

    return run


def main() -> None:
    """Run the benchmark and print its results."""
    args = parser(__doc__ or "").parse_args()
    sizes, runs = ((40, 400), 3) if args.quick else ((200, 20000), 7)
    header("compile time of generated policies")
    lark = plain_lark()
    with tempfile.TemporaryDirectory(prefix="mailpolicy-bench-") as tmp:
        for n in sizes:
            text = policy(n)
            path = Path(tmp) / f"policy-{n}.mail"
            path.write_text(text, encoding="utf-8")
            result = compile_file(path)
            if result.table is None or any(d.severity == "error" for d in result.diagnostics):
                raise SystemExit(f"generated policy does not compile: {result.diagnostics[:3]}")
            count = text.count("\n")
            tokens = sum(1 for _ in lark.lex(text))
            wall = stats([s * 1000 for s in repeat(partial(compile_file, path), runs)], "ms wall")
            ours = stats([s * 1000 for s in repeat(partial(compile_file, path), runs, cpu=True)], "ms CPU")
            alone = stats([s * 1000 for s in repeat(partial(lark.parse, text), runs, cpu=True)], "ms CPU")
            quiet = stats(
                [s * 1000 for s in repeat(paused(partial(lark.parse, text)), runs, cpu=True)], "ms CPU"
            )
            line(f"policy of {count} lines", f"{tokens} tokens, {len(text.encode()) / 1000:.0f} KB")
            line("  compile_file, wall", wall)
            line("  compile_file, CPU", ours)
            line("  lines per second (CPU)", f"{count / ours.median * 1000:,.0f}")
            line("  Lark LALR parse alone, CPU", alone)
            line("  Lark LALR parse alone, gc paused, CPU", quiet)
            ratio("  compile time / parse alone (CPU)", ours, alone)
            if n == sizes[-1]:
                under(f"compile, {count} lines, wall", wall.median, 1000, "ms")
                under(f"compile, {count} lines, CPU", ours.median, 1000, "ms")


if __name__ == "__main__":
    main()

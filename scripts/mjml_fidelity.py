#!/usr/bin/env python3
"""Rendering fidelity: the example templates through the reference MJML (npm `mjml@5`) and ours.

Ours is what the compiler stores: mjml-python (MRML) plus `<mj-style inline>` CSS inlined with
css-inline (`mailpolicy.compiler.templates.render_mjml`). Both outputs are normalised (attribute
order, CSS declaration order and spacing, white space between tags and in text, empty `class`
attributes) and compared line by line; what is left is listed per template.

    python3 scripts/mjml_fidelity.py                 # installs mjml@5 with npm into a temp dir
    python3 scripts/mjml_fidelity.py --mjml-dir DIR  # reuse a folder where `npm install mjml@5` ran

Needs node and npm (the npm registry is the only network access). docs/rendering.md explains
the differences found.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailpolicy.compiler.templates import render_mjml  # noqa: E402

NODE_SCRIPT = """
import fs from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(process.argv[2] + '/');
const mjml2html = require('mjml');
const out = {};
for (const f of process.argv.slice(3)) {
  let r = mjml2html(fs.readFileSync(f, 'utf8'), {validationLevel: 'soft', filePath: f});
  if (r && typeof r.then === 'function') r = await r;
  out[f] = {html: r.html, errors: (r.errors || []).map(e => e.formattedMessage || e.message)};
}
process.stdout.write(JSON.stringify(out));
"""


def _css(text: str) -> str:
    """CSS with white space normalised around punctuation."""
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"\s*([{}:;,>])\s*", r"\1", text).replace(";}", "}")


def _style_attr(value: str) -> str:
    declarations = []
    for item in value.split(";"):
        prop, sep, val = item.partition(":")
        if sep:
            declarations.append(f"{prop.strip().lower()}:{' '.join(val.split())}")
    return ";".join(sorted(declarations))


class _Normaliser(HTMLParser):
    """HTML → one line per tag or text run, in a form where only real differences remain."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.lines: list[str] = []
        self.in_style = False

    def handle_decl(self, decl: str) -> None:
        self.lines.append(f"<!{decl.lower()}>")

    def _tag(self, tag: str, attrs: list[tuple[str, str | None]], close: str) -> str:
        parts = []
        for name, value in sorted(attrs):
            if name == "class":
                value = " ".join(sorted((value or "").split()))
                if not value:
                    continue
            elif name == "style":
                value = _style_attr(value or "")
            parts.append(f'{name}="{value}"' if value is not None else name)
        return f"<{tag}{''.join(' ' + p for p in parts)}{close}>"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.lines.append(self._tag(tag, attrs, ""))
        self.in_style = tag == "style"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.lines.append(self._tag(tag, attrs, ""))

    def handle_endtag(self, tag: str) -> None:
        self.lines.append(f"</{tag}>")
        self.in_style = False

    def handle_data(self, data: str) -> None:
        text = _css(data) if self.in_style else " ".join(data.split())
        if text:
            self.lines.append(text)

    def handle_comment(self, data: str) -> None:
        # Outlook conditional comments carry markup: normalise it like the rest of the page.
        m = re.fullmatch(r"\s*(\[if [^\]]*\]>)(.*)<!\[endif\]\s*", data, re.DOTALL)
        if m is None:
            self.lines.append(f"<!--{' '.join(data.split())}-->")
            return
        inner = _Normaliser()
        inner.feed(m.group(2))
        inner.close()
        self.lines.append(f"<!--{m.group(1)}{''.join(inner.lines)}<![endif]-->")


def normalise(html: str) -> list[str]:
    """The comparable lines of an HTML document."""
    # Adjacent conditional blocks are one block split differently by the two renderers.
    html = re.sub(r"<!\[endif\]-->\s*<!--\[if mso \| IE\]>", "", html)
    parser = _Normaliser()
    parser.feed(html)
    parser.close()
    return parser.lines


def reference_html(templates: list[Path], mjml_dir: Path) -> dict[str, dict[str, object]]:
    """Each template rendered by the npm `mjml` package installed in MJML_DIR."""
    script = mjml_dir / "render_fidelity.mjs"
    script.write_text(NODE_SCRIPT, encoding="utf-8")
    done = subprocess.run(
        ["node", str(script), str(mjml_dir / "node_modules"), *map(str, templates)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, dict[str, object]] = json.loads(done.stdout)
    return result


def install_mjml(folder: Path) -> None:
    """`npm install mjml@5` into FOLDER (the npm registry is the only network access)."""
    subprocess.run(
        ["npm", "install", "--prefix", str(folder), "--no-audit", "--no-fund", "--silent", "mjml@5"],
        check=True,
    )


def compare(templates: list[Path], mjml_dir: Path, context: int) -> int:
    """Print the differences per template; the number of differing lines in all."""
    version = json.loads((mjml_dir / "node_modules" / "mjml" / "package.json").read_text())["version"]
    print(f"reference: mjml {version} (npm); ours: mjml-python + css-inline")
    reference = reference_html(templates, mjml_dir)
    total = 0
    for template in templates:
        ref = reference[str(template)]
        ours = normalise(render_mjml(template.read_text(encoding="utf-8")))
        theirs = normalise(str(ref["html"]))
        diff = list(difflib.unified_diff(theirs, ours, "mjml@5", "mailpolicy", n=context, lineterm=""))
        changed = sum(1 for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---"))
        total += changed
        print(f"\n== {template.relative_to(ROOT)}: {len(theirs)} vs {len(ours)} lines, {changed} differ")
        for error in ref.get("errors") or []:  # type: ignore[union-attr]
            print(f"   reference validation: {error}")
        for line in diff[2:]:
            print("   " + line)
    return total


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument(
        "templates", nargs="*", type=Path, help="MJML files (default: examples/templates/*.mjml)"
    )
    parser.add_argument("--mjml-dir", type=Path, help="a folder where `npm install mjml@5` already ran")
    parser.add_argument("--context", type=int, default=1, help="lines of context around each difference")
    args = parser.parse_args()
    templates = [p.resolve() for p in args.templates] or sorted(
        (ROOT / "examples" / "templates").glob("*.mjml")
    )
    try:
        if args.mjml_dir:
            total = compare(templates, args.mjml_dir.resolve(), args.context)
        else:
            with tempfile.TemporaryDirectory(prefix="mjml5-") as tmp:
                install_mjml(Path(tmp))
                total = compare(templates, Path(tmp), args.context)
    except FileNotFoundError as exc:
        print(f"error: {exc.filename} is needed (node and npm)", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"error: {' '.join(map(str, exc.cmd[:2]))} failed: {exc.stderr or ''}", file=sys.stderr)
        return 2
    print(f"\n{total} differing lines in {len(templates)} templates")
    return 0


if __name__ == "__main__":
    sys.exit(main())

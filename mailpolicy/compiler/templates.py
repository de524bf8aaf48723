"""Compile-time MJML templates: placeholder checks, one MJML render, CSS inlining, pre-split PARTS.

The runtime never runs MJML. Here each `{{ path }}` / `{{ path | format }}` placeholder of a
template is checked against SPEC 2.6, replaced by a sentinel word that survives MJML (also inside
attributes such as `href`), the MJML is rendered once with mjml-python, `<mj-style inline>` CSS is
inlined with css-inline (MRML, the Rust MJML behind mjml-python, would leave it in the head), and
the HTML and a plain-text version derived from the same template are split around the sentinels
into PARTS: literal strings and `{"path", "format", "loc": {"line", "column", "file"}}` slots
(docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from mailpolicy.compiler.placeholders import split_placeholders
from mailpolicy.diagnostics import Diagnostic, Span, did_you_mean, position

# Diagnostic codes of this module; placeholder problems use the codes of `compiler.placeholders`
# (MP104 unknown path, MP111 format, MP208 malformed), so a placeholder reads the same everywhere.
CODE_OUTSIDE = "MP401"  # template path outside the policy's folder (also checked by the checker)
CODE_NOT_FOUND = "MP402"  # template file not found
CODE_MJML = "MP403"  # MJML that does not render, with the line of the problem
CODE_UNREADABLE = "MP404"  # template not UTF-8 or not readable

PLACEHOLDER_RE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_STYLE_BLOCK_RE = re.compile(r"<mj-style\b([^>]*)>(.*?)</mj-style\s*>", re.DOTALL | re.IGNORECASE)
_INLINE_ATTR_RE = re.compile(r"""\binline\s*=\s*(["'])inline\1""", re.IGNORECASE)
_TAG_RE = re.compile(r"<(/?)([A-Za-z][\w:-]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*?)(/?)>|<!--.*?-->", re.DOTALL)

# MJML elements whose content is raw HTML (MJML's "ending tags"): not checked as MJML structure.
_ENDING_TAGS = frozenset(
    {
        "mj-text",
        "mj-button",
        "mj-table",
        "mj-raw",
        "mj-navbar-link",
        "mj-accordion-title",
        "mj-accordion-text",
        "mj-social-element",
        "mj-style",
        "mj-title",
        "mj-preview",
    }
)
_KNOWN_TAGS = _ENDING_TAGS | {
    "mjml",
    "mj-head",
    "mj-body",
    "mj-attributes",
    "mj-all",
    "mj-class",
    "mj-breakpoint",
    "mj-font",
    "mj-html-attributes",
    "mj-html-attribute",
    "mj-selector",
    "mj-accordion",
    "mj-accordion-element",
    "mj-button",
    "mj-carousel",
    "mj-carousel-image",
    "mj-column",
    "mj-divider",
    "mj-group",
    "mj-hero",
    "mj-image",
    "mj-navbar",
    "mj-section",
    "mj-social",
    "mj-spacer",
    "mj-wrapper",
}


def _style_ranges(source: str) -> list[tuple[int, int]]:
    return [(m.start(2), m.end(2)) for m in _STYLE_BLOCK_RE.finditer(source)]


def _check_structure(source: str, shown: str) -> list[Diagnostic]:
    """Located MJML structure errors; MRML itself reports errors without a position."""
    diags: list[Diagnostic] = []
    stack: list[tuple[str, int]] = []
    pos = 0
    raw_until: str | None = None  # inside an ending tag: only its own closing tag counts
    for m in _TAG_RE.finditer(source):
        if m.group(2) is None:  # a comment
            continue
        closing, name, _attrs, selfclosing = m.group(1), m.group(2).lower(), m.group(3), m.group(4)
        if raw_until is not None:
            if closing and name == raw_until:
                raw_until = None
                _check_raw_text(source, pos, m.start(), shown, diags)
            else:
                continue
        line, col = position(source, m.start())
        span = Span(shown, line, col, line, col + len(m.group(0).split("\n")[0]))
        if closing:
            if not stack:
                diags.append(Diagnostic(CODE_MJML, f"closing tag </{name}> without an opening tag", span))
                return diags
            open_name, open_at = stack.pop()
            if open_name != name:
                oline, _ = position(source, open_at)
                diags.append(
                    Diagnostic(
                        CODE_MJML,
                        f"closing tag </{name}> does not match <{open_name}> opened at line {oline}",
                        span,
                    )
                )
                return diags
            pos = m.end()
            continue
        if name.startswith("mj") and name not in _KNOWN_TAGS and name != "mj-include":
            diags.append(
                Diagnostic(
                    CODE_MJML, f"unknown MJML element <{name}>", span, help=did_you_mean(name, _KNOWN_TAGS)
                )
            )
        if name == "mj-include":
            diags.append(
                Diagnostic(CODE_MJML, "<mj-include> is not supported: keep a template in one file", span)
            )
        if selfclosing:
            continue
        stack.append((name, m.start()))
        if name in _ENDING_TAGS:
            raw_until = name
            pos = m.end()
    if raw_until is not None or stack:
        name, at = stack[-1]
        line, col = position(source, at)
        span = Span(shown, line, col, line, col + len(name) + 1)  # under `<name`
        diags.append(Diagnostic(CODE_MJML, f"<{name}> is never closed", span))
    return diags


MAX_TEMPLATE_DEPTH = 256
"""Deepest nesting of elements in a template. MRML (the Rust MJML behind mjml-python) recurses per
level and crashes the whole process (SIGSEGV) somewhere past 3,000 levels, unclosed `<p>` or
`<li>` included; real templates stay under 50 (issue 8)."""

# Elements that never hold content, so they open no level (`<br>` written without `/>`).
_EMPTY_ELEMENTS = frozenset("area base br col embed hr img input link meta param source track wbr".split())


def _check_depth(source: str, shown: str) -> list[Diagnostic]:
    """MP403 at the first tag nested deeper than MAX_TEMPLATE_DEPTH, counted as MRML nests them:
    every start tag that is not self-closing or empty opens a level, every end tag closes one."""
    depth = 0
    for m in _TAG_RE.finditer(source):
        if m.group(2) is None or m.group(4) or m.group(2).lower() in _EMPTY_ELEMENTS:
            continue  # a comment, `<x/>` or `<br>`
        if m.group(1):
            depth = max(0, depth - 1)
            continue
        depth += 1
        if depth > MAX_TEMPLATE_DEPTH:
            line, col = position(source, m.start())
            return [
                Diagnostic(
                    CODE_MJML,
                    f"elements are nested more than {MAX_TEMPLATE_DEPTH} levels deep here",
                    Span(shown, line, col, line, col + len(m.group(2)) + 1),
                    help=["close the elements you open (</p>, </li>...) or flatten the layout"],
                )
            ]
    return []


def _check_raw_text(source: str, start: int, end: int, shown: str, diags: list[Diagnostic]) -> None:
    """A bare `<` in an ending tag's HTML content breaks MRML: point at it."""
    for m in re.finditer(r"<(?![A-Za-z/!])", source[start:end]):
        line, col = position(source, start + m.start())
        diags.append(
            Diagnostic(
                CODE_MJML, "a bare '<' in text: write it as &lt;", Span(shown, line, col, line, col + 1)
            )
        )


def _sentinel_prefix(source: str) -> str:
    """A sentinel word that does not occur in the template (deterministic, plain ASCII)."""
    prefix = "XMPSLOT"
    while prefix in source:
        prefix += "Q"
    return prefix


def _split(text: str, sentinel_re: re.Pattern[str], slots: list[dict[str, Any]]) -> list[Any]:
    """TEXT split around sentinels into PARTS (adjacent literals merged, empty ones dropped)."""
    parts: list[Any] = []
    pos = 0
    for m in sentinel_re.finditer(text):
        if m.start() > pos:
            parts.append(text[pos : m.start()])
        parts.append(dict(slots[int(m.group(1))]))
        pos = m.end()
    if pos < len(text):
        parts.append(text[pos:])
    return parts


def inline_css(html: str, css: str) -> str:
    """Inline CSS into HTML's `style` attributes, as the reference MJML does for `<mj-style inline>`.

    The head's own `<style>` blocks (media queries for mobile layouts) are kept and not inlined,
    and no remote stylesheet is ever fetched.
    """
    if not css.strip():
        return html
    import css_inline  # lazily: only compiling templates needs it

    inliner = css_inline.CSSInliner(
        inline_style_tags=False,
        keep_style_tags=True,
        keep_link_tags=True,
        # keep_at_rules=True would stop css-inline from inlining anything when
        # inline_style_tags=False (css-inline 0.24); the head's @media blocks survive anyway
        # because keep_style_tags leaves those <style> elements as they are.
        load_remote_stylesheets=False,
        extra_css=css,
    )
    result: str = inliner.inline(html)
    return result


def render_mjml(source: str) -> str:
    """MJML → HTML with mjml-python, then `<mj-style inline="inline">` CSS inlined.

    Raises ValueError with MRML's message when MJML cannot render the source.
    """
    # A cold `check` would import mjml-python and css-inline and render every template: renders
    # are kept in the user cache, keyed by the source and the code that renders (mailpolicy.cache).
    from mailpolicy.cache import memo

    return memo("mjml", f"{_render_code_stamp()}\0{source}", lambda: _render_mjml(source))


@functools.lru_cache(maxsize=1)
def _render_code_stamp() -> str:
    """The code that renders (mjml-python's, css-inline's and this module's), once a run."""
    from mailpolicy.cache import code_stamp, module_stamp

    return f"{module_stamp('mjml', 'css_inline')};{code_stamp(__file__)}"


def _render_mjml(source: str) -> str:
    """`render_mjml` without the cache."""
    import mjml  # lazily: `check` without templates should not pay for it

    inline_css_text: list[str] = []

    def take_inline(m: re.Match[str]) -> str:
        if _INLINE_ATTR_RE.search(m.group(1)):
            inline_css_text.append(m.group(2))
            return ""
        return m.group(0)

    stripped = _STYLE_BLOCK_RE.sub(take_inline, source)
    html: str = mjml.mjml2html(stripped)
    return inline_css(html, "\n".join(inline_css_text))


def compile_template(
    path: Path, policy_dir: Path, rel: str
) -> tuple[dict[str, Any] | None, list[Diagnostic]]:
    """`{"html": PARTS, "text": PARTS}` for the MJML file PATH (REL as written in the policy).

    Diagnostics point into the template file (line and column of the placeholder or tag); the
    table entry is None when there is any error.
    """
    shown = str(path)
    diags: list[Diagnostic] = []
    try:
        resolved = path.resolve()
        if Path(rel).is_absolute() or not resolved.is_relative_to(policy_dir.resolve()):
            return None, [Diagnostic(CODE_OUTSIDE, f"the template '{rel}' leads outside the policy's folder")]
        source = resolved.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Diagnostic(CODE_NOT_FOUND, f"template file not found: '{rel}'")]
    except UnicodeDecodeError:
        return None, [Diagnostic(CODE_UNREADABLE, f"the template '{rel}' is not UTF-8 text")]
    except OSError as exc:
        return None, [Diagnostic(CODE_UNREADABLE, f"the template '{rel}' cannot be read: {exc.strerror}")]
    source = source.replace("\r\n", "\n")

    diags.extend(_check_structure(source, shown))
    diags.extend(_check_depth(source, shown))
    # CSS in mj-style is left alone: blank it (keeping line breaks, so positions hold) before
    # looking for placeholders.
    masked = source
    for start, end in _style_ranges(source):
        masked = masked[:start] + re.sub(r"[^\n]", " ", masked[start:end]) + masked[end:]
    parts, placeholder_diags = split_placeholders(
        masked, lambda offset: position(masked, offset), shown, file=rel
    )
    diags.extend(placeholder_diags)
    if any(d.severity == "error" for d in diags):
        return None, diags
    # Without errors every `{{ ... }}` left in MASKED is one slot of PARTS, in the same order.
    slots = [dict(p) for p in parts if not isinstance(p, str)]
    prefix = _sentinel_prefix(source)
    pieces: list[str] = []
    pos = 0
    for index, m in enumerate(PLACEHOLDER_RE.finditer(masked)):
        pieces += [source[pos : m.start()], f"{prefix}{index}Z"]
        pos = m.end()
        # The runtime's error messages name the template file from the slot's loc.
        slots[index]["loc"] = {**slots[index]["loc"], "file": rel}
        slots[index]["file"] = rel
    pieces.append(source[pos:])
    marked = "".join(pieces)
    try:
        html = render_mjml(marked)
    except ValueError as exc:
        return None, [Diagnostic(CODE_MJML, f"MJML cannot render this template: {exc}", Span(shown, 1, 1))]
    sentinel_re = re.compile(re.escape(prefix) + r"(\d+)Z")
    text = mjml_to_text(marked, lambda t: sentinel_re.sub(lambda m: slots[int(m.group(1))]["path"], t))
    return {"html": _split(html, sentinel_re, slots), "text": _split(text, sentinel_re, slots)}, diags


# --- plain-text version --------------------------------------------------------------------------

_PARA, _LINE = 2, 1
_BLOCK_TAGS = frozenset(
    {
        "mj-text",
        "mj-button",
        "mj-table",
        "mj-section",
        "mj-column",
        "mj-wrapper",
        "mj-hero",
        "mj-group",
        "mj-divider",
        "mj-image",
        "mj-navbar",
        "mj-social",
        "p",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "table",
        "blockquote",
        "div",
    }
)
# Elements whose text is a link: read as `text (url)`; the MJML ones each on a line of their own.
_LINK_TAGS = frozenset({"a", "mj-button", "mj-navbar-link", "mj-social-element"})
_SKIP_TAGS = frozenset({"mj-head", "mj-raw", "style", "script", "head", "title"})
_VOID_TAGS = frozenset({"br", "img", "hr", "mj-image", "mj-divider", "mj-spacer", "meta", "link", "input"})


class _TextExtractor(HTMLParser):
    """Readable text from MJML: paragraphs, `- ` list items, links as `text (url)`, no tags."""

    def __init__(self, canon: Callable[[str], str] = str) -> None:
        super().__init__(convert_charrefs=True)
        # Compares a link's text with its URL; sentinels of the same path must compare equal.
        self.canon = canon
        self.out: list[str | int] = []
        self.skip = 0
        self.links: list[tuple[str | None, int]] = []

    def _brk(self, kind: int) -> None:
        self.out.append(kind)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            if tag not in _VOID_TAGS:
                self.skip += 1
            return
        if self.skip:
            return
        if tag in _BLOCK_TAGS:
            self._brk(_PARA)
        elif tag in ("br", "tr", "mj-navbar-link", "mj-social-element"):
            self._brk(_LINE)
        elif tag == "li":
            self._brk(_LINE)
            self.out.append("- ")
        elif tag in ("td", "th"):
            self.out.append("  ")
        if tag in _LINK_TAGS:
            href = dict(attrs).get("href")
            self.links.append((href, len(self.out)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skip:
            return
        if tag in _BLOCK_TAGS:
            self._brk(_PARA)
        elif tag == "br":
            self._brk(_LINE)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
            return
        if self.skip:
            return
        if tag in _LINK_TAGS and self.links:
            href, start = self.links.pop()
            label = " ".join("".join(p for p in self.out[start:] if isinstance(p, str)).split())
            same = self.canon(href or "") in (self.canon(label), self.canon(f"mailto:{label}"))
            if href and not href.startswith("#") and not same:
                self.out.append(f" ({href})" if label else href)
        if tag in _BLOCK_TAGS:
            self._brk(_PARA)
        elif tag in ("tr", "li"):
            self._brk(_LINE)

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(data)

    def text(self) -> str:
        """The collected text: whitespace collapsed as HTML does, paragraphs blank-separated."""
        lines: list[str] = []
        current: list[str] = []
        pending = 0
        for piece in self.out:
            if isinstance(piece, int):
                pending = max(pending, piece)
                continue
            if pending and current:
                line = " ".join("".join(current).split())
                if line:
                    lines.append(line)
                if pending == _PARA:
                    lines.append("")
                current = []
            pending = 0
            current.append(piece)
        if current:
            lines.append(" ".join("".join(current).split()))
        # Collapse runs of blank lines (empty blocks) and trim the ends.
        result: list[str] = []
        for line in lines:
            if line == "" and (not result or result[-1] == ""):
                continue
            result.append(line)
        while result and result[-1] == "":
            result.pop()
        return "\n".join(result) + "\n"


def mjml_to_text(source: str, canon: Callable[[str], str] = str) -> str:
    """The plain-text alternative of an MJML template (placeholders or sentinels kept as they are).

    CANON maps text to the form in which a link's text and URL are compared.
    """
    extractor = _TextExtractor(canon)
    extractor.feed(source)
    extractor.close()
    return extractor.text()

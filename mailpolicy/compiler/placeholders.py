"""Template strings → PARTS: literal text and `{{ path | format }}` slots, with their paths checked.

Shared by subjects and display names (here) and MJML templates (`compiler.templates`), so that a
placeholder means the same thing wherever it is written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from mailpolicy.compiler.builtins import FORMATS, UNTYPED, known_paths, path_type
from mailpolicy.diagnostics import Diagnostic, Span, did_you_mean

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\Z")

Locate = Callable[[int], tuple[int, int]]


def check_path(path: str, span: Span) -> tuple[str | None, list[Diagnostic]]:
    """The type of a data path used in a placeholder or condition, or an MP104 diagnostic."""
    kind = path_type(path)
    if kind is not None:
        return kind, []
    helps = did_you_mean(path, known_paths())
    if path == "relation.attributes":
        helps = ["name the attribute: relation.attributes.NAME"]
    elif not helps:
        helps = ["known paths start with firm., relation., document. or sender."]
    return None, [Diagnostic("MP104", f"unknown path '{path}'", span, help=helps)]


def split_placeholders(
    text: str, locate: Locate, span_path: str, *, file: str | None = None
) -> tuple[list[Any], list[Diagnostic]]:
    """Split TEXT into PARTS (docs/ARCHITECTURE.md); LOCATE maps a text index to (line, column).

    Each slot is `{"path", "format", "loc"}` (plus `"file"` when FILE is given, for templates).
    A `{{` without its `}}` is MP208; an unknown path MP104; an unknown format or one that does
    not fit the path's type MP111.
    """
    parts: list[Any] = []
    diags: list[Diagnostic] = []
    pos = 0

    def literal(chunk: str) -> None:
        if not chunk:
            return
        if parts and isinstance(parts[-1], str):
            parts[-1] += chunk
        else:
            parts.append(chunk)

    def span_at(start: int, end: int) -> Span:
        line, col = locate(start)
        end_line, end_col = locate(end)
        return Span(span_path, line, col, end_line, end_col)

    for match in _PLACEHOLDER.finditer(text):
        literal(text[pos : match.start()])
        pos = match.end()
        body = match.group(1)
        span = span_at(match.start(), match.end())
        path_text, _, fmt_text = body.partition("|")
        path = path_text.strip()
        fmt = fmt_text.strip() if "|" in body else None
        if not _PATH.match(path):
            diags.append(
                Diagnostic(
                    "MP208",
                    f"'{{{{{body}}}}}' is not a placeholder: "
                    "expected {{ path }} or {{ path | format }}",
                    span,
                )
            )
            continue
        kind, path_diags = check_path(path, span)
        diags.extend(path_diags)
        if fmt is not None:
            if fmt not in FORMATS:
                diags.append(
                    Diagnostic("MP111", f"unknown format '{fmt}'", span, help=did_you_mean(fmt, FORMATS))
                )
            elif kind is not None and kind != UNTYPED and kind not in FORMATS[fmt]:
                wanted = " or ".join(FORMATS[fmt])
                diags.append(
                    Diagnostic(
                        "MP111",
                        f"the format '{fmt}' applies to a {wanted}, and '{path}' is {_article(kind)}",
                        span,
                    )
                )
        line, col = locate(match.start())
        slot: dict[str, Any] = {"path": path, "format": fmt, "loc": {"line": line, "column": col}}
        if file is not None:
            slot["file"] = file
        parts.append(slot)
    rest = text[pos:]
    opening = rest.find("{{")
    if opening >= 0:
        diags.append(
            Diagnostic(
                "MP208",
                "'{{' opens a placeholder that is never closed with '}}'",
                span_at(pos + opening, pos + opening + 2),
            )
        )
    literal(rest)
    return parts, diags


def _article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"

"""The one diagnostic type of mailpolicy: code, severity, message, source span, help lines."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]


def position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column (in code points) of a character index of TEXT."""
    line = text.count("\n", 0, index) + 1
    start = text.rfind("\n", 0, index) + 1
    return line, index - start + 1


@dataclass(frozen=True)
class Span:
    """A 1-based source range; columns count Unicode code points, end is exclusive."""

    path: str
    line: int
    column: int
    end_line: int | None = None
    end_column: int | None = None


@dataclass
class Diagnostic:
    """One finding about a policy, template, data file or message."""

    code: str
    message: str
    span: Span | None = None
    severity: Severity = "error"
    help: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """The machine-readable form shared by `check --format json` and the preview."""
        span = self.span
        return {
            "path": span.path if span else None,
            "line": span.line if span else None,
            "column": span.column if span else None,
            "end_line": (span.end_line or span.line) if span else None,
            "end_column": (span.end_column or span.column + 1) if span else None,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "help": list(self.help),
        }


class DiagnosticError(Exception):
    """Raised when a stage cannot go on; carries every diagnostic found so far."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        super().__init__("; ".join(d.message for d in diagnostics))


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """The closest known name to a misspelt one, for a `did you mean` help line."""
    matches = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(name: str, candidates: Iterable[str]) -> list[str]:
    """Help lines with a suggestion when a near name exists, else none."""
    best = suggest(name, candidates)
    return [f"did you mean '{best}'?"] if best else []


def render_text(diag: Diagnostic, source: str | None = None) -> str:
    """`PATH:LINE:COL: error[CODE]: message`, the source line, a caret under the span, `help:` lines."""
    span = diag.span
    where = f"{span.path}:{span.line}:{span.column}: " if span else ""
    out = [f"{where}{diag.severity}[{diag.code}]: {diag.message}"]
    if span is not None and source is not None:
        lines = source.splitlines()
        if 1 <= span.line <= len(lines):
            text = lines[span.line - 1].replace("\t", " ")
            gutter = str(span.line)
            pad = " " * len(gutter)
            if span.end_line in (None, span.line) and span.end_column:
                width = max(1, span.end_column - span.column)
            else:
                width = max(1, len(text) - span.column + 1)
            out.append(f"{pad} |")
            out.append(f"{gutter} | {text}")
            out.append(f"{pad} | {' ' * (span.column - 1)}{'^' * width}")
    out.extend(f"  help: {h}" for h in diag.help)
    return "\n".join(out)

"""`mailpolicy fmt`: the one canonical layout of a policy file, keeping every comment in place.

The formatter works on tokens, line by line, so it can only change layout: the file is first
parsed (a file with a syntax error is never rewritten), then each line is re-spaced, `=` signs are
aligned within a run of consecutive assignments, blocks are indented by two spaces and lines
continued inside `( )` or `[ ]` by four per open bracket. Template placeholders in strings are
written `{{ path }}` / `{{ path | format }}`; everything else in a string is kept as written.
Formatting is idempotent: the output is a fixed point.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from mailpolicy.dsl.parser import parse_policy

INDENT = "  "
CONTINUATION = "    "

_TOKEN = re.compile(
    r"""
    (?P<COMMENT>\#[^\n]*)
  | (?P<STRING>"(?:[^"\\\n\r]|\\["\\])*")
  | (?P<NUMBER>-?[0-9]+(?:\.[0-9]+)?)
  | (?P<NAME>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<OP>==|!=|<=|>=|<|>|=|,|\.|\(|\)|\[|\]|\{|\})
  | (?P<WS>[ \t\f\r]+)
  | (?P<OTHER>.)
    """,
    re.VERBOSE,
)

_KEYWORDS = frozenset(
    "firm role kind extends audience smtp env free else when and or not in true false".split()
)
_SLOT = re.compile(r"\{\{\s*([^{}|]*?)\s*(?:\|\s*([^{}]*?)\s*)?\}\}")


@dataclass
class _Tok:
    kind: str
    text: str


@dataclass
class _Line:
    """One output line before alignment."""

    indent: str
    tokens: list[_Tok]
    comment: str | None
    role: str  # "blank", "comment", "first" (a statement's first line), "cont", "open", "close"
    level: int  # block nesting
    eq_index: int | None = None  # index of the assignment's `=` among tokens (first lines only)
    parts: list[str] = field(default_factory=list)


def _tokens(line: str) -> tuple[list[_Tok], str | None]:
    toks: list[_Tok] = []
    comment = None
    for match in _TOKEN.finditer(line):
        kind = match.lastgroup or "OTHER"
        text = match.group()
        if kind == "WS":
            continue
        if kind == "COMMENT":
            comment = text.rstrip()
            break
        toks.append(_Tok(kind, text))
    return toks, comment


def _normalise_placeholders(literal: str) -> str:
    def slot(match: re.Match[str]) -> str:
        path = match.group(1)
        fmt = match.group(2)
        return "{{ " + path + (f" | {fmt}" if fmt else "") + " }}"

    return _SLOT.sub(slot, literal)


def _is_name(tok: _Tok) -> bool:
    return tok.kind == "NAME" and tok.text not in _KEYWORDS


def _is_template_target(target: list[_Tok]) -> bool:
    """Whether a rule's target is a template string field (`subject`, `from_name`)."""
    names = [t.text for t in target if t.kind == "NAME"]
    if "[" in [t.text for t in target]:
        names = [t.text for t in target[: [t.text for t in target].index("[")] if t.kind == "NAME"]
    return bool(names) and names[-1] in ("subject", "from_name")


def _join(tokens: list[_Tok], start_of_statement: bool) -> str:
    """Tokens with canonical spacing: one space around operators, none inside brackets or dots."""
    out = ""
    prev: _Tok | None = None
    depth = 0
    before_eq = start_of_statement
    for tok in tokens:
        text = tok.text
        if prev is not None:
            tight = (
                text in (")", "]", ",", ".")
                or prev.text in ("(", "[", ".")
                # `invoice.subject[nl]`: the language of a rule target sticks to its name.
                or (text == "[" and before_eq and depth == 0 and (_is_name(prev) or prev.text == "]"))
            )
            out += text if tight else " " + text
        else:
            out += text
        if text in ("(", "["):
            depth += 1
        elif text in (")", "]"):
            depth = max(0, depth - 1)
        elif text == "=" and depth == 0:
            before_eq = False
        prev = tok
    return out


class _Formatter:
    def __init__(self, text: str):
        self.text = text.replace("\r\n", "\n").replace("\r", "\n")
        self.lines: list[_Line] = []

    def build(self) -> None:
        level = 0  # `{ }` blocks
        depth = 0  # `( )` and `[ ]` inside a statement
        for raw in self.text.split("\n"):
            toks, comment = _tokens(raw)
            if not toks:
                if comment is None:
                    self.lines.append(_Line("", [], None, "blank", level))
                else:
                    indent = INDENT * level + (CONTINUATION * depth if depth else "")
                    self.lines.append(_Line(indent, [], comment, "comment", level))
                continue
            # `}` that ends the last setting's line goes on its own line.
            closers: list[_Tok] = []
            while depth == 0 and len(toks) > 1 and toks[-1].text == "}":
                closers.append(toks.pop())
            self._statement_line(toks, comment, level, depth)
            for tok in toks:
                if tok.text in ("(", "["):
                    depth += 1
                elif tok.text in (")", "]"):
                    depth = max(0, depth - 1)
                elif tok.text == "{" and depth == 0:
                    level += 1
                elif tok.text == "}" and depth == 0:
                    level = max(0, level - 1)
            if toks[-1].text == "{" and depth == 0:
                self.lines[-1].role = "open"
            if toks[0].text == "}" and len(toks) == 1:
                self.lines[-1].role = "close"
                self.lines[-1].level = level
                self.lines[-1].indent = INDENT * level
            for closer in closers:
                level = max(0, level - 1)
                self.lines.append(_Line(INDENT * level, [closer], None, "close", level))

    def _statement_line(self, toks: list[_Tok], comment: str | None, level: int, depth: int) -> None:
        if depth:
            # A closing bracket that opens the line sits with the line that opened it.
            leading = 0
            for tok in toks:
                if tok.text in (")", "]"):
                    leading += 1
                else:
                    break
            indent = INDENT * level + CONTINUATION * max(0, depth - leading)
            self.lines.append(_Line(indent, toks, comment, "cont", level, parts=[_join(toks, False)]))
            return
        eq_index = None
        inner = 0
        for i, tok in enumerate(toks):
            if tok.text in ("(", "["):
                inner += 1
            elif tok.text in (")", "]"):
                inner -= 1
            elif tok.text == "=" and inner == 0:
                eq_index = i
                break
        line = _Line(INDENT * level, toks, comment, "first", level, eq_index)
        if eq_index is not None and _is_template_target(toks[:eq_index]):
            for tok in toks[eq_index + 1 :]:
                if tok.kind == "STRING":
                    tok.text = _normalise_placeholders(tok.text)
        if eq_index is not None:
            line.parts = [_join(toks[:eq_index], True), _join(toks[eq_index + 1 :], False)]
        else:
            line.parts = [_join(toks, True)]
        self.lines.append(line)

    def render(self) -> str:
        self._collapse_blank_lines()
        codes: list[str] = []  # each line without its trailing comment
        i = 0
        while i < len(self.lines):
            group_end = self._group_end(i)
            if group_end > i + 1 or self._assignment(self.lines[i]):
                codes.extend(self._group_codes(self.lines[i:group_end]))
                i = group_end
            else:
                codes.append(self._code(self.lines[i]))
                i += 1
        # Trailing comments of consecutive lines line up two columns past the longest of those
        # lines (aligning past every line of a block would push them far to the right).
        out: list[str] = []
        run: list[tuple[str, str]] = []

        def flush() -> None:
            column = max((len(code) for code, _ in run), default=0) + 2
            out.extend(code.ljust(column) + comment for code, comment in run)
            run.clear()

        for line, code in zip(self.lines, codes, strict=True):
            if line.comment is not None and line.role not in ("comment", "blank"):
                run.append((code, line.comment))
                continue
            flush()
            out.append(code)
        flush()
        return "\n".join(out) + "\n" if out else ""

    def _collapse_blank_lines(self) -> None:
        kept: list[_Line] = []
        for line in self.lines:
            if line.role == "blank" and (not kept or kept[-1].role == "blank"):
                continue
            # No blank line just inside a block's braces.
            if line.role == "close" and kept and kept[-1].role == "blank":
                kept.pop()
            if line.role == "blank" and kept and kept[-1].role == "open":
                continue
            kept.append(line)
        while kept and kept[-1].role == "blank":
            kept.pop()
        self.lines = kept

    @staticmethod
    def _assignment(line: _Line) -> bool:
        """A rule or a block setting (declarations such as `audience` stand apart)."""
        return line.role == "first" and line.eq_index is not None and line.tokens[0].text not in _KEYWORDS

    def _group_end(self, start: int) -> int:
        """One past the last line of the run of assignments (with their continuations) at START.

        Any other line ends the run: a blank line, a comment line (in commented policies each rule
        often has its own explanation above it), a declaration, a brace.
        """
        first = self.lines[start]
        if not self._assignment(first):
            return start + 1
        end = start + 1
        while end < len(self.lines):
            line = self.lines[end]
            in_continuation = line.role == "comment" and line.indent != INDENT * first.level
            if line.role == "cont" or in_continuation:
                end += 1
            elif self._assignment(line) and line.level == first.level:
                end += 1
            else:
                break
        return end

    def _group_codes(self, lines: list[_Line]) -> list[str]:
        """The lines of a run of assignments with their `=` aligned."""
        width = max(len(line.parts[0]) for line in lines if self._assignment(line))
        codes = []
        for line in lines:
            if self._assignment(line):
                target, value = line.parts
                codes.append(f"{line.indent}{target.ljust(width)} = {value}")
            else:
                codes.append(self._code(line))
        return codes

    @staticmethod
    def _code(line: _Line) -> str:
        """A line without its trailing comment (a comment-only line is all comment)."""
        if line.role == "blank":
            return ""
        if line.role == "comment":
            return f"{line.indent}{line.comment}"
        if not line.parts:
            code = _join(line.tokens, False)
        elif line.eq_index is not None and line.role == "first":
            code = " = ".join(line.parts)
        else:
            code = line.parts[0]
        return f"{line.indent}{code}"


def format_policy(text: str, path: str = "<policy>") -> str:
    """The canonical layout of policy TEXT; DiagnosticError (from the parser) when it does not parse."""
    parse_policy(text, path)
    formatter = _Formatter(text)
    formatter.build()
    return formatter.render()


def unified_diff(before: str, after: str, path: str) -> str:
    """A unified diff from BEFORE to AFTER, labelled with PATH, for `fmt --diff`."""
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"{path} (original)",
            tofile=f"{path} (formatted)",
        )
    )

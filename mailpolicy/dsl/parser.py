"""Parse policy text into the typed AST of `mailpolicy.dsl.ast`, with syntax errors as diagnostics.

Lark's LALR parser does the parsing (Earley is 20-30x slower on policies); a small post-lexer makes
newlines statement terminators except inside ( ) and [ ]; the AST is built by callbacks that run
inside the parser as it reduces, so no parse tree is built and any nesting depth parses without
hitting Python's recursion limit. Syntax errors are
put into words a consultant understands ("expected an address source after 'else'").

Input limits (each a diagnostic, never an exception): the file must be UTF-8 (MP005), hold no NUL
character (MP006) and be at most `MAX_POLICY_BYTES` long (MP007).
"""

from __future__ import annotations

import contextvars
import functools
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Lark imports the third-party `regex` module when it is installed, only for `Lark(regex=True)`,
# which this grammar does not use: hidden during the import, a cold `check` costs 7 ms less.
_HIDE_REGEX = "regex" not in sys.modules
if _HIDE_REGEX:
    sys.modules["regex"] = None  # type: ignore[assignment]
try:
    from lark import Lark, Token, Transformer
    from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
finally:
    if _HIDE_REGEX:
        del sys.modules["regex"]

from mailpolicy.diagnostics import Diagnostic, DiagnosticError, Span, position  # noqa: E402
from mailpolicy.dsl import ast  # noqa: E402

# 4 MiB: a 20,000-line policy is well under 1 MiB; anything near this is not a hand-written policy.
MAX_POLICY_BYTES = 4 * 1024 * 1024

_BRACKETS_OPEN = {"LPAR": "RPAR", "LSQB": "RSQB"}
_BRACKETS_CLOSE = {"RPAR", "RSQB"}


class _NewlinePostLexer:
    """Makes `_NL` a statement terminator: dropped inside ( ) and [ ], folded when repeated.

    The state lives in the generator, so one cached parser serves every parse.
    """

    always_accept: tuple[str, ...] = ()

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        """Filter the token stream of one parse."""
        depth = 0
        previous: Token | None = None
        for tok in stream:
            kind = tok.type
            if kind == "_NL":
                # Blank lines, comment-only lines and newlines inside brackets separate nothing.
                if depth > 0 or previous is None or previous.type == "_NL":
                    continue
            elif kind in _BRACKETS_OPEN:
                depth += 1
            elif kind in _BRACKETS_CLOSE and depth > 0:
                depth -= 1
            previous = tok
            yield tok
        if previous is not None and previous.type != "_NL":
            # The last statement needs no newline of its own.
            end = Token.new_borrow_pos("_NL", "", previous)
            end.line = previous.end_line
            end.column = previous.end_column
            end.start_pos = previous.end_pos
            yield end


@functools.lru_cache(maxsize=1)
def _lark() -> Lark:
    """The parser, built once per process (and its analysis cached on disk by Lark)."""
    from mailpolicy.cache import lark_cache

    return Lark.open(
        "grammar.lark",
        rel_to=__file__,
        parser="lalr",
        lexer="basic",
        transformer=_Builder(),
        maybe_placeholders=False,
        postlex=_NewlinePostLexer(),
        # A file in the user cache folder (Lark's temp-folder default when that is unusable).
        cache=lark_cache(str(Path(__file__).with_name("grammar.lark"))),
    )


# --- decoding and limits -------------------------------------------------------------------------


def decode_policy(data: bytes, path: str, *, size: int | None = None) -> str:
    """The text of a policy file's bytes; DiagnosticError when it is too large or not UTF-8.

    SIZE is the whole file's size when DATA is only its first bytes (see `read_policy`).
    """
    if len(data) > MAX_POLICY_BYTES:
        raise DiagnosticError(
            [
                Diagnostic(
                    "MP007",
                    f"the file is too large for a policy ({max(size or 0, len(data))} bytes; the limit is "
                    f"{MAX_POLICY_BYTES} bytes)",
                    Span(path, 1, 1),
                )
            ]
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        line_start = before.rfind(b"\n") + 1
        column = len(before[line_start:].decode("utf-8", errors="replace")) + 1
        raise DiagnosticError(
            [
                Diagnostic(
                    "MP005",
                    f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be decoded)",
                    Span(path, line, column, line, column + 1),
                    help=["save the policy as UTF-8"],
                )
            ]
        ) from None
    # A byte-order mark is invisible in editors; it is not part of the first statement.
    return text[1:] if text.startswith("\ufeff") else text


def read_policy(path: str | Path) -> str:
    """Read and decode a policy file (OSError when it cannot be read)."""
    p = Path(path)
    with p.open("rb") as fh:
        data = fh.read(MAX_POLICY_BYTES + 1)
        # Only one byte past the limit is read: report the file's real size, not 4194305 (issue 8).
        size = os.fstat(fh.fileno()).st_size
    return decode_policy(data, str(path), size=size)


def parse_file(path: str | Path) -> ast.Policy:
    """Read and parse a policy file; DiagnosticError for bad bytes or syntax, OSError if unreadable."""
    return parse_policy(read_policy(path), str(path))


# --- AST building --------------------------------------------------------------------------------


def _tok_span(path: str, tok: Token) -> Span:
    return Span(path, tok.line or 1, tok.column or 1, tok.end_line, tok.end_column)


def _decode_string(path: str, tok: Token) -> ast.StringLit:
    """Decode a STRING token, keeping the source column of every character for later spans."""
    raw = str(tok)
    col = tok.column or 1
    if "\\" not in raw:
        # No escapes (nearly every string): one character per column, built in C; the same as
        # `_decode_escaped` gives (tests/dsl/test_parser_fast_paths.py).
        return ast.StringLit(_tok_span(path, tok), raw[1:-1], tuple(range(col + 1, col + len(raw))))
    return _decode_escaped(path, tok)


def _decode_escaped(path: str, tok: Token) -> ast.StringLit:
    """`_decode_string` for any STRING token, escapes included: one character at a time."""
    raw = str(tok)
    col = tok.column or 1
    chars: list[str] = []
    offsets: list[int] = []
    i = 1
    while i < len(raw) - 1:
        offsets.append(col + i)
        if raw[i] == "\\":
            chars.append(raw[i + 1])
            i += 2
        else:
            chars.append(raw[i])
            i += 1
    offsets.append(col + len(raw) - 1)  # the closing quote: the end of the last character
    return ast.StringLit(_tok_span(path, tok), "".join(chars), tuple(offsets))


def _depth(*nodes: Any) -> int:
    return 1 + max((getattr(n, "depth", 1) for n in nodes), default=0)


def _nodes(children: list[Any]) -> list[Any]:
    """Children without the punctuation tokens that the grammar keeps for error messages."""
    return [c for c in children if not isinstance(c, Token)]


# The file being parsed, for the spans the builder creates. The builder runs inside Lark's parser
# (one cached instance for every file), so the path travels in a context variable.
_CURRENT_PATH: contextvars.ContextVar[str] = contextvars.ContextVar("mailpolicy_policy_path", default="")


def _first_pos(item: Any) -> tuple[int, int] | None:
    if isinstance(item, Token):
        return item.line or 1, item.column or 1
    span = getattr(item, "span", None)
    if span is not None:
        return span.line, span.column
    if isinstance(item, tuple):
        return _first_pos(item[-1])
    return None


def _last_pos(item: Any) -> tuple[int, int] | None:
    if isinstance(item, Token):
        return item.end_line or 1, item.end_column or 1
    span = getattr(item, "span", None)
    if span is not None:
        return span.end_line or span.line, span.end_column or span.column
    if isinstance(item, tuple):
        return _last_pos(item[-1])
    return None


def _cover(children: list[Any]) -> Span:
    """The span from the first child's start to the last child's end (what Lark's
    propagate_positions computes, done here because the builder runs inside the parser)."""
    # Plain loops, not next() over generators: this runs for nearly every node of a parse
    # (90,000 times for a 20,000-line policy).
    start: tuple[int, int] | None = None
    for child in children:
        start = _first_pos(child)
        if start is not None:
            break
    if start is None:
        start = (1, 1)
    end: tuple[int, int] | None = None
    for child in reversed(children):
        end = _last_pos(child)
        if end is not None:
            break
    if end is None:
        end = start
    return Span(_CURRENT_PATH.get(), start[0], start[1], end[0], end[1])


class _Builder(Transformer):
    """Parse-tree callbacks that build the AST bottom-up while Lark's LALR parser reduces.

    Running inside the parser means no parse tree is built and nothing recurses, whatever the
    nesting depth of the input.
    """

    # names and literals
    def dotted(self, children: list[Token]) -> ast.Name:
        path = _CURRENT_PATH.get()
        if len(children) == 1:  # a plain name, most of them: its span is its token's
            span = _tok_span(path, children[0])
            return ast.Name(span, (str(children[0]),), (span,))
        words = [t for t in children if t.type != "DOT"]
        return ast.Name(
            _cover(children), tuple(str(t) for t in words), tuple(_tok_span(path, t) for t in words)
        )

    def string(self, children: list[Token]) -> ast.StringLit:
        return _decode_string(_CURRENT_PATH.get(), children[0])

    def number(self, children: list[Token]) -> ast.NumberLit:
        text = str(children[0])
        value: int | float = float(text) if "." in text else int(text)
        return ast.NumberLit(_cover(children), value)

    def true(self, children: list[Token]) -> ast.BoolLit:
        return ast.BoolLit(_cover(children), True)

    def false(self, children: list[Token]) -> ast.BoolLit:
        return ast.BoolLit(_cover(children), False)

    def list_lit(self, children: list[Any]) -> ast.ListLit:
        items = _nodes(children)
        return ast.ListLit(_cover(children), items, _depth(*items))

    # address expressions
    def source(self, children: list[Any]) -> ast.SourceRef:
        return ast.SourceRef(_cover(children), children[0])

    def free(self, children: list[Token]) -> ast.FreeAddress:
        return ast.FreeAddress(_cover(children), _decode_string(_CURRENT_PATH.get(), children[1]))

    def text(self, children: list[Token]) -> ast.TextTerm:
        return ast.TextTerm(_cover(children), _decode_string(_CURRENT_PATH.get(), children[0]))

    def group(self, children: list[Any]) -> ast.Group:
        inner = _nodes(children)[0]
        return ast.Group(_cover(children), inner, _depth(inner))

    def else_chain(self, children: list[Any]) -> Any:
        terms = _nodes(children)
        return ast.Else(_cover(children), terms, _depth(*terms))

    def union(self, children: list[Any]) -> Any:
        items = _nodes(children)
        return ast.Union_(_cover(children), items, _depth(*items))

    # conditions
    def path(self, children: list[Any]) -> ast.PathRef:
        return ast.PathRef(_cover(children), children[0])

    def or_cond(self, children: list[Any]) -> Any:
        args = _nodes(children)
        return ast.Or(_cover(children), args, _depth(*args))

    def and_cond(self, children: list[Any]) -> Any:
        args = _nodes(children)
        return ast.And(_cover(children), args, _depth(*args))

    def not_cond(self, children: list[Any]) -> ast.Not:
        arg = _nodes(children)[0]
        return ast.Not(_cover(children), arg, _depth(arg))

    def comp_op(self, children: list[Token]) -> tuple[str, Span]:
        return " ".join(str(t) for t in children), _cover(children)

    def compare(self, children: list[Any]) -> Any:
        left, (op, op_span), right = children
        return ast.Compare(_cover([left, right]), op, left, right, op_span, _depth(left, right))

    def cond_group(self, children: list[Any]) -> ast.CondGroup:
        inner = _nodes(children)[0]
        return ast.CondGroup(_cover(children), inner, _depth(inner))

    # statements
    def setting(self, children: list[Any]) -> ast.Setting:
        name, _eq, value = children
        return ast.Setting(_cover(children), str(name), _tok_span(_CURRENT_PATH.get(), name), value)

    def setting_word(self, children: list[Any]) -> ast.Word:
        return ast.Word(_cover(children), children[0])

    def env_ref(self, children: list[Token]) -> ast.EnvRef:
        return ast.EnvRef(_cover(children), _decode_string(_CURRENT_PATH.get(), children[1]))

    def block(self, children: list[Any]) -> tuple[list[ast.Setting], Token]:
        # The closing brace travels along so that the declaration's span ends there.
        return _nodes(children), children[-1]

    def firm_decl(self, children: list[Any]) -> ast.FirmDecl:
        return ast.FirmDecl(_cover(children), children[1][0])

    def role_decl(self, children: list[Any]) -> ast.RoleDecl:
        return ast.RoleDecl(_cover(children), children[1])

    def kind_decl(self, children: list[Any]) -> ast.KindDecl:
        names = _nodes(children)
        return ast.KindDecl(_cover(children), names[0], names[1] if len(names) > 1 else None)

    def audience_decl(self, children: list[Any]) -> ast.AudienceDecl:
        return ast.AudienceDecl(_cover(children), children[1], children[3])

    def smtp_decl(self, children: list[Any]) -> ast.SmtpDecl:
        nodes = [c for c in children if not isinstance(c, Token)]
        if len(nodes) == 3:
            return ast.SmtpDecl(_cover(children), nodes[0], nodes[1], nodes[2][0])
        return ast.SmtpDecl(_cover(children), None, None, nodes[0][0])

    def lang(self, children: list[Any]) -> ast.Name:
        name: ast.Name = _nodes(children)[0]
        return name

    def rule(self, children: list[Any]) -> ast.Rule:
        target = children[0]
        rest = children[1:]
        lang = rest.pop(0) if isinstance(rest[0], ast.Name) else None
        # rest: EQ, expr, [WHEN, condition]
        expr = rest[1]
        when = rest[3] if len(rest) > 3 else None
        return ast.Rule(_cover(children), target, lang, expr, when)

    def start(self, children: list[Any]) -> list[Any]:
        return _nodes(children)


# --- comments ------------------------------------------------------------------------------------


def _comments(text: str, path: str) -> list[ast.Comment]:
    """Every `#` comment with its position; strings never span lines, so a line scan is exact."""
    found: list[ast.Comment] = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        if "#" not in line:
            continue
        in_string = False
        i = 0
        while i < len(line):
            ch = line[i]
            if in_string:
                if ch == "\\":
                    i += 1
                elif ch == '"':
                    in_string = False
            elif ch == '"':
                in_string = True
            elif ch == "#":
                body = line[i:].rstrip("\r")
                span = Span(path, lineno, i + 1, lineno, i + 1 + len(body))
                found.append(ast.Comment(span, body, own_line=not line[:i].strip()))
                break
            i += 1
    return found


# --- syntax errors in words ----------------------------------------------------------------------

_WORDS = {
    "NAME": "a name",
    "STRING": 'a text in double quotes ("...")',
    "NUMBER": "a number",
    "_NL": "the end of the line",
    "$END": "the end of the file",
    "EQ": "'='",
    "EQEQ": "'=='",
    "NE": "'!='",
    "LE": "'<='",
    "GE": "'>='",
    "LT": "'<'",
    "GT": "'>'",
    "COMMA": "','",
    "DOT": "'.'",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
}
_KEYWORDS = "firm role kind extends audience smtp env free else when and or not in true false".split()
for _kw in _KEYWORDS:
    _WORDS[_kw.upper()] = f"'{_kw}'"

# Groups of terminals that, expected together, read better as one word; tried in this order.
_GROUPS: list[tuple[set[str], str, set[str]]] = [
    # (must all be expected, description, also covered)
    ({"FIRM", "ROLE", "KIND"}, "a rule or a declaration", {"AUDIENCE", "SMTP", "NAME"}),
    ({"FREE"}, "an address source", {"NAME", "STRING", "LPAR"}),
    ({"NOT", "NUMBER"}, "a condition", {"NAME", "STRING", "TRUE", "FALSE", "LSQB", "LPAR"}),
    ({"ENV", "NUMBER"}, "a value", {"NAME", "STRING", "TRUE", "FALSE", "LSQB"}),
    ({"NUMBER", "STRING"}, "a value", {"TRUE", "FALSE", "LSQB"}),
    ({"EQEQ"}, "a comparison", {"NE", "LE", "GE", "LT", "GT", "IN", "NOT"}),
]


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]


def describe_expected(expected: set[str]) -> str:
    """Put a set of expected terminal names into words (`an address source or '('`)."""
    left = set(expected)
    words: list[str] = []
    for needed, word, covered in _GROUPS:
        if needed <= left:
            if word not in words:
                words.append(word)
            left -= needed | covered
    # After a name the parser always accepts a `.`; saying so helps nobody.
    if words or len(left) > 1:
        left.discard("DOT")
    if "EQ" in left:
        left.discard("LSQB")
    order = list(_WORDS)
    ranked = sorted(left, key=lambda t: (order.index(t) if t in order else len(order), t))
    words.extend(_WORDS.get(t, t) for t in ranked)
    return _join(words)


def _describe_token(tok: Token) -> str:
    if tok.type == "NAME":
        return f"name '{tok}'"
    if tok.type == "STRING":
        return f"text {tok}"
    if tok.type == "NUMBER":
        return f"number {tok}"
    if tok.type == "_NL":
        return "end of line"
    if tok.type == "$END":
        return "end of file"
    return f"'{tok}'"


def _tokens_before(text: str, index: int) -> list[Token]:
    """The post-lexed tokens that start before INDEX (for the error path only)."""
    out: list[Token] = []
    try:
        for tok in _lark().lex(text):
            if tok.start_pos is None or tok.start_pos >= index or not str(tok):
                break
            out.append(tok)
    except UnexpectedInput:
        pass
    return out


def _string_problem(text: str, index: int, path: str) -> Diagnostic:
    """The diagnostic for a `"` the lexer could not read: unterminated, or a bad escape inside."""
    j = index + 1
    while j < len(text) and text[j] not in "\r\n":
        if text[j] == "\\":
            nxt = text[j + 1] if j + 1 < len(text) else ""
            if nxt in ('"', "\\"):
                j += 2
                continue
            line, col = position(text, j)
            shown = {"\n": "\\n", "\r": "\\r", "": ""}.get(nxt, nxt)
            return Diagnostic(
                "MP003",
                f"unknown escape '\\{shown}' in a string",
                Span(path, line, col, line, col + 2),
                help=['a string knows only the escapes \\" and \\\\'],
            )
        if text[j] == '"':
            break
        j += 1
    line, col = position(text, index)
    return Diagnostic(
        "MP002",
        "unterminated string",
        Span(path, line, col, line, col + 1),
        help=['add the closing " on the same line: a string cannot hold a line break'],
    )


def _syntax_diagnostic(text: str, path: str, exc: UnexpectedInput) -> Diagnostic:
    if isinstance(exc, UnexpectedCharacters):
        index = exc.pos_in_stream or 0
        if exc.char == '"':
            return _string_problem(text, index, path)
        line, col = exc.line, exc.column
        helps: list[str] = []
        if exc.char == "\\":
            helps.append("there is no line continuation: break a long expression inside ( ) instead")
        shown = exc.char if exc.char.isprintable() else f"U+{ord(exc.char):04X}"
        return Diagnostic(
            "MP004", f"unexpected character '{shown}'", Span(path, line, col, line, col + 1), help=helps
        )
    assert isinstance(exc, UnexpectedToken)
    tok = exc.token
    if tok.type == "_NL" and not str(tok):
        # The newline the post-lexer adds after the last statement: really the end of the file.
        tok = Token.new_borrow_pos("$END", "", tok)
    index = tok.start_pos if tok.start_pos is not None else len(text)
    if tok.type == "$END":
        index = len(text)
    before = _tokens_before(text, index)
    prev = before[-1] if before else None
    open_brackets = sum(1 for t in before if t.type in _BRACKETS_OPEN) - sum(
        1 for t in before if t.type in _BRACKETS_CLOSE
    )
    expected_set = set(exc.expected)
    if open_brackets <= 0:
        # LALR states are shared between nesting levels; a ')' is only worth naming inside one.
        expected_set -= _BRACKETS_CLOSE
    expected = describe_expected(expected_set)
    after_word = prev is not None and prev.type not in ("NAME", "STRING", "NUMBER", "_NL")
    if after_word and tok.type in ("_NL", "$END"):
        message = f"expected {expected} after '{prev}'"
    else:
        message = f"unexpected {_describe_token(tok)}: expected {expected}"
    helps = []
    stack: list[Token] = []
    for t in before:
        if t.type in _BRACKETS_OPEN or t.type == "LBRACE":
            stack.append(t)
        elif (t.type in _BRACKETS_CLOSE or t.type == "RBRACE") and stack:
            stack.pop()
    # Inside a block the `{` is open on purpose; it only matters when the file ends first.
    later_line = stack and stack[-1].type != "LBRACE" and (tok.line or 0) > (stack[-1].line or 0)
    if stack and (tok.type == "$END" or later_line):
        opener = stack[-1]
        helps.append(f"the '{opener}' at line {opener.line}, column {opener.column} is never closed")
    if prev is not None and prev.type == "LBRACE":
        helps.append("'{' ends its line: put each setting on a line of its own")
    if tok.type in ("_NL", "$END"):
        line, col = position(text, min(index, len(text)))
        if tok.type == "$END" or not str(tok):
            # Point just after the last token rather than at the empty end of the file.
            last = next((t for t in reversed(before) if t.type != "_NL"), None)
            if last is not None:
                line, col = last.end_line or line, last.end_column or col
        span = Span(path, line, col, line, col + 1)
    else:
        span = _tok_span(path, tok)
    return Diagnostic("MP001", message, span, help=helps)


# --- recovery: more than one syntax error per file ------------------------------------------------

# After this many syntax errors the parser stops: the rest is likely noise.
MAX_SYNTAX_ERRORS = 20

_STRING_OR_COMMENT = re.compile(r'"(?:[^"\\\n]|\\.)*"?|#[^\n]*')


def _error_index(text: str, exc: UnexpectedInput) -> int | None:
    """Where the error is, as a text index; None at the end of the file (nothing to skip)."""
    if isinstance(exc, UnexpectedCharacters):
        return exc.pos_in_stream or 0
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END" or (tok.type == "_NL" and not str(tok)) or tok.start_pos is None:
            return None
        return int(tok.start_pos)
    return None


def _recovery_region(text: str, exc: UnexpectedInput) -> tuple[int, int] | None:
    """The text of the statement that failed, to be blanked before parsing on; None to stop.

    A statement is skipped up to the end of the line of the error; a block it opens is skipped
    up to its closing brace; inside a block only the failing setting's line. Inside an open ( or [
    the end of the statement is unknowable, so recovery stops rather than report follow-up noise.
    """
    index = _error_index(text, exc)
    if index is None or (isinstance(exc, UnexpectedCharacters) and exc.char == "\\"):
        # At the end there is nothing left; after a `\` the next line was meant to continue this one.
        return None
    before = _tokens_before(text, index)
    stack: list[Token] = []
    statement_start = 0
    for t in before:
        if t.type in _BRACKETS_OPEN or t.type == "LBRACE":
            stack.append(t)
        elif (t.type in _BRACKETS_CLOSE or t.type == "RBRACE") and stack:
            stack.pop()
        elif t.type == "_NL" and not stack:
            statement_start = t.end_pos or 0
    if any(t.type in _BRACKETS_OPEN for t in stack):
        return None
    line_start = text.rfind("\n", 0, index) + 1
    if stack:  # inside a block: drop just this setting's line
        statement_start = line_start
    else:
        statement_start = text.rfind("\n", 0, statement_start + 1) + 1 if statement_start else 0
    line_end = text.find("\n", index)
    end = len(text) if line_end < 0 else line_end
    # A `{` opened on the skipped lines (outside strings and comments) takes its block along.
    skipped = _STRING_OR_COMMENT.sub("", text[statement_start:end])
    if not stack and skipped.count("{") > skipped.count("}"):
        pos = end
        while pos < len(text):
            nxt = text.find("\n", pos + 1)
            line = _STRING_OR_COMMENT.sub("", text[pos + 1 : len(text) if nxt < 0 else nxt]).strip()
            pos = len(text) if nxt < 0 else nxt
            if line.startswith("}") or line.endswith("}"):
                break
        else:
            return None
        end = pos
    if end <= statement_start:
        return None
    return statement_start, end


def _blank(text: str, start: int, end: int) -> str:
    """TEXT with [start, end) turned into spaces, line breaks kept, so positions stay put."""
    return text[:start] + re.sub(r"[^\n]", " ", text[start:end]) + text[end:]


# --- entry point ---------------------------------------------------------------------------------


def parse_policy(text: str, path: str) -> ast.Policy:
    """Parse policy TEXT (read from PATH, used in spans) into an AST; DiagnosticError on bad syntax."""
    if len(text) > MAX_POLICY_BYTES:
        decode_policy(text.encode("utf-8"), path)  # raises MP007 with the byte size
    nul = text.find("\x00")
    if nul >= 0:
        line, col = position(text, nul)
        raise DiagnosticError(
            [
                Diagnostic(
                    "MP006",
                    "the file holds a NUL character; a policy is plain text",
                    Span(path, line, col, line, col + 1),
                )
            ]
        )
    token = _CURRENT_PATH.set(path)
    errors: list[Diagnostic] = []
    current = text
    try:
        while True:
            try:
                statements: list[ast.Statement] = _lark().parse(current)  # type: ignore[assignment]
                break
            except UnexpectedInput as exc:
                errors.append(_syntax_diagnostic(current, path, exc))
                region = None if len(errors) >= MAX_SYNTAX_ERRORS else _recovery_region(current, exc)
                if region is None:
                    break
                # Blank the failed statement and parse again, to report the next error too.
                current = _blank(current, *region)
    finally:
        _CURRENT_PATH.reset(token)
    if errors:
        raise DiagnosticError(errors)
    return ast.Policy(path=path, statements=statements, comments=_comments(text, path), source=text)

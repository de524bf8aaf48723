"""The typed syntax tree of a policy file: small dataclass nodes, each with its source span.

The parser builds these nodes without recursion, so a deeply nested input yields a deep tree rather
than a crash; every expression node records its `depth` so that later stages can refuse trees
deeper than `MAX_NESTING` before they walk them recursively.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mailpolicy.diagnostics import Span

# Deepest nesting of parentheses / `not` / lists the compiler accepts in one expression. Real
# policies nest two or three levels; the bound lets the compiler and the runtime walk expressions
# recursively without ever approaching Python's recursion limit.
MAX_NESTING = 64


@dataclass(eq=False)
class Node:
    """Base of every node: where it stands in the policy file."""

    span: Span


@dataclass(eq=False)
class Name(Node):
    """A dotted name as written (`document.dunning_emails`, `notification.failed_task.to`)."""

    parts: tuple[str, ...]
    part_spans: tuple[Span, ...] = ()

    @property
    def text(self) -> str:
        """The name with its dots, as written."""
        return ".".join(self.parts)


# --- literals ------------------------------------------------------------------------------------


@dataclass(eq=False)
class StringLit(Node):
    """A double-quoted string; `value` is decoded, `offsets[i]` is the source column of value[i]."""

    value: str
    offsets: tuple[int, ...] = ()
    depth: int = 1


@dataclass(eq=False)
class NumberLit(Node):
    """A number as written (`587`, `-12.5`); `value` is an int when it has no decimal point."""

    value: int | float
    depth: int = 1


@dataclass(eq=False)
class BoolLit(Node):
    """`true` or `false`."""

    value: bool
    depth: int = 1


@dataclass(eq=False)
class ListLit(Node):
    """`[literal, ...]`."""

    items: list[LiteralNode]
    depth: int = 1


LiteralNode = StringLit | NumberLit | BoolLit | ListLit


# --- address expressions -------------------------------------------------------------------------


@dataclass(eq=False)
class SourceRef(Node):
    """A named address source or role (`sender`, `responsible`, `document.dunning_emails`)."""

    name: Name
    depth: int = 1


@dataclass(eq=False)
class FreeAddress(Node):
    """`free "a@b.be"`: a fixed address; `address` is the string node."""

    address: StringLit
    depth: int = 1


@dataclass(eq=False)
class TextTerm(Node):
    """A string where an expression stands (subjects, display names, template paths)."""

    text: StringLit
    depth: int = 1


@dataclass(eq=False)
class Else(Node):
    """`a else b else c`: the first term that yields at least one address."""

    terms: list[AddressExpr]
    depth: int = 1


@dataclass(eq=False)
class Union_(Node):
    """`a, b`: every item, in order, duplicates removed."""

    items: list[AddressExpr]
    depth: int = 1


@dataclass(eq=False)
class Group(Node):
    """`( expression )`, kept so that spans and nesting depth stay visible."""

    inner: AddressExpr
    depth: int = 1


AddressExpr = SourceRef | FreeAddress | TextTerm | Else | Union_ | Group


# --- conditions ----------------------------------------------------------------------------------


@dataclass(eq=False)
class PathRef(Node):
    """A dotted data path in a condition (`relation.family`)."""

    name: Name
    depth: int = 1


@dataclass(eq=False)
class Or(Node):
    """`a or b or ...`."""

    args: list[Condition]
    depth: int = 1


@dataclass(eq=False)
class And(Node):
    """`a and b and ...`."""

    args: list[Condition]
    depth: int = 1


@dataclass(eq=False)
class Not(Node):
    """`not a`."""

    arg: Condition
    depth: int = 1


@dataclass(eq=False)
class Compare(Node):
    """`left OP right` with OP one of `== != < <= > >= in`, `not in`; `op_span` is the operator's."""

    op: str
    left: Condition
    right: Condition
    op_span: Span | None = None
    depth: int = 1


@dataclass(eq=False)
class CondGroup(Node):
    """`( condition )`."""

    inner: Condition
    depth: int = 1


Condition = PathRef | StringLit | NumberLit | BoolLit | ListLit | Or | And | Not | Compare | CondGroup


# --- statements ----------------------------------------------------------------------------------


@dataclass(eq=False)
class EnvRef(Node):
    """`env "VAR"`: a value read from the environment at send time."""

    var: StringLit


@dataclass(eq=False)
class Word(Node):
    """A bare word as a setting value (`security = starttls`)."""

    name: Name


SettingValue = StringLit | NumberLit | BoolLit | ListLit | EnvRef | Word


@dataclass(eq=False)
class Setting(Node):
    """`name = value` inside a `firm` or `smtp` block; `name_span` is the setting name's."""

    name: str
    name_span: Span
    value: SettingValue


@dataclass(eq=False)
class FirmDecl(Node):
    """`firm { ... }`."""

    settings: list[Setting]


@dataclass(eq=False)
class RoleDecl(Node):
    """`role NAME`."""

    name: Name


@dataclass(eq=False)
class KindDecl(Node):
    """`kind NAME [extends PARENT]`."""

    name: Name
    parent: Name | None


@dataclass(eq=False)
class AudienceDecl(Node):
    """`audience NAME = CONDITION`."""

    name: Name
    condition: Condition


@dataclass(eq=False)
class SmtpDecl(Node):
    """`smtp { ... }` (the firm's server) or `smtp WORD USER { ... }` (a user's; WORD is `sender`)."""

    word: Name | None
    user: Name | None
    settings: list[Setting]


@dataclass(eq=False)
class Rule(Node):
    """`[KIND.]FIELD[[LANG]] = EXPRESSION [when CONDITION]`; `target` is the whole dotted name."""

    target: Name
    lang: Name | None
    expr: AddressExpr
    when: Condition | None


Statement = FirmDecl | RoleDecl | KindDecl | AudienceDecl | SmtpDecl | Rule


@dataclass(eq=False)
class Comment(Node):
    """A `#` comment, kept for the formatter; `text` includes the `#`."""

    text: str
    own_line: bool = False


@dataclass(eq=False)
class Policy:
    """A parsed policy file: its statements in source order, its comments, and its text."""

    path: str
    statements: list[Statement]
    comments: list[Comment] = field(default_factory=list)
    source: str = ""

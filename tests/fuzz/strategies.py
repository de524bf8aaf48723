"""Hypothesis strategies for policies: valid text built from `mailpolicy/dsl/grammar.lark`, then mutated.

`policies()` draws syntactically valid policies, mostly with the names the compiler knows (so the
checks run deep) and sometimes with made-up ones. `mutated_policies()` damages them the way
editors, merges and broken exports do: deleting, inserting or duplicating spans, and splicing in
random bytes (which may leave the file non-UTF-8 or put a NUL in it).
"""

from __future__ import annotations

from hypothesis import strategies as st

from mailpolicy.compiler import builtins

RESERVED = frozenset(
    "firm role kind extends audience smtp env free else when and or not in true false".split()
)
KINDS = [
    "invoice",
    "task",
    "reminder",
    "welcome",
    "notification",
    "notification.failed_task",
    "notification.message",
    "mailing",
    "credit_note",
]
ADDRESS_FIELDS = list(builtins.ADDRESS_FIELDS)
TEXT_FIELDS = list(builtins.TEXT_FIELDS)
# Every source and built-in role, plus a role the generated policies may or may not declare.
SOURCES = [*builtins.SOURCES, *builtins.BUILTIN_ROLES, "tax_advisor"]
PATHS = [
    "relation.accepts_promotional",
    "relation.family",
    "relation.language",
    "relation.attributes.segment",
    "document.amount",
    "document.date",
    "document.kind",
    "sender.id",
]
PLACEHOLDERS = [
    "firm.name",
    "relation.name",
    "document.number",
    "document.date | long",
    "document.amount | money",
]

_name = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).filter(lambda n: n not in RESERVED)
# After a `.`, any word is a name, reserved words included (`document.kind`).
_word = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)


@st.composite
def dotted(draw: st.DrawFn) -> str:
    """A NAME followed by `.word` segments (the first word never reserved)."""
    first = draw(_name)
    rest = draw(st.lists(_word, max_size=2))
    return ".".join([first, *rest])


def _quote(text: str) -> str:
    """TEXT as a policy string literal (only `\\"` and `\\\\` are escapes)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# Any text without a raw line break (the only thing a string cannot hold), escapes included.
_string_body = st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00"), max_size=20)
string = _string_body.map(_quote)


@st.composite
def template_text(draw: st.DrawFn) -> str:
    """A subject or display name, with placeholders most of the time."""
    pieces = draw(
        st.lists(
            st.one_of(
                _string_body.filter(lambda s: "{{" not in s and "}}" not in s),
                st.sampled_from(PLACEHOLDERS).map(lambda p: "{{ " + p + " }}"),
            ),
            max_size=4,
        )
    )
    return _quote("".join(pieces))


number = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.decimals(-(10**6), 10**6, places=2, allow_nan=False, allow_infinity=False).map(str),
)
address = st.sampled_from(
    ["office@firm.be", "direction@dupont-associes.be", "x@example.org", "not an address"]
)


def literal(depth: int = 0) -> st.SearchStrategy[str]:
    """A literal: string, number, true/false, or a list of literals."""
    scalar = st.one_of(string, number, st.sampled_from(["true", "false"]))
    if depth >= 2:
        return scalar
    items = st.lists(literal(depth + 1), max_size=3)
    lists = st.builds(
        lambda xs, trailing: "[" + ", ".join(xs) + ("," if xs and trailing else "") + "]",
        items,
        st.booleans(),
    )
    return st.one_of(scalar, lists)


def _sep(draw: st.DrawFn, inside: bool) -> str:
    # Newlines are ignored inside ( ) and [ ]: sometimes break a long expression there.
    return draw(st.sampled_from([" ", " ", " ", "\n  "])) if inside else " "


@st.composite
def address_expr(draw: st.DrawFn, depth: int = 0, inside: bool = False) -> str:
    """`chain (, chain)*` where `chain := term (else term)*`."""

    def term() -> str:
        choice = draw(st.integers(0, 9 if depth < 3 else 7))
        if choice <= 5:
            return draw(st.one_of(st.sampled_from(SOURCES), dotted()))
        if choice == 6:
            return "free " + _quote(draw(address))
        if choice == 7:
            return draw(string)
        return "(" + draw(address_expr(depth + 1, True)) + ")"

    chains = []
    for _ in range(draw(st.integers(1, 3))):
        terms = [term() for _ in range(draw(st.integers(1, 3)))]
        chains.append((_sep(draw, inside) + "else ").join(terms))
    return ("," + _sep(draw, inside)).join(chains)


@st.composite
def condition(draw: st.DrawFn, depth: int = 0, inside: bool = False) -> str:
    """`or` of `and` of `not`* comparisons; operands are paths, literals or ( condition )."""

    def operand() -> str:
        choice = draw(st.integers(0, 6 if depth < 3 else 5))
        if choice <= 2:
            return draw(st.one_of(st.sampled_from(PATHS), dotted()))
        if choice <= 5:
            return draw(literal())
        return "(" + draw(condition(depth + 1, True)) + ")"

    def comparison() -> str:
        left = operand()
        if draw(st.booleans()):
            op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in"]))
            return f"{left} {op} {operand()}"
        return left

    def negation() -> str:
        return "not " * draw(st.integers(0, 2)) + comparison()

    ors = []
    for _ in range(draw(st.integers(1, 3))):
        ands = [negation() for _ in range(draw(st.integers(1, 3)))]
        ors.append((_sep(draw, inside) + "and ").join(ands))
    return (_sep(draw, inside) + "or ").join(ors)


@st.composite
def rule(draw: st.DrawFn) -> str:
    """`[KIND.]FIELD[[LANG]] = VALUE [when CONDITION]` with a value fit for the field."""
    kind = draw(st.one_of(st.none(), st.sampled_from(KINDS)))
    field = draw(st.sampled_from([*ADDRESS_FIELDS, *TEXT_FIELDS, "template", "attach", "colour"]))
    target = field if kind is None else f"{kind}.{field}"
    lang = draw(st.sampled_from(["", "", "", "[nl]", "[fr]", "[xx]"]))
    if field in TEXT_FIELDS:
        value = draw(template_text())
    elif field == "template":
        value = _quote(
            draw(st.sampled_from(["templates/invoice.mjml", "../outside.mjml", "/etc/passwd", "t.mjml"]))
        )
    elif field == "attach":
        value = draw(st.sampled_from(["document.file", "none", "relation.name"]))
    else:
        value = draw(address_expr())
    when = " when " + draw(condition()) if draw(st.integers(0, 3)) == 0 else ""
    return f"{target}{lang} = {value}{when}"


@st.composite
def firm_block(draw: st.DrawFn) -> str:
    """A firm block; settings may be missing, unknown or of the wrong type."""
    settings = {
        "name": _quote("Cabinet Dupont & Associés"),
        "company": _quote("info@dupont-associes.be"),
        "platform": _quote("inbox@mailer.example"),
        "verified_domains": '["dupont-associes.be"]',
        "language": _quote(draw(st.sampled_from(["fr", "nl", "xx"]))),
    }
    chosen = draw(st.lists(st.sampled_from(sorted(settings)), unique=True, min_size=3))
    lines = [f"  {key} = {settings[key]}" for key in chosen]
    if draw(st.booleans()):
        lines.append(f"  {draw(_name)} = {draw(literal())}")
    return "firm {\n" + "\n".join(lines) + "\n}"


@st.composite
def smtp_block(draw: st.DrawFn) -> str:
    """An smtp block (firm-wide or per sender) with env references and sometimes a literal password."""
    head = draw(st.sampled_from(["smtp", "smtp sender jan", "smtp user jan"]))
    password = draw(st.sampled_from(['env "SMTP_PASSWORD"', '"hunter2"', 'env "1BAD"']))
    security = draw(st.sampled_from(["starttls", "tls", "none", "ssl"]))
    return (
        f'{head} {{\n  host = "smtp.example.org"\n  port = {draw(st.integers(-1, 70000))}\n'
        f'  security = {security}\n  login = env "SMTP_LOGIN"\n  password = {password}\n}}'
    )


statement = st.one_of(
    rule(),
    rule(),
    rule(),
    _name.map(lambda n: f"role {n}"),
    st.builds(
        lambda k, p: f"kind {k}" + (f" extends {p}" if p else ""),
        dotted(),
        st.one_of(st.none(), st.sampled_from(KINDS), dotted()),
    ),
    st.builds(lambda n, c: f"audience {n} = {c}", _name, condition()),
    smtp_block(),
)


@st.composite
def policies(draw: st.DrawFn) -> str:
    """A syntactically valid policy: a firm block (usually), statements, comments, blank lines."""
    lines = []
    if draw(st.integers(0, 9)) > 0:
        lines.append(draw(firm_block()))
    for stmt in draw(st.lists(statement, max_size=8)):
        if draw(st.integers(0, 5)) == 0:
            lines.append("# " + draw(_string_body))
        lines.append(stmt + draw(st.sampled_from(["", "", "  # comment"])))
        if draw(st.integers(0, 5)) == 0:
            lines.append("")
    newline = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    return newline.join(lines) + draw(st.sampled_from(["", newline]))


_junk_text = st.one_of(
    st.sampled_from(
        [
            "(",
            ")",
            "[",
            "]",
            "{",
            "}",
            '"',
            "\\",
            ",",
            "=",
            "==",
            " else ",
            " when ",
            " not ",
            "\n",
            "#",
            ".",
            "{{",
        ]
    ),
    st.text(max_size=8),
)


@st.composite
def mutated_policies(draw: st.DrawFn) -> bytes:
    """A valid policy's bytes after 1-4 mutations: delete, insert or duplicate a span, splice random bytes."""
    data = draw(policies()).encode("utf-8")
    for _ in range(draw(st.integers(1, 4))):
        size = len(data)
        start = draw(st.integers(0, size))
        end = draw(st.integers(start, min(size, start + 40)))
        action = draw(st.sampled_from(["delete", "insert", "duplicate", "bytes"]))
        if action == "delete":
            data = data[:start] + data[end:]
        elif action == "insert":
            data = data[:start] + draw(_junk_text).encode("utf-8") + data[start:]
        elif action == "duplicate":
            data = data[:end] + data[start:end] + data[end:]
        else:
            data = data[:start] + draw(st.binary(min_size=1, max_size=6)) + data[end:]
    return data


# --- sound policies: meant to compile, so that the runtime gets fuzzed too -----------------------

SOUND_KINDS = ["general", "invoice", "task", "reminder", "welcome", "notification", "mailing"]
SOUND_SOURCES = [
    "sender",
    "company",
    "functional",
    "platform",
    "contact",
    "dunning",
    "recipient",
    "client_group",
    "responsible",
    "partner",
    "file_manager",
    "none",
    'free "office@dupont-associes.be"',
    'free "direction@firm.be"',
]
SOUND_TEXT = ["{{ firm.name }}", "{{ relation.name }}", "{{ relation.id }}", " - ", "Facture ", "é", '\\"']
SOUND_CONDITIONS = [
    "relation.accepts_promotional",
    'relation.family == "garage"',
    'relation.language in ["fr", "nl"]',
    'relation.attributes.segment == "vip"',
    "relation.accepts_promotional == true",
]


@st.composite
def sound_condition(draw: st.DrawFn, depth: int = 0) -> str:
    """A condition over typed paths with literals of the right type."""
    if depth < 2 and draw(st.integers(0, 3)) == 0:
        op = draw(st.sampled_from([" and ", " or "]))
        return "(" + op.join(draw(st.lists(sound_condition(depth + 1), min_size=2, max_size=3))) + ")"
    return draw(st.sampled_from(["", "not "])) + draw(st.sampled_from(SOUND_CONDITIONS))


@st.composite
def sound_policies(draw: st.DrawFn) -> str:
    """A policy that compiles most of the time: known kinds, fields, sources and typed conditions."""
    lines = [
        "firm {",
        '  name = "Cabinet Dupont & Associés"',
        '  company = "info@dupont-associes.be"',
        '  functional = "noreply@dupont-associes.be"',
        '  platform = "inbox@mailer.example"',
        '  verified_domains = ["dupont-associes.be"]',
        "}",
    ]
    taken: set[tuple[str, str, str]] = set()
    for _ in range(draw(st.integers(0, 10))):
        kind = draw(st.sampled_from(SOUND_KINDS))
        field = draw(st.sampled_from(["reply_to", "to", "cc", "bcc", "from", "subject", "from_name"]))
        lang = draw(st.sampled_from(["", "", "nl"]))
        when = draw(st.one_of(st.none(), sound_condition()))
        if when is None:
            if (kind, field, lang) in taken:
                continue
            taken.add((kind, field, lang))
        if field in ("subject", "from_name"):
            value = '"' + "".join(draw(st.lists(st.sampled_from(SOUND_TEXT), max_size=4))) + '"'
        else:
            chains = draw(
                st.lists(
                    st.lists(st.sampled_from(SOUND_SOURCES), min_size=1, max_size=3), min_size=1, max_size=2
                )
            )
            value = ", ".join(" else ".join(chain) for chain in chains)
        target = field if kind == "general" else f"{kind}.{field}"
        suffix = f"[{lang}]" if lang else ""
        lines.append(f"{target}{suffix} = {value}" + (f" when {when}" if when else ""))
    return "\n".join(lines) + "\n"

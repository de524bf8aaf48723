"""The parser: the language of SPEC section 2 into typed nodes with spans, and syntax errors in words."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailpolicy.diagnostics import DiagnosticError
from mailpolicy.dsl import MAX_POLICY_BYTES, ast, decode_policy, parse_file, parse_policy


def parse_one(text: str) -> ast.Statement:
    """The single statement of TEXT."""
    (statement,) = parse_policy(text, "p.mail").statements
    return statement


def syntax_error(text: str) -> tuple[str, int, int, str, list[str]]:
    """(code, line, column, message, help) of the syntax error TEXT raises."""
    with pytest.raises(DiagnosticError) as info:
        parse_policy(text, "p.mail")
    (diag,) = info.value.diagnostics
    assert diag.span is not None
    return diag.code, diag.span.line, diag.span.column, diag.message, diag.help


def test_rule_with_kind_language_expression_and_condition() -> None:
    """`[KIND.]FIELD[[LANG]] = EXPRESSION when CONDITION`, every part with its span."""
    rule = parse_one("notification.failed_task.to[nl] = responsible, partner when document.amount >= -12.5\n")
    assert isinstance(rule, ast.Rule)
    assert rule.target.parts == ("notification", "failed_task", "to")
    assert rule.lang is not None and rule.lang.text == "nl"
    assert isinstance(rule.expr, ast.Union_)
    assert [t.name.text for t in rule.expr.items if isinstance(t, ast.SourceRef)] == [
        "responsible",
        "partner",
    ]
    assert isinstance(rule.when, ast.Compare)
    assert rule.when.op == ">="
    assert isinstance(rule.when.right, ast.NumberLit) and rule.when.right.value == -12.5
    assert (rule.span.line, rule.span.column, rule.span.end_column) == (1, 1, 85)
    assert (rule.when.right.span.column, rule.when.right.span.end_column) == (80, 85)


def test_else_binds_tighter_than_comma() -> None:
    """`a, b else c` is `a, (b else c)`."""
    rule = parse_one("cc = a, b else c\n")
    assert isinstance(rule, ast.Rule) and isinstance(rule.expr, ast.Union_)
    first, second = rule.expr.items
    assert isinstance(first, ast.SourceRef)
    assert isinstance(second, ast.Else) and len(second.terms) == 2


def test_condition_precedence_and_not_in() -> None:
    """or < and < not < comparison; `not in` is one operator."""
    rule = parse_one('x = a when not a.b or c.d and e.f not in ["x", 1, true]\n')
    assert isinstance(rule, ast.Rule) and isinstance(rule.when, ast.Or)
    left, right = rule.when.args
    assert isinstance(left, ast.Not)
    assert isinstance(right, ast.And)
    comparison = right.args[1]
    assert isinstance(comparison, ast.Compare) and comparison.op == "not in"
    assert isinstance(comparison.right, ast.ListLit)
    assert [i.value for i in comparison.right.items if not isinstance(i, ast.ListLit)] == ["x", 1, True]


def test_reserved_words_are_names_after_a_dot() -> None:
    """`document.kind`, `relation.in`: after a `.` every word is a name."""
    rule = parse_one('x = a when document.kind == "invoice" and relation.attributes.in\n')
    assert isinstance(rule, ast.Rule) and isinstance(rule.when, ast.And)
    first, second = rule.when.args
    assert isinstance(first, ast.Compare) and isinstance(first.left, ast.PathRef)
    assert first.left.name.text == "document.kind"
    assert isinstance(second, ast.PathRef) and second.name.text == "relation.attributes.in"


def test_reserved_word_cannot_start_a_name() -> None:
    """A reserved word as the first word of a name is a syntax error."""
    assert syntax_error("when = sender\n")[0] == "MP001"


def test_strings_know_only_two_escapes() -> None:
    """`\\"` and `\\\\` decode; each character keeps its source column."""
    rule = parse_one('subject = "a\\"b\\\\c"\n')
    assert isinstance(rule, ast.Rule) and isinstance(rule.expr, ast.TextTerm)
    assert rule.expr.text.value == 'a"b\\c'
    assert rule.expr.text.offsets[:5] == (12, 13, 15, 16, 18)


def test_newlines_ignored_inside_brackets_only() -> None:
    """A long expression may break inside ( ) and [ ]; blank and comment lines are ignored."""
    text = (
        "# header\n\n"
        "reminder.to = (recipient else\n"
        "   # a comment inside\n"
        "   dunning) when relation.family in [\n"
        '     "garage",\n'
        "  ]\n"
        "\n"
        "bcc = sender  # trailing"
    )
    policy = parse_policy(text, "p.mail")
    assert len(policy.statements) == 2
    assert [(c.text, c.span.line, c.span.column, c.own_line) for c in policy.comments] == [
        ("# header", 1, 1, True),
        ("# a comment inside", 4, 4, True),
        ("# trailing", 9, 15, False),
    ]


def test_hash_inside_a_string_is_no_comment() -> None:
    """Comments are found outside strings only."""
    policy = parse_policy('subject = "No #1" # real\n', "p.mail")
    assert [c.text for c in policy.comments] == ["# real"]


def test_declarations() -> None:
    """firm, role, kind extends, audience, smtp and smtp sender ID."""
    text = (
        "firm {\n"
        '  name = "Cabinet"\n'
        '  verified_domains = ["a.be",\n'
        '                      "b.be"]\n'
        "}\n"
        "role tax_advisor\n"
        "kind notification.payroll extends notification\n"
        "audience promo = relation.accepts_promotional\n"
        "smtp {\n"
        "  security = starttls\n"
        '  password = env "P" }\n'
        "smtp sender jan {\n"
        "}\n"
    )
    firm, role, kind, audience, smtp, sender = parse_policy(text, "p.mail").statements
    assert isinstance(firm, ast.FirmDecl) and [s.name for s in firm.settings] == ["name", "verified_domains"]
    assert isinstance(role, ast.RoleDecl) and role.name.text == "tax_advisor"
    assert isinstance(kind, ast.KindDecl) and kind.name.text == "notification.payroll"
    assert kind.parent is not None and kind.parent.text == "notification"
    assert isinstance(audience, ast.AudienceDecl) and isinstance(audience.condition, ast.PathRef)
    assert isinstance(smtp, ast.SmtpDecl) and smtp.word is None
    assert isinstance(smtp.settings[0].value, ast.Word)
    assert isinstance(smtp.settings[1].value, ast.EnvRef) and smtp.settings[1].value.var.value == "P"
    assert isinstance(sender, ast.SmtpDecl) and sender.word and sender.user
    assert (sender.word.text, sender.user.text) == ("sender", "jan")


def test_columns_count_code_points() -> None:
    """A name after non-ASCII text is located in code points, not bytes."""
    rule = parse_one('subject = "Crédit €" when sendr\n')
    assert isinstance(rule, ast.Rule) and isinstance(rule.when, ast.PathRef)
    assert rule.when.span.column == 27


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bcc = sender else\n", ("MP001", 1, 18, "expected an address source after 'else'", [])),
        ("bcc = sender,\n", ("MP001", 1, 14, "expected an address source after ','", [])),
        ("x = a when\n", ("MP001", 1, 11, "expected a condition after 'when'", [])),
        (
            "bcc = sender responsible\n",
            (
                "MP001",
                1,
                14,
                "unexpected name 'responsible': expected the end of the line, ',', 'else' or 'when'",
                [],
            ),
        ),
        ("bcc sender\n", ("MP001", 1, 5, "unexpected name 'sender': expected '='", [])),
        (
            "bcc = (a, b\ncc = x\n",
            (
                "MP001",
                2,
                1,
                "unexpected name 'cc': expected the end of the line, ',', ')', 'else' or 'when'",
                ["the '(' at line 1, column 7 is never closed"],
            ),
        ),
        (
            'firm {\n  name = "x"\n',
            (
                "MP001",
                2,
                13,
                "unexpected end of file: expected a name, the end of the line or '}'",
                ["the '{' at line 1, column 6 is never closed"],
            ),
        ),
        (
            "firm { name = 1 }\n",
            (
                "MP001",
                1,
                8,
                "unexpected name 'name': expected the end of the line",
                ["'{' ends its line: put each setting on a line of its own"],
            ),
        ),
        (
            "x = a \\\n  b\n",
            (
                "MP004",
                1,
                7,
                "unexpected character '\\'",
                ["there is no line continuation: break a long expression inside ( ) instead"],
            ),
        ),
        (
            'x = "abc\n',
            (
                "MP002",
                1,
                5,
                "unterminated string",
                ['add the closing " on the same line: a string cannot hold a line break'],
            ),
        ),
        (
            "x = a when a == 1 == 2\n",
            ("MP001", 1, 19, "unexpected '==': expected the end of the line, 'and' or 'or'", []),
        ),
    ],
)
def test_syntax_errors_in_words(text: str, expected: tuple[str, int, int, str, list[str]]) -> None:
    """Each syntax error names what was expected in words, where it happened."""
    assert syntax_error(text) == expected


def test_five_thousand_nested_parentheses_do_not_crash() -> None:
    """Deep nesting parses (no recursion limit); the depth is recorded for the compiler's bound."""
    text = "bcc = " + "(" * 5000 + "sender" + ")" * 5000 + "\nx = a when " + "not " * 5000 + "b\n"
    first, second = parse_policy(text, "p.mail").statements
    assert isinstance(first, ast.Rule) and first.expr.depth == 5001
    assert isinstance(second, ast.Rule) and second.when is not None and second.when.depth == 5001


def test_five_thousand_unclosed_parentheses_give_a_diagnostic() -> None:
    """Unbalanced deep nesting is a syntax error, not a crash."""
    code, line, column, message, helps = syntax_error("bcc = " + "(" * 5000 + "sender\n")
    assert (code, message) == ("MP001", "unexpected end of file: expected ')'")
    assert helps == ["the '(' at line 1, column 5006 is never closed"]


def test_not_utf8_is_located() -> None:
    """A byte that is not UTF-8 is MP005 at its line and column."""
    with pytest.raises(DiagnosticError) as info:
        decode_policy('bcc = sender\nsubject = "caf\xe9"\n'.encode("latin-1"), "p.mail")
    (diag,) = info.value.diagnostics
    assert (diag.code, diag.span and (diag.span.line, diag.span.column), diag.message) == (
        "MP005",
        (2, 15),
        "the file is not UTF-8 text (byte 0xe9 cannot be decoded)",
    )


def test_nul_byte() -> None:
    """A NUL character is MP006."""
    assert syntax_error("bcc = sender\x00\n")[:4] == (
        "MP006",
        1,
        13,
        "the file holds a NUL character; a policy is plain text",
    )


def test_too_large(tmp_path: Path) -> None:
    """A file over MAX_POLICY_BYTES is MP007, read without loading much more than the limit."""
    path = tmp_path / "big.mail"
    path.write_bytes(b"#" * (MAX_POLICY_BYTES + 10))
    with pytest.raises(DiagnosticError) as info:
        parse_file(path)
    assert info.value.diagnostics[0].code == "MP007"


def test_byte_order_mark_is_ignored() -> None:
    """A UTF-8 BOM is not part of the first statement."""
    text = decode_policy("\ufeffbcc = sender\n".encode(), "p.mail")
    assert isinstance(parse_one(text), ast.Rule)


def test_empty_and_comment_only_files() -> None:
    """Nothing to parse is a valid, empty policy."""
    assert parse_policy("", "p.mail").statements == []
    assert parse_policy("# only a comment", "p.mail").statements == []


def test_several_syntax_errors_are_reported_without_follow_ups() -> None:
    """After an error the parser skips the statement (a block's setting, a whole block) and goes on."""
    text = (
        "firm {\n"
        '  name = "x"\n'
        "  bad setting here\n"  # 3: inside the block, only this line is skipped
        '  company = "a@b.be"\n'
        "}\n"
        "bcc = sender else\n"  # 6
        "cc = partner responsible\n"  # 7
        "smtp sendr jan extra {\n"  # 8: the block it opens is skipped with it
        '  host = "x"\n'
        "}\n"
        'to = "abc\n'  # 11
        "reply_to = company\n"
        "x = (a,\n"  # 13: never closed; recovery stops here
        " b\n"
    )
    with pytest.raises(DiagnosticError) as info:
        parse_policy(text, "p.mail")
    found = [(d.code, d.span.line if d.span else 0) for d in info.value.diagnostics]
    assert found == [("MP001", 3), ("MP001", 6), ("MP001", 7), ("MP001", 8), ("MP002", 11), ("MP001", 14)]
    assert info.value.diagnostics[0].help == []
    assert info.value.diagnostics[-1].help == ["the '(' at line 13, column 5 is never closed"]

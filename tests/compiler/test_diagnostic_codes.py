"""One small bad policy per diagnostic code: its line, column, exact message and help are pinned."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mailpolicy.compiler import compile_text
from mailpolicy.diagnostics import Diagnostic, render_text

FIRM = """firm {
  name = "Cabinet"
  company = "info@firm.be"
  platform = "inbox@mailer.example"
  verified_domains = ["firm.be"]
}
"""

# code → (policy text, line, column, message, help lines)
CASES: dict[str, tuple[str, int, int, str, list[str]]] = {
    "MP001": ("bcc = sender else\n", 1, 18, "expected an address source after 'else'", []),
    "MP002": (
        'bcc = free "office@firm.be\n',
        1,
        12,
        "unterminated string",
        ['add the closing " on the same line: a string cannot hold a line break'],
    ),
    "MP003": (
        'subject = "a \\n b"\n',
        1,
        14,
        "unknown escape '\\n' in a string",
        ['a string knows only the escapes \\" and \\\\'],
    ),
    "MP004": ("bcc = sender; cc = partner\n", 1, 13, "unexpected character ';'", []),
    "MP101": (FIRM + "invoce.bcc = sender\n", 7, 1, "unknown kind 'invoce'", ["did you mean 'invoice'?"]),
    "MP102": (FIRM + "invoice.bc = sender\n", 7, 9, "unknown field 'bc'", ["did you mean 'bcc'?"]),
    "MP103": (
        FIRM + "reply_to = responsable else company\n",
        7,
        12,
        "unknown address source 'responsable'",
        ["did you mean 'responsible'?"],
    ),
    "MP104": (
        FIRM + 'invoice.subject = "Facture {{ document.numbr }}"\n',
        7,
        28,
        "unknown path 'document.numbr'",
        ["did you mean 'document.number'?"],
    ),
    "MP105": (
        FIRM.replace('  name = "Cabinet"\n', '  name = "Cabinet"\n  langage = "fr"\n'),
        3,
        3,
        "unknown firm setting 'langage'",
        ["did you mean 'language'?"],
    ),
    "MP106": (
        FIRM + "kind credit_note extends invoic\n",
        7,
        26,
        "'credit_note' extends the unknown kind 'invoic'",
        ["did you mean 'invoice'?"],
    ),
    "MP107": (
        FIRM + "kind a extends b\nkind b extends a\n",
        7,
        1,
        "the kinds a → b → a extend each other in a cycle",
        ["one of them must extend a kind outside the cycle, or nothing (then it extends general)"],
    ),
    "MP108": (FIRM + "role sender\n", 7, 6, "'sender' is already the name of a built-in address source", []),
    "MP109": (
        FIRM + "role tax_advisor\nrole tax_advisor\n",
        8,
        6,
        "role 'tax_advisor' is declared twice (first on line 7)",
        [],
    ),
    "MP110": (
        FIRM + 'invoice.subject[es] = "Factura"\n',
        7,
        17,
        "unknown language 'es': expected one of fr, nl, en, de",
        [],
    ),
    "MP111": (
        FIRM + 'invoice.subject = "{{ document.number | money }}"\n',
        7,
        20,
        "the format 'money' applies to a number, and 'document.number' is a text",
        [],
    ),
    "MP112": (
        FIRM + 'smtp sendr jan {\n  host = "smtp.gmail.com"\n}\n',
        7,
        6,
        "unknown word 'sendr' after smtp: expected 'smtp sender USER'",
        ["did you mean 'sender'?"],
    ),
    "MP201": (
        FIRM + 'invoice.bcc = free "office@firm"\n',
        7,
        20,
        "'office@firm' is not a valid address: The part after the @-sign is not valid. It should have a period.",  # noqa: E501
        [],
    ),
    "MP202": (
        FIRM + 'from = free "office@gmail.com"\n',
        7,
        13,
        "'office@gmail.com' is not on a verified domain, so it can never be the From address",
        [
            "verified domains: firm.be",
            "add its domain to verified_domains in the firm block once it is verified",
        ],
    ),
    "MP203": (
        FIRM + 'bcc = "office@firm.be"\n',
        7,
        7,
        "a text is not an address source",
        ['for a fixed address write: free "office@firm.be"'],
    ),
    "MP204": (
        FIRM.replace('"info@firm.be"', '"info at firm.be"'),
        3,
        13,
        "firm setting 'company' is not a valid address: An email address must have an @-sign.",
        [],
    ),
    "MP205": (
        FIRM.replace('  platform = "inbox@mailer.example"\n', ""),
        1,
        1,
        "the firm block lacks the required setting 'platform'",
        [],
    ),
    "MP206": (
        FIRM + 'smtp {\n  host = "smtp.firm.be"\n  password = "hunter2"\n}\n',
        9,
        14,
        "an SMTP password may not be written in the policy",
        ['read it from the environment: password = env "SMTP_PASSWORD"'],
    ),
    "MP207": (
        FIRM + 'smtp {\n  host = "smtp.firm.be"\n  security = startls\n}\n',
        9,
        14,
        "security takes one of starttls, tls, none",
        ["did you mean 'starttls'?"],
    ),
    "MP208": (
        FIRM + 'subject = "Facture {{ document.number"\n',
        7,
        20,
        "'{{' opens a placeholder that is never closed with '}}'",
        [],
    ),
    "MP301": (
        FIRM + "bcc = sender\ncc = partner\nbcc = responsible\n",
        9,
        1,
        "duplicate rule for 'bcc': line 7 already sets it unconditionally",
        ["line 7: bcc = sender", "remove one of them, or add 'when' to one to say when it applies"],
    ),
    "MP302": (
        FIRM + "from = reply_to\nreply_to = from else company\n",
        7,
        1,
        "'from' and 'reply_to' depend on each other in kind 'general'",
        ["line 7: from = reply_to", "line 8: reply_to = from else company"],
    ),
    "MP303": (
        FIRM + 'invoice.bcc = sender when document.amount >= "10000"\n',
        7,
        46,
        "'document.amount' is a number; it cannot be compared with the text \"10000\"",
        ["write the number without quotes: 10000"],
    ),
    "MP304": (
        FIRM + "bcc = " + "(" * 70 + "sender" + ")" * 70 + "\n",
        7,
        7,
        "this expression is nested 71 levels deep; the limit is 64",
        ["split it into simpler rules or audiences"],
    ),
    "MP401": (
        FIRM + 'invoice.template = "../outside.mjml"\n',
        7,
        20,
        "the template '../outside.mjml' leads outside the policy's folder",
        ["templates must live in the policy's folder or below it"],
    ),
    "MP402": (
        FIRM + 'invoice.template = "templates/invoic.mjml"\n',
        7,
        20,
        "template file not found: 'templates/invoic.mjml'",
        ["did you mean 'invoice.mjml'?"],
    ),
    "MP501": (
        FIRM + "reply_to = responsible\n",
        7,
        12,
        "this reply_to may resolve to nothing, and then replies go to company",
        ["end the chain with 'else company' (or a free address) to say so"],
    ),
}


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    """A policy folder with one real template, and a file just outside it."""
    folder = tmp_path / "policy"
    (folder / "templates").mkdir(parents=True)
    (folder / "templates" / "invoice.mjml").write_text(
        "<mjml><mj-body><mj-section><mj-column><mj-text>Hi</mj-text></mj-column></mj-section>"
        "</mj-body></mjml>\n",
        encoding="utf-8",
    )
    (tmp_path / "outside.mjml").write_text("<mjml></mjml>\n", encoding="utf-8")
    return folder


def diagnostics(text: str, policy_dir: Path, *, strict: bool = False) -> list[Diagnostic]:
    """The diagnostics of compiling TEXT as `policy.mail` in POLICY_DIR."""
    return compile_text(text, "policy.mail", policy_dir=policy_dir, strict=strict).diagnostics


@pytest.mark.parametrize("code", sorted(CASES))
def test_each_code_points_at_the_mistake(code: str, policy_dir: Path) -> None:
    """GIVEN a policy with one mistake WHEN compiled THEN exactly that diagnostic, placed and worded."""
    text, line, column, message, helps = CASES[code]
    found = diagnostics(text, policy_dir)
    assert [d.code for d in found] == [code]
    diag = found[0]
    assert diag.span is not None and (diag.span.line, diag.span.column) == (line, column)
    assert diag.message == message
    assert diag.help == helps
    assert diag.severity == ("warning" if code.startswith("MP5") else "error")


def test_documented_codes_match_the_code() -> None:
    """Every code pinned here is in docs/diagnostics.md, and every documented code is emitted."""
    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`(MP\d{3})`", doc))
    assert set(CASES) <= documented
    sources = "".join(p.read_text(encoding="utf-8") for p in (root / "mailpolicy").rglob("*.py"))
    assert sorted(code for code in documented if f'"{code}"' not in sources) == []


def test_text_rendering_of_a_suggestion(policy_dir: Path) -> None:
    """The text form: location, code, message, the source line, a caret under the name, help."""
    text = CASES["MP103"][0]
    (diag,) = diagnostics(text, policy_dir)
    assert render_text(diag, text) == (
        "policy.mail:7:12: error[MP103]: unknown address source 'responsable'\n"
        "  |\n"
        "7 | reply_to = responsable else company\n"
        "  |            ^^^^^^^^^^^\n"
        "  help: did you mean 'responsible'?"
    )


def test_missing_firm_block(policy_dir: Path) -> None:
    """A policy without a firm block says so once, at the top of the file."""
    (diag,) = diagnostics("bcc = sender\n", policy_dir)
    assert (diag.code, diag.message, diag.span and diag.span.line) == (
        "MP205",
        "the policy has no firm block",
        1,
    )


def test_all_errors_of_a_file_without_cascades(policy_dir: Path) -> None:
    """Several independent mistakes each give one diagnostic, in source order, and nothing else."""
    text = FIRM + (
        "kind credit_note extends invoic\n"  # 7: MP106, the kind still exists
        "credit_note.bcc = sendr\n"  # 8: MP103 only (the kind is known)
        'invoice.subject = "{{ document.numbr }}"\n'  # 9: MP104
        "invoce.cc = partner\n"  # 10: MP101
        "invoice.bcc = sender when relation.family == 3\n"  # 11: MP303
    )
    found = diagnostics(text, policy_dir)
    assert [(d.code, d.span.line if d.span else 0) for d in found] == [
        ("MP106", 7),
        ("MP103", 8),
        ("MP104", 9),
        ("MP101", 10),
        ("MP303", 11),
    ]


def test_kind_without_subject_warns_only_when_strict(policy_dir: Path) -> None:
    """MP502 appears with strict only, as a warning naming the kind."""
    text = FIRM + "invoice.bcc = sender\n"
    assert diagnostics(text, policy_dir) == []
    (diag,) = diagnostics(text, policy_dir, strict=True)
    assert (diag.code, diag.severity, diag.message, diag.help) == (
        "MP502",
        "warning",
        "kind 'invoice' has no subject and no template",
        ['add one, for example: invoice.subject = "..."'],
    )


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("relation.family", "'relation.family' is a text, not a yes/no value"),
        (
            'document.date < "2026-13-01"',
            "'document.date' is a date; it cannot be compared with the text \"2026-13-01\"",
        ),
        (
            'relation.accepts_promotional == "true"',
            "'relation.accepts_promotional' is a boolean; it cannot be compared with the text \"true\"",
        ),
        (
            'relation.emails == "a@b.be"',
            "'relation.emails' is a list of addresses; test membership with 'in'",
        ),
        ('relation.family in "garage"', '\'in\' needs a list on its right, like ["a", "b"]'),
        (
            'relation.family in [1, "x"]',
            "'relation.family' is a text; it cannot be compared with the number 1",
        ),
        ("true", "a condition needs a data path or a comparison, not a fixed value"),
    ],
)
def test_condition_type_errors(condition: str, message: str, policy_dir: Path) -> None:
    """Comparing a typed path with a literal of another type is MP303 (SPEC 2.5 types table)."""
    found = diagnostics(FIRM + f"invoice.bcc = sender when {condition}\n", policy_dir)
    assert [(d.code, d.message) for d in found] == [("MP303", message)]


@pytest.mark.parametrize(
    "condition",
    [
        'document.date >= "2026-01-01"',
        "relation.attributes.vip",
        'relation.attributes.size > 3 and relation.attributes.x == "y"',
        '"jan@firm.be" in relation.emails',
        'not (document.amount < -12.5 or document.currency != "EUR")',
        'relation.family not in ["garage", "leasing"]',
    ],
)
def test_well_typed_conditions_pass(condition: str, policy_dir: Path) -> None:
    """Dates with ISO texts, untyped attributes, membership in address lists: no diagnostic."""
    assert diagnostics(FIRM + f"invoice.bcc = sender when {condition}\n", policy_dir) == []


def test_template_symlink_escape_is_refused(policy_dir: Path) -> None:
    """A template path that stays inside lexically but leaves through a symlink is MP401."""
    (policy_dir / "link").symlink_to(policy_dir.parent)
    found = diagnostics(FIRM + 'invoice.template = "link/outside.mjml"\n', policy_dir)
    assert [(d.code, d.message) for d in found] == [
        (
            "MP401",
            "the template 'link/outside.mjml' leads outside the policy's folder through a symbolic link",
        )
    ]


def test_absolute_template_path_is_refused(policy_dir: Path) -> None:
    """An absolute template path is MP401 even when it points inside the folder."""
    absolute = policy_dir / "templates" / "invoice.mjml"
    found = diagnostics(FIRM + f'invoice.template = "{absolute}"\n', policy_dir)
    assert [d.code for d in found] == ["MP401"]
    assert found[0].message.endswith("is absolute; write it relative to the policy file")


def test_literal_from_on_a_subdomain_of_a_verified_domain_passes(policy_dir: Path) -> None:
    """A subdomain of a verified domain is verified too."""
    assert diagnostics(FIRM + 'from = free "billing@mail.firm.be" else company\n', policy_dir) == []


def test_cycle_through_an_inherited_rule(policy_dir: Path) -> None:
    """A cycle made of a general rule and a kind's own rule is reported in that kind."""
    text = FIRM + "from = sender else reply_to\ninvoice.reply_to = from else company\n"
    found = diagnostics(text, policy_dir)
    assert [(d.code, d.message) for d in found] == [
        ("MP302", "'from' and 'reply_to' depend on each other in kind 'invoice'")
    ]


def test_welcome_cc_from_is_no_cycle(policy_dir: Path) -> None:
    """The built-in `welcome.cc = from` with `from = sender else company` is no cycle."""
    assert diagnostics(FIRM + "from = sender else company\nreply_to = from else company\n", policy_dir) == []


def test_conditional_rules_are_no_duplicates(policy_dir: Path) -> None:
    """Only unconditional rules of the same kind, field and language collide."""
    text = FIRM + (
        'bcc = sender\nbcc = responsible when relation.family == "garage"\n'
        'invoice.subject = "A"\ninvoice.subject[nl] = "B"\n'
    )
    assert diagnostics(text, policy_dir) == []


def test_field_and_kind_swapped(policy_dir: Path) -> None:
    """`bcc.invoice` is one diagnostic that suggests `invoice.bcc`, not two unknown names."""
    found = diagnostics(FIRM + "bcc.invoice = sender\n", policy_dir)
    assert [(d.code, d.message, d.help) for d in found] == [
        ("MP102", "'invoice' is a kind, not a field: the kind comes first", ["did you mean 'invoice.bcc'?"])
    ]


def test_declarations_may_come_after_their_use(policy_dir: Path) -> None:
    """Roles, kinds and parents are known in the whole file, whatever the order."""
    text = (
        "payroll.to = tax_advisor else company\n"
        "kind payroll extends notification.hr\n"
        "kind notification.hr extends notification\n"
        "role tax_advisor\n" + FIRM
    )
    result = compile_text(text, "policy.mail", policy_dir=policy_dir)
    assert result.diagnostics == []
    assert result.table is not None
    kind = result.table["kinds"]["payroll"]
    assert kind == {"parent": "notification.hr", "declared": {"line": 2, "column": 1}}

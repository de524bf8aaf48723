"""Lint warnings and the emptiness guarantee over hand-built rule tables in the documented format.

The built-in defaults come from the runtime tests' tables (tests/runtime/tables.py); rules here
are dicts placed per kind and field, with a location for each term so that spans can be pinned.
"""

from __future__ import annotations

import copy
from typing import Any

from mailpolicy.compiler.lint import ALWAYS, NEVER, PolicyModel, check_emptiness, format_emptiness, lint_table
from tests.runtime.tables import BUILTIN_KINDS, BUILTIN_ROLES, FIRM, builtin_rules

Loc = dict[str, int] | None


def loc(line: int, column: int = 1) -> dict[str, int]:
    """A source location."""
    return {"line": line, "column": column}


def src(name: str, at: Loc = None) -> dict[str, Any]:
    """A source term."""
    return {"op": "source", "name": name, "loc": at}


def role(name: str, at: Loc = None) -> dict[str, Any]:
    """A role term."""
    return {"op": "role", "name": name, "loc": at}


def free(address: str, at: Loc = None) -> dict[str, Any]:
    """A free address term."""
    return {"op": "free", "address": address, "loc": at}


def else_(*terms: dict[str, Any], at: Loc = None) -> dict[str, Any]:
    """An else chain."""
    return {"op": "else", "terms": list(terms), "loc": at}


def union(*items: dict[str, Any], at: Loc = None) -> dict[str, Any]:
    """A union."""
    return {"op": "union", "items": list(items), "loc": at}


def rule(expr: dict[str, Any], line: int, *, when: dict[str, Any] | None = None, lang: str | None = None):  # type: ignore[no-untyped-def]
    """A policy rule written at LINE."""
    return {"lang": lang, "when": when, "expr": expr, "loc": loc(line)}


def ge(path: str, value: Any) -> dict[str, Any]:
    """`path >= value`."""
    return {"op": "cmp", "cmp": ">=", "left": {"path": path}, "right": {"value": value}}


def make_table(
    rules: dict[str, dict[str, list[dict[str, Any]]]] | None = None,
    *,
    roles: tuple[str, ...] = (),
    kinds: dict[str, tuple[str, Loc]] | None = None,
    firm: dict[str, Any] | None = None,
    audiences: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A table with the built-in defaults, policy RULES put before them in the order given."""
    table_rules = {k: {f: [rule] for f, rule in fields.items()} for k, fields in builtin_rules().items()}
    for kind, fields in (rules or {}).items():
        for fieldname, written in fields.items():
            existing = table_rules.setdefault(kind, {}).setdefault(fieldname, [])
            table_rules[kind][fieldname] = copy.deepcopy(written) + existing
    all_kinds = {k: {"parent": p, "declared": None} for k, p in BUILTIN_KINDS.items()}
    for name, (parent, at) in (kinds or {}).items():
        all_kinds[name] = {"parent": parent, "declared": at}
    # Without a communication address, so that `functional` and `communication` differ.
    base_firm = {**FIRM, "communication": None, **(firm or {})}
    return {
        "format": "mailpolicy-ruletable",
        "format_version": 1,
        "policy": "test.mail",
        "firm": base_firm,
        "roles": sorted({*BUILTIN_ROLES, *roles}),
        "kinds": all_kinds,
        "rules": table_rules,
        "audiences": audiences or {},
        "smtp": {"default": None, "senders": {}},
        "templates": {},
    }


# --- lint -------------------------------------------------------------------------------------


def lines(diags):  # type: ignore[no-untyped-def]
    """(code, line, column, message) per warning."""
    return [
        (d.code, d.span.line if d.span else None, d.span.column if d.span else None, d.message) for d in diags
    ]


def test_default_table_has_no_warnings() -> None:
    assert lint_table(make_table(), "p.mail") == []


def test_else_after_company_is_unreachable() -> None:
    table = make_table(
        {
            "general": {
                "reply_to": [rule(else_(src("company", loc(1, 12)), role("responsible", loc(1, 25))), 1)]
            }
        }
    )
    diags = lint_table(table, "p.mail")
    assert lines(diags) == [
        ("MP601", 1, 25, "`responsible` is never used: `company` always yields an address")
    ]
    assert diags[0].severity == "warning"
    assert diags[0].help == ["remove the terms after it, or put them first"]


def test_else_after_free_and_after_set_functional_is_unreachable() -> None:
    table = make_table(
        {
            "invoice": {
                "bcc": [
                    rule(
                        else_(
                            free("a@b.be", loc(2, 15)), src("sender", loc(2, 34)), src("partner", loc(2, 44))
                        ),
                        2,
                    )
                ]
            },
            "task": {"cc": [rule(else_(src("functional", loc(3, 11)), src("sender", loc(3, 27))), 3)]},
            # communication is not set for this firm: it may yield nothing, so `else` moves on.
            "welcome": {"bcc": [rule(else_(src("communication", loc(4, 15)), src("sender", loc(4, 34))), 4)]},
        }
    )
    assert lines(lint_table(table, "p.mail")) == [
        ("MP601", 2, 34, '`sender else partner` is never used: `free "a@b.be"` always yields an address'),
        ("MP601", 3, 27, "`sender` is never used: `functional` always yields an address"),
    ]


def test_from_chain_counts_only_verified_addresses() -> None:
    table = make_table(
        {
            # company is on the verified domain: `sender` after it is dead.
            "invoice": {"from": [rule(else_(src("company", loc(1, 16)), src("sender", loc(1, 27))), 1)]},
            # a gmail address never passes the verified-domain test, so `else` goes on: no MP601.
            "task": {"from": [rule(else_(free("me@gmail.com", loc(2, 13)), src("sender", loc(2, 36))), 2)]},
        }
    )
    assert lines(lint_table(table, "p.mail")) == [
        ("MP601", 1, 27, "`sender` is never used: `company` always yields a verified address"),
    ]


def test_from_chain_that_can_never_be_verified() -> None:
    table = make_table(
        {"invoice": {"from": [rule(else_(free("me@gmail.com", loc(5, 16)), src("platform", loc(5, 40))), 5)]}}
    )
    diags = lint_table(table, "p.mail")
    assert lines(diags) == [
        (
            "MP604",
            5,
            1,
            'no source of `invoice.from = free "me@gmail.com" else platform` can be on a verified domain '
            "(dupont-associes.be), so From is always the platform address",
        )
    ]


def test_rule_identical_to_the_inherited_one() -> None:
    chain = else_(role("responsible"), src("company"))
    table = make_table({"general": {"reply_to": [rule(chain, 3)]}, "invoice": {"reply_to": [rule(chain, 7)]}})
    assert lines(lint_table(table, "p.mail")) == [
        (
            "MP602",
            7,
            1,
            "`invoice.reply_to = responsible else company` has no effect: "
            "it repeats the rule of 'general' at line 3",
        )
    ]


def test_rule_identical_to_a_builtin_default() -> None:
    table = make_table({"general": {"reply_to": [rule(src("company", loc(1, 12)), 1)]}})
    assert lines(lint_table(table, "p.mail")) == [
        ("MP602", 1, 1, "`reply_to = company` has no effect: it repeats the built-in default of 'general'")
    ]


def test_identical_rule_is_not_redundant_when_a_language_or_condition_intervenes() -> None:
    chain = else_(role("responsible"), src("company"))
    table = make_table(
        {
            "general": {"reply_to": [rule(role("partner"), 2, lang="nl"), rule(chain, 3)]},
            "invoice": {"reply_to": [rule(chain, 7)]},
            "task": {"cc": [rule(src("sender"), 8)]},
            "welcome": {"cc": [rule(src("sender"), 9, when=ge("document.amount", 10))]},
        }
    )
    assert [d for d in lint_table(table, "p.mail") if d.code == "MP602"] == []


def test_unused_role_and_kind() -> None:
    source = "firm {\n}\nrole tax_advisor   # extra\nrole  auditor\nkind credit_note extends invoice\n"
    table = make_table(
        {"general": {"cc": [rule(role("auditor"), 6)]}},
        roles=("tax_advisor", "auditor"),
        kinds={"credit_note": ("invoice", loc(5)), "refund": ("credit_note", loc(9))},
    )
    table["rules"]["refund"] = {"subject": [{"lang": None, "when": None, "text": ["x"], "loc": loc(10)}]}
    diags = lint_table(table, "p.mail", source)
    assert lines(diags) == [
        ("MP603", 3, 6, "role 'tax_advisor' is declared but no rule uses it"),
    ]
    table["rules"].pop("refund")
    table["kinds"].pop("refund")
    assert lines(lint_table(table, "p.mail", source))[1] == (
        "MP603",
        5,
        1,
        "kind 'credit_note' is declared but no rule targets it and no kind extends it; "
        "it behaves exactly like 'invoice'",
    )


def test_client_group_in_to_of_a_mailing() -> None:
    table = make_table(
        {
            "mailing": {"to": [rule(src("client_group"), 4, when=ge("relation.attributes.size", 3))]},
            "invoice": {"to": [rule(src("client_group"), 5)]},  # not a mailing: fine
        }
    )
    assert lines(lint_table(table, "p.mail")) == [
        (
            "MP605",
            4,
            1,
            "`mailing.to = client_group when relation.attributes.size >= 3` puts the client group's "
            "address in `to` of 'mailing' mailings: every client of the group would see the others",
        )
    ]


def test_client_group_inherited_by_a_mailing_from_general() -> None:
    table = make_table({"general": {"to": [rule(union(src("contact"), src("client_group")), 2)]}})
    assert [d.code for d in lint_table(table, "p.mail")] == ["MP605"]


def test_same_address_in_two_headers() -> None:
    table = make_table(
        {
            "invoice": {"cc": [rule(union(src("contact"), role("partner")), 3)]},
            "task": {"bcc": [rule(free("Office@Firm.be"), 4)], "cc": [rule(free("office@firm.be"), 5)]},
            # behind an `else`, contact is only a fallback: not "by construction"
            "welcome": {"bcc": [rule(else_(src("sender"), src("recipient")), 6)]},
        }
    )
    assert lines(lint_table(table, "p.mail")) == [
        (
            "MP606",
            3,
            1,
            "`contact` is in both `to` (built-in default) and `cc` (line 3) of 'invoice': "
            "the copy in `cc` is always dropped",
        ),
        (
            "MP606",
            4,
            1,
            "`free \"office@firm.be\"` is in both `cc` (line 5) and `bcc` (line 4) of 'task': "
            "the copy in `bcc` is always dropped",
        ),
    ]


def test_reply_to_chains_are_left_to_the_compiler() -> None:
    """The compiler warns about a reply_to chain not ending in company/free (MP501): no duplicate."""
    table = make_table({"general": {"reply_to": [rule(else_(role("responsible"), role("partner")), 2)]}})
    assert lint_table(table, "p.mail") == []


# --- the emptiness guarantee ------------------------------------------------------------------


def by_name(report):  # type: ignore[no-untyped-def]
    """kind.field -> list of (facts, rule) counterexamples."""
    return {f"{e.kind}.{e.field}": [(c.facts, c.rule) for c in e.counterexamples] for e in report}


def test_builtin_defaults_emptiness() -> None:
    report = by_name(check_emptiness(make_table()))
    assert report["general.to"] == [(["relation.emails is empty"], "to = contact")]
    assert report["general.reply_to"] == []
    assert report["reminder.to"] == [
        (
            [
                "document.dunning_emails is empty",
                "no recipient is given",
                "relation.dunning_emails is empty",
                "relation.emails is empty",
            ],
            "reminder.to = recipient else document.dunning_emails else dunning else contact",
        )
    ]
    assert report["welcome.to"] == [(["no recipient is given"], "welcome.to = recipient")]
    # functional is set for this firm, so the four-way chain always ends with an address.
    assert report["notification.to"] == []
    assert report["notification.vat_ok.to"] == []


def test_notification_to_without_functional_or_communication() -> None:
    report = by_name(check_emptiness(make_table(firm={"functional": None})))
    assert report["notification.message.to"] == [
        (
            ["the relation has no client group with an email", "the relation has no file_manager"],
            "notification.to = file_manager else client_group else functional else communication",
        )
    ]


def test_conditions_and_languages_in_counterexamples() -> None:
    table = make_table(
        {
            "invoice": {
                "to": [
                    rule(src("recipient"), 7, when=ge("document.amount", 10000)),
                    rule(src("contact"), 6, lang="nl"),
                    rule(else_(src("contact"), src("company")), 5),
                ]
            }
        }
    )
    report = by_name(check_emptiness(table))
    assert report["invoice.to"] == [
        (
            ["`document.amount >= 10000` holds (line 7)", "no recipient is given"],
            "invoice.to = recipient when document.amount >= 10000",
        ),
        (["relation.emails is empty", "the language is nl"], "invoice.to[nl] = contact"),
    ]
    assert report["reminder.to"][0][1].startswith("reminder.to = recipient")


def test_general_and_from_as_sources() -> None:
    table = make_table(
        {
            "invoice": {"to": [rule(src("general"), 3)], "cc": [rule(src("from"), 4)]},
            "task": {"reply_to": [rule(src("from"), 5)]},
            "welcome": {"reply_to": [rule(src("general"), 6)]},
        }
    )
    model = PolicyModel(table)
    report = by_name(check_emptiness(table))
    assert report["invoice.to"] == [(["relation.emails is empty"], "invoice.to = general")]
    # From of a task is the platform (built-in default), so `from` never yields there.
    assert report["task.reply_to"] == [([], "task.reply_to = from")]
    assert report["welcome.reply_to"] == []
    assert model.field_empty("invoice", "cc") == ALWAYS
    assert model.field_empty("welcome", "reply_to") == NEVER


def test_emptiness_report_text() -> None:
    table = make_table(
        {
            "general": {"reply_to": [rule(else_(role("responsible"), src("company")), 2)]},
            "task": {"reply_to": [rule(role("collaborator"), 3)]},
        },
        firm={"functional": None},
    )
    text = format_emptiness(check_emptiness(table), "p.mail")
    assert text.splitlines()[:8] == [
        "p.mail: can `to` and `reply_to` come out empty?",
        "  general.to: can be empty (the message then fails)",
        "    when relation.emails is empty  [built-in default: to = contact]",
        "  general.reply_to: never empty",
        "  invoice.to: can be empty (the message then fails)",
        "    when relation.emails is empty  [built-in default: to = contact]",
        "  invoice.reply_to: never empty",
        "  mailing.to: can be empty (the message then fails)",
    ]
    assert "  task.reply_to: can yield nothing (Reply-To then falls back to company)" in text
    assert "    when the relation has no collaborator  [line 3: task.reply_to = collaborator]" in text


def test_emptiness_as_json() -> None:
    entry = check_emptiness(make_table())[0]
    assert entry.as_dict() == {
        "kind": "general",
        "field": "to",
        "can_be_empty": True,
        "counterexamples": [{"facts": ["relation.emails is empty"], "rule": "to = contact", "loc": None}],
    }


def test_platform_in_a_from_chain_always_yields_but_the_from_source_then_yields_nothing() -> None:
    table = make_table(
        {
            "invoice": {
                "from": [
                    rule(
                        else_(
                            src("sender", loc(1, 16)),
                            src("platform", loc(1, 26)),
                            role("partner", loc(1, 38)),
                        ),
                        1,
                    )
                ],
                "cc": [rule(else_(src("from", loc(2, 14)), src("company", loc(2, 22))), 2)],
            }
        }
    )
    assert lines(lint_table(table, "p.mail")) == [
        ("MP601", 1, 38, "`partner` is never used: `platform` always yields an address"),
    ]
    model = PolicyModel(table)
    # cc = from yields nothing exactly when there is no verified sender (From is then the platform).
    assert model.expr_empty(src("from"), "invoice", "invoice", "cc") == frozenset(
        {frozenset({"no sender is given"}), frozenset({"the sender's address is not on a verified domain"})}
    )

"""Filling template strings (SPEC 2.6): formats per language, escaping, headers, missing values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mailpolicy.runtime import load_data, load_table
from mailpolicy.runtime.errors import MessageError
from mailpolicy.runtime.fill import Context, fill_parts, header_safe, message_context
from tests.runtime.tables import make_table, parts, write_data


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    """The context of invoice F2026-0042 for R001 sent by jan."""
    data = load_data(write_data(tmp_path))
    table = load_table(make_table())
    return message_context(table, data, "R001", "F2026-0042", "jan", kind="invoice")


def with_language(ctx: Context, language: str) -> Context:
    """The same values in another language."""
    return Context(values=ctx.values, language=language, kind=ctx.kind, relation=ctx.relation)


def test_default_formats(ctx: Context) -> None:
    """Dates render DD/MM/YYYY, amounts with two decimals, a point and no grouping."""
    text = "{{ document.number }} {{ document.date }} {{ document.due_date }} {{ document.amount }}"
    assert fill_parts(parts(text), ctx, html=False) == "2026-0042 20/11/2026 20/12/2026 1210.00"


@pytest.mark.parametrize(
    ("language", "long_date", "money"),
    [
        # Babel groups French thousands with U+202F and puts U+00A0 before the euro sign.
        ("fr", "20 novembre 2026", "1\u202f210,00\xa0€"),
        ("nl", "20 november 2026", "€\xa01.210,00"),
        ("en", "November 20, 2026", "€1,210.00"),
        ("de", "20. November 2026", "1.210,00\xa0€"),
    ],
)
def test_long_dates_and_money_per_language(ctx: Context, language: str, long_date: str, money: str) -> None:
    """`| long` and `| money` follow the message language."""
    text = "{{ document.date | long }}|{{ document.amount | money }}"
    assert fill_parts(parts(text), with_language(ctx, language), html=False) == f"{long_date}|{money}"


def test_french_money_reads_as_the_spec_example(ctx: Context) -> None:
    """`1 210,00 €` once the no-break spaces are shown as spaces."""
    text = fill_parts(parts("{{ document.amount | money }}"), ctx, html=False)
    assert text.replace("\u202f", " ").replace("\xa0", " ") == "1 210,00 €"


def test_firm_relation_and_sender_paths(ctx: Context) -> None:
    """Every documented path family fills."""
    text = (
        "{{ firm.name }} / {{ relation.name }} / {{ sender.name }} <{{ sender.email }}> / "
        "{{ relation.emails }}"
    )
    assert fill_parts(parts(text), ctx, html=False) == (
        "Cabinet Dupont & Associés / Garage Martin SPRL / Jan Janssens <jan@dupont-associes.be> / "
        "compta@garage-martin.be"
    )


def test_html_escapes_values_only(ctx: Context) -> None:
    """Values are escaped (quotes too) in HTML; the literal HTML around them is kept."""
    template = ['<a title="', {"path": "firm.name", "format": None, "loc": None}, '">x</a>']
    assert fill_parts(template, ctx, html=True) == '<a title="Cabinet Dupont &amp; Associés">x</a>'
    assert fill_parts(template, ctx, html=False) == '<a title="Cabinet Dupont & Associés">x</a>'


def test_values_looking_like_placeholders_stay_literal(ctx: Context) -> None:
    """A relation named `{{ firm.name }}` is that text, never filled again."""
    ctx.values["relation.name"] = "{{ firm.name }} <script>"
    assert fill_parts(parts("{{ relation.name }}"), ctx, html=True) == "{{ firm.name }} &lt;script&gt;"


@pytest.mark.parametrize("breaker", ["\r\n", "\n", "\r", "\u2028", "\u2029", "\x85", "\x0b", "\x00"])
def test_headers_never_get_line_breaks(ctx: Context, breaker: str) -> None:
    """CR, LF, U+2028 and friends become spaces in header text."""
    ctx.values["relation.name"] = f"Garage{breaker}Bcc: evil@example.org"
    assert fill_parts(parts("Facture {{ relation.name }}"), ctx, html=False, header=True) == (
        "Facture Garage" + " " * len(breaker) + "Bcc: evil@example.org"
    )
    assert header_safe(f"a{breaker}b") == "a" + " " * len(breaker) + "b"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ relation.attributes.vat }}", "'relation.attributes.vat' has no value for this message"),
        ("{{ relation.family }}", "'relation.family' has no value for this message"),
        ("{{ relation.dunning_emails }}", "'relation.dunning_emails' has no value for this message"),
    ],
)
def test_missing_values_fail_the_message(tmp_path: Path, template: str, message: str) -> None:
    """A placeholder without value is an error naming the path, never a blank."""
    data = load_data(write_data(tmp_path))
    ctx = message_context(load_table(make_table()), data, "R002", None, None, kind="invoice")
    with pytest.raises(MessageError) as info:
        fill_parts(parts(template), ctx, html=False)
    assert str(info.value) == message
    assert (info.value.kind, info.value.relation) == ("invoice", "R002")


def test_missing_document_names_the_path_and_the_placeholder(tmp_path: Path) -> None:
    """Without a document, `{{ document.number }}` fails with the placeholder's location."""
    data = load_data(write_data(tmp_path))
    ctx = message_context(load_table(make_table()), data, "R001", kind="invoice")
    slot: dict[str, Any] = {"path": "document.number", "format": None, "loc": {"line": 3, "column": 20}}
    with pytest.raises(MessageError) as info:
        fill_parts(["Facture ", slot], ctx, html=False)
    assert str(info.value) == "'document.number' has no value for this message (placeholder at line 3:20)"
    slot["loc"] = {"file": "templates/invoice.mjml", "line": 7, "column": 5}
    with pytest.raises(MessageError) as info:
        fill_parts([slot], ctx, html=True)
    assert str(info.value) == (
        "'document.number' has no value for this message (placeholder at templates/invoice.mjml:7:5)"
    )


def test_money_needs_a_currency(ctx: Context) -> None:
    """An amount without currency cannot be shown as money."""
    ctx.values["document.currency"] = None
    with pytest.raises(MessageError, match="'document.currency' has no value"):
        fill_parts(parts("{{ document.amount | money }}"), ctx, html=False)


def test_untyped_attributes_render_as_written(tmp_path: Path) -> None:
    """Attribute numbers keep their written form; booleans read true/false."""
    data = load_data(
        write_data(tmp_path, "relations:\n  - {id: R1, name: A, attributes: {n: 12, r: 1.5, ok: true}}\n")
    )
    ctx = message_context(load_table(make_table()), data, "R1")
    text = "{{ relation.attributes.n }} {{ relation.attributes.r }} {{ relation.attributes.ok }}"
    assert fill_parts(parts(text), ctx, html=False) == "12 1.5 true"

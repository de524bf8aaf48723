"""MJML templates compiled once: placeholder checks, MJML errors with lines, CSS inlining, PARTS."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from mailpolicy.compiler.templates import compile_template, mjml_to_text
from mailpolicy.diagnostics import Diagnostic, render_text
from tests.conftest import _TextFile


class _Html(_TextFile):
    file_extension = "html"


class _Text(_TextFile):
    file_extension = "txt"


ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "examples" / "templates"
EXAMPLE_TEMPLATES = sorted(p.name for p in TEMPLATES.glob("*.mjml"))


def show(parts: list[Any]) -> str:
    """PARTS with each slot written back as its placeholder, for readable snapshots."""
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        else:
            fmt = f" | {part['format']}" if part["format"] else ""
            out.append(f"{{{{ {part['path']}{fmt} }}}}")
    return "".join(out)


def compile_text(
    tmp_path: Path, mjml: str, name: str = "t.mjml"
) -> tuple[dict[str, Any] | None, list[Diagnostic]]:
    (tmp_path / "templates").mkdir(exist_ok=True)
    path = tmp_path / "templates" / name
    path.write_text(mjml, encoding="utf-8")
    return compile_template(path, tmp_path, f"templates/{name}")


def body(inner: str, head: str = "") -> str:
    return (
        f"<mjml>\n  <mj-head>{head}</mj-head>\n  <mj-body>\n    <mj-section>\n      <mj-column>\n"
        f"{inner}\n      </mj-column>\n    </mj-section>\n  </mj-body>\n</mjml>\n"
    )


def test_examples_exist() -> None:
    assert EXAMPLE_TEMPLATES == [
        "invoice-nl.mjml",
        "invoice.mjml",
        "mailing.mjml",
        "reminder.mjml",
        "welcome.mjml",
    ]


@pytest.mark.parametrize("name", EXAMPLE_TEMPLATES)
def test_example_html_snapshot(name: str, file_snapshot: Any) -> None:
    """GIVEN an example template WHEN compiled THEN its pre-rendered HTML matches the snapshot."""
    entry, diags = compile_template(TEMPLATES / name, ROOT / "examples", f"templates/{name}")
    assert diags == []
    assert entry is not None
    assert show(entry["html"]) == file_snapshot.use_extension(_Html)


@pytest.mark.parametrize("name", EXAMPLE_TEMPLATES)
def test_example_text_snapshot(name: str, file_snapshot: Any) -> None:
    entry, _ = compile_template(TEMPLATES / name, ROOT / "examples", f"templates/{name}")
    assert entry is not None
    assert show(entry["text"]) == file_snapshot.use_extension(_Text)


def test_invoice_is_realistic_and_inlined() -> None:
    entry, _ = compile_template(TEMPLATES / "invoice.mjml", ROOT / "examples", "templates/invoice.mjml")
    assert entry is not None
    html = show(entry["html"])
    assert 10_000 <= len(html.encode()) <= 16_000
    # The inline mj-style went into style attributes, not into the head.
    assert ".amount-table td" not in html
    assert 'style="border-bottom: 1px solid #e4e7eb;padding: 8px 0;"' in html
    # The non-inline mj-style stays in the head.
    assert ".hide-mobile" in html
    # A placeholder inside an attribute is a slot there.
    assert (
        'href="https://portail.dupont-associes.be/factures/{{ document.number }}?client={{ relation.id }}"'
        in html
    )


def test_slots_point_into_the_template_file() -> None:
    entry, _ = compile_template(TEMPLATES / "invoice.mjml", ROOT / "examples", "templates/invoice.mjml")
    assert entry is not None
    first = next(p for p in entry["html"] if not isinstance(p, str))
    assert first == {
        "path": "document.number",
        "format": None,
        "loc": {"line": 3, "column": 23, "file": "templates/invoice.mjml"},
        "file": "templates/invoice.mjml",
    }


def test_unknown_path_points_at_the_template_line_with_a_suggestion(tmp_path: Path) -> None:
    entry, diags = compile_text(tmp_path, body("        <mj-text>Hello {{ relation.nam }}</mj-text>"))
    assert entry is None
    assert [render_text(d) for d in diags] == [
        f"{tmp_path}/templates/t.mjml:6:24: error[MP104]: unknown path 'relation.nam'\n"
        "  help: did you mean 'relation.name'?"
    ]


def test_unknown_format_and_wrong_format(tmp_path: Path) -> None:
    _, diags = compile_text(
        tmp_path,
        body("        <mj-text>{{ document.date | lng }} {{ relation.name | money }}</mj-text>"),
    )
    assert [(d.code, d.message, d.span.line if d.span else None, d.help) for d in diags] == [
        ("MP111", "unknown format 'lng'", 6, ["did you mean 'long'?"]),
        ("MP111", "the format 'money' applies to a number, and 'relation.name' is a text", 6, []),
    ]


def test_css_braces_in_mj_style_are_left_alone(tmp_path: Path) -> None:
    head = (
        "<mj-style>.a { color: red } .b {{ x }}</mj-style>"
        '<mj-style inline="inline">.c div { font-weight: bold }</mj-style>'
    )
    entry, diags = compile_text(
        tmp_path, body('        <mj-text css-class="c">{{ firm.name }}</mj-text>', head)
    )
    assert diags == []
    assert entry is not None
    html = show(entry["html"])
    assert ".a { color: red } .b {{ x }}" in html
    assert "font-weight: bold" in html and ".c div" not in html


def test_attribute_escapes_survive_mjml(tmp_path: Path) -> None:
    entry, _ = compile_text(
        tmp_path,
        body('        <mj-button href="https://x.be/?a=1&amp;n={{ document.number }}">Pay</mj-button>'),
    )
    assert entry is not None
    html = show(entry["html"])
    assert 'href="https://x.be/?a=1&amp;n={{ document.number }}"' in html
    assert show(entry["text"]) == "Pay (https://x.be/?a=1&n={{ document.number }})\n"


def test_text_version_paragraphs_lists_links(tmp_path: Path) -> None:
    entry, _ = compile_text(
        tmp_path,
        body(
            "        <mj-text><p>Dear {{ relation.name }},</p><p>Line one<br/>line   two</p>"
            "<ul><li>first</li><li>second</li></ul>"
            '<a href="https://x.be/">our site</a> and '
            '<a href="mailto:{{ firm.company }}">{{ firm.company }}</a>'
            "</mj-text>\n        <mj-divider />\n        <mj-text>Bye</mj-text>",
            head="<mj-title>Not in the text</mj-title>",
        ),
    )
    assert entry is not None
    assert show(entry["text"]) == (
        "Dear {{ relation.name }},\n\nLine one\nline two\n\n- first\n- second\n\n"
        "our site (https://x.be/) and {{ firm.company }}\n\nBye\n"
    )


def test_a_literal_sentinel_word_in_the_template_is_kept(tmp_path: Path) -> None:
    entry, _ = compile_text(tmp_path, body("        <mj-text>XMPSLOT0Z {{ firm.name }}</mj-text>"))
    assert entry is not None
    assert "XMPSLOT0Z {{ firm.name }}" in show(entry["html"])


@pytest.mark.parametrize(
    ("inner", "message", "line", "column"),
    [
        ("        <mj-text>never closed", "<mj-text> is never closed", 6, 9),
        (
            "        <mj-text>a</mj-text></mj-section>",
            "closing tag </mj-section> does not match <mj-column> opened at line 5",
            6,
            29,
        ),
        ("        <mj-txt>a</mj-txt>", "unknown MJML element <mj-txt>", 6, 9),
        ("        <mj-text>a < b</mj-text>", "a bare '<' in text: write it as &lt;", 6, 20),
        (
            '        <mj-include path="other.mjml" />',
            "<mj-include> is not supported: keep a template in one file",
            6,
            9,
        ),
    ],
)
def test_mjml_errors_name_the_line(tmp_path: Path, inner: str, message: str, line: int, column: int) -> None:
    entry, diags = compile_text(tmp_path, body(inner))
    assert entry is None
    assert diags[0].code == "MP403"
    assert diags[0].message == message
    assert diags[0].span is not None and (diags[0].span.line, diags[0].span.column) == (line, column)
    assert diags[0].span.path == str(tmp_path / "templates" / "t.mjml")


def test_not_mjml_at_all(tmp_path: Path) -> None:
    entry, diags = compile_text(tmp_path, "hello")
    assert entry is None
    assert [(d.code, d.message) for d in diags] == [
        ("MP403", "MJML cannot render this template: unable to parse next template in root template")
    ]


def test_refuses_a_path_outside_the_policy_folder(tmp_path: Path) -> None:
    (tmp_path / "policy").mkdir()
    outside = tmp_path / "secret.mjml"
    outside.write_text(body("<mj-text>x</mj-text>"), encoding="utf-8")
    entry, diags = compile_template(outside, tmp_path / "policy", "../secret.mjml")
    assert entry is None
    assert [(d.code, d.message) for d in diags] == [
        ("MP401", "the template '../secret.mjml' leads outside the policy's folder")
    ]


def test_refuses_a_symlink_that_leaves_the_policy_folder(tmp_path: Path) -> None:
    (tmp_path / "policy").mkdir()
    outside = tmp_path / "secret.mjml"
    outside.write_text(body("<mj-text>x</mj-text>"), encoding="utf-8")
    link = tmp_path / "policy" / "t.mjml"
    os.symlink(outside, link)
    entry, diags = compile_template(link, tmp_path / "policy", "t.mjml")
    assert entry is None
    assert diags[0].code == "MP401"


def test_missing_and_non_utf8_templates(tmp_path: Path) -> None:
    _, diags = compile_template(tmp_path / "nope.mjml", tmp_path, "nope.mjml")
    assert [(d.code, d.message) for d in diags] == [("MP402", "template file not found: 'nope.mjml'")]
    (tmp_path / "latin1.mjml").write_bytes("<mjml>é</mjml>".encode("latin-1"))
    _, diags = compile_template(tmp_path / "latin1.mjml", tmp_path, "latin1.mjml")
    assert [(d.code, d.message) for d in diags] == [("MP404", "the template 'latin1.mjml' is not UTF-8 text")]


def test_mjml_to_text_skips_head_and_raw() -> None:
    assert (
        mjml_to_text(body("<mj-raw><b>raw</b></mj-raw><mj-text>kept</mj-text>", "<mj-preview>p</mj-preview>"))
        == "kept\n"
    )


def test_text_version_of_navbar_and_social_links() -> None:
    source = body(
        '<mj-navbar><mj-navbar-link href="https://a.be/x">Accueil</mj-navbar-link>'
        '<mj-navbar-link href="https://a.be/y">Factures</mj-navbar-link></mj-navbar>'
        '<mj-social><mj-social-element name="facebook" href="https://fb.com/x">Facebook</mj-social-element>'
        "</mj-social><mj-text>Hi</mj-text>"
    )
    assert mjml_to_text(source) == (
        "Accueil (https://a.be/x)\nFactures (https://a.be/y)\n\nFacebook (https://fb.com/x)\n\nHi\n"
    )

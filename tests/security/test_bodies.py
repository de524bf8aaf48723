"""Hostile values in message bodies: HTML, placeholders typed into data, `javascript:` links.

The policy and its MJML template are compiled for real, so the HTML slots are exactly where MJML
puts them; each message is built by both paths and its parts are read back as a mail client does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mailpolicy.compiler import compile_file
from mailpolicy.runtime.data import load_data
from mailpolicy.runtime.errors import MessageError
from mailpolicy.runtime.message import build_email_message, compose_message
from mailpolicy.runtime.resolve import resolve_message
from mailpolicy.runtime.table import load_table
from tests.security.pipeline import both_paths

POLICY = """\
firm {
  name = "Cabinet Dupont & Associés"
  company = "info@dupont-associes.be"
  platform = "inbox@mailer.example"
  verified_domains = ["dupont-associes.be"]
}
invoice.subject = "Facture {{ relation.name }}"
invoice.template = "templates/invoice.mjml"
"""

TEMPLATE = """\
<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text>Bonjour {{ relation.name }},
          <a title="{{ relation.name }}" href="{{ relation.attributes.portal }}">portail</a></mj-text>
        <mj-text><a href="https://pay.example/{{ relation.attributes.portal }}">payer</a></mj-text>
        <mj-button href="{{ relation.attributes.portal }}">Payer</mj-button>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>
"""


def build(
    folder: Path,
    name: str = "Garage Martin",
    portal: str = "https://portal.example/R1",
    template: str = TEMPLATE,
):  # type: ignore[no-untyped-def]
    """(table, data, envelope) of an invoice to relation R1 with the given name and portal link."""
    (folder / "templates").mkdir(exist_ok=True)
    (folder / "templates" / "invoice.mjml").write_text(template, encoding="utf-8")
    (folder / "policy.mail").write_text(POLICY, encoding="utf-8")
    result = compile_file(folder / "policy.mail")
    assert result.errors == [] and result.table is not None, result.diagnostics
    data: dict[str, Any] = {
        "relations": [
            {"id": "R1", "name": name, "emails": ["compta@client.be"], "attributes": {"portal": portal}}
        ]
    }
    (folder / "data.json").write_text(json.dumps(data), encoding="utf-8")
    table = load_table(result.table)
    dataset = load_data(folder / "data.json")
    return table, dataset, resolve_message(table, dataset, kind="invoice", relation="R1")


def bodies(folder: Path, **kw: str) -> list[tuple[str, str, str]]:
    """(subject, text part, HTML part) of the message from each path, as decoded by a mail client."""
    table, data, envelope = build(folder, **kw)
    out = []
    for produced in both_paths(table, data, envelope):
        html = produced.parsed.get_body(("html",))
        text = produced.parsed.get_body(("plain",))
        assert html is not None and text is not None
        out.append((str(produced.parsed["Subject"]), text.get_content(), html.get_content()))  # type: ignore[attr-defined]
    return out


def test_html_in_a_value_is_escaped(tmp_path: Path) -> None:
    """GIVEN a relation name with tags and quotes WHEN rendered THEN the HTML part shows it as text
    (escaped in element content and in attributes) and the text part shows it unchanged."""
    name = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    for subject, text, html in bodies(tmp_path, name=name):
        assert subject == f"Facture {name}"
        assert "<script" not in html and "<img src=x" not in html
        escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"
        assert f"Bonjour {escaped}," in html
        assert f'title="{escaped}"' in html
        assert f"Bonjour {name}," in text


def test_a_placeholder_typed_into_data_stays_literal(tmp_path: Path) -> None:
    """GIVEN a relation named `{{ relation.name }} {{ firm.company }}` WHEN rendered
    THEN subject and bodies show those braces literally: values are never expanded again."""
    name = "{{ relation.name }} {{ firm.company }} {{ document.amount | money }}"
    for subject, text, html in bodies(tmp_path, name=name):
        assert subject == f"Facture {name}"
        assert f"Bonjour {name}," in text
        assert f"Bonjour {name}," in html
        assert "info@dupont-associes.be" not in text


def test_a_safe_link_is_filled_and_escaped(tmp_path: Path) -> None:
    """GIVEN an https link with `&` WHEN rendered THEN it fills the href, attribute-escaped."""
    portal = 'https://portal.example/R1?a=1&b="2"'
    for _, text, html in bodies(tmp_path, portal=portal):
        assert 'href="https://portal.example/R1?a=1&amp;b=&quot;2&quot;"' in html
        assert f"portail ({portal})" in text


UNSAFE = {
    "javascript": ("javascript:alert(document.cookie)", "javascript"),
    "mixed-case": ("JavaScript:alert(1)", "javascript"),
    "leading-space": ("  javascript:alert(1)", "javascript"),
    "control-char": ("\x01javascript:alert(1)", "javascript"),
    "tab-inside": ("java\tscript:alert(1)", "javascript"),
    "newline-inside": ("java\nscript:alert(1)", "javascript"),
    "vbscript": ("vbscript:msgbox(1)", "vbscript"),
    "data": ("data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "data"),
}


@pytest.mark.parametrize(("portal", "scheme"), list(UNSAFE.values()), ids=list(UNSAFE))
def test_a_dangerous_link_is_refused_by_both_paths(tmp_path: Path, portal: str, scheme: str) -> None:
    """GIVEN a `javascript:` (or other active) URL in a value that starts an href
    WHEN the message is built by either path THEN it is refused with an error naming the placeholder."""
    table, data, envelope = build(tmp_path, portal=portal)
    expected = (
        f"'relation.attributes.portal' would make a '{scheme}:' link in the template; "
        "only http, https, mailto and tel links are filled in"
    )
    for make in (compose_message, build_email_message):
        with pytest.raises(MessageError) as info:
            make(table, data, envelope)
        assert str(info.value) == expected
        assert info.value.relation == "R1"
        column = TEMPLATE.splitlines()[5].index("{{ relation.attributes.portal }}") + 1
        assert info.value.loc == {"line": 6, "column": column, "file": "templates/invoice.mjml"}


def test_a_link_split_over_two_placeholders_is_refused(tmp_path: Path) -> None:
    """GIVEN `href="{{ a }}{{ b }}"` with a = `java`, b = `script:...` WHEN built THEN refused."""
    template = TEMPLATE.replace(
        'href="{{ relation.attributes.portal }}">portail',
        'href="{{ relation.name }}{{ relation.attributes.portal }}">portail',
    )
    table, data, envelope = build(tmp_path, name="java", portal="script:alert(1)", template=template)
    with pytest.raises(MessageError, match="^'relation.name' would make a 'javascript:' link"):
        compose_message(table, data, envelope)


def test_a_dangerous_text_after_a_fixed_prefix_is_only_text(tmp_path: Path) -> None:
    """GIVEN `javascript:` in a slot after `https://pay.example/` WHEN built THEN that link is inert
    (its scheme is https), so only the slots that start a link decide; here the first one refuses."""
    template = TEMPLATE.replace('href="{{ relation.attributes.portal }}"', 'href="https://x.example/"')
    table, data, envelope = build(tmp_path, portal="javascript:alert(1)", template=template)
    for produced in both_paths(table, data, envelope):
        html = produced.parsed.get_body(("html",))
        assert html is not None
        assert 'href="https://pay.example/javascript:alert(1)"' in html.get_content()  # type: ignore[attr-defined]

"""The preview application through Starlette's TestClient: pages, escaping, headers, downloads."""

from __future__ import annotations

import email
import email.policy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mailpolicy.preview.app import MESSAGE_CSP, PAGE_CSP, PreviewState, create_app
from mailpolicy.preview.model import Selection
from tests.preview.helpers import GENERAL_FROM, INVOICE_SUBJECT_NL, rule_position

INVOICE = "/message?kind=invoice&relation=R001&document=F2026-0042"
HOSTILE_ID = "<script>alert(1)</script>"
HOSTILE_NAME = "<img src=x onerror=alert(2)>"


def line_of(policy: Path, prefix: str) -> int:
    """The 1-based line of the policy that starts with PREFIX (the example may move lines)."""
    for number, text in enumerate(policy.read_text(encoding="utf-8").splitlines(), start=1):
        if text.startswith(prefix):
            return number
    raise AssertionError(f"no line starts with {prefix!r}")


def row(html: str, field: str) -> str:
    """The envelope table row of FIELD."""
    match = re.search(rf'<tr id="field-{field}">.*?</tr>', html, re.S)
    assert match, f"no row for {field}"
    return match.group(0)


def make_client(policy: Path, data: Path, selection: Selection | None = None) -> Any:
    from starlette.testclient import TestClient

    state = PreviewState(policy, data, selection or Selection())
    return TestClient(create_app(state, watch_files=False), base_url="http://127.0.0.1")


def test_gallery_shows_every_kind_against_every_relation(client: Any) -> None:
    """GIVEN the example (12 kinds, 6 relations) WHEN the gallery opens THEN 72 messages, paged by 24."""
    response = client.get("/")
    assert response.status_code == 200
    assert '<span id="count">72</span> of 72 messages · ' in response.text
    assert "page 1 of 3" in response.text
    assert response.text.count('<li class="card') == 24
    # The summary's failure count is the number of failed cards the status filter finds.
    failed = re.search(r"of 72 messages · (\d+) failed", response.text)
    assert failed and int(failed.group(1)) > 0
    cards = 0
    for page in range(1, -(-int(failed.group(1)) // 24) + 1):  # ceil(n / 24) pages
        html = client.get("/", params={"status": "failed", "page": page}).text
        cards += html.count('<li class="card failed">')
    assert cards == int(failed.group(1))


def test_gallery_card_shows_subject_from_and_to(client: Any) -> None:
    """GIVEN a filter on kind and relation WHEN the gallery opens THEN one card with its headers."""
    html = client.get("/", params={"kind": "invoice", "q": "R002"}).text
    assert '<span id="count">1</span> of 72' in html
    assert '<dd class="subject">Factuur 2026-0043 van 21/11/2026 – Cabinet Dupont &amp; Associés</dd>' in html
    assert (
        '<dd class="from">Cabinet Dupont &amp; Associés – Facturation &lt;info@dupont-associes.be&gt;</dd>'
        in html
    )
    assert '<dd class="to">info@bakkerij-peeters.be, boekhouding@bakkerij-peeters.be</dd>' in html
    assert 'href="/message?kind=invoice&amp;relation=R002&amp;document=F2026-0043"' in html


def test_gallery_search_matches_every_word(client: Any) -> None:
    """GIVEN words of a subject WHEN searching THEN only the messages whose text has them all."""
    html = client.get("/", params={"q": "rappel 2026-0044"}).text
    assert '<span id="count">1</span>' in html
    assert "Rappel : facture 2026-0044 échue le 01/11/2026" in html


def test_failed_and_skipped_messages_show_why(client: Any) -> None:
    """GIVEN a welcome mail without recipient and a mailing without consent THEN errors, not blanks."""
    failed = client.get("/", params={"kind": "welcome", "q": "R001"}).text
    assert '<li class="card failed">' in failed
    assert "<b>failed:</b> no 'to' address for kind 'welcome', relation 'R001' (" in failed
    skipped = client.get("/", params={"kind": "mailing", "status": "skipped"}).text
    assert '<span id="count">3</span>' in skipped
    assert "relation 'R002' does not accept promotional mail: mailing skipped" in skipped


def test_message_page_shows_the_rule_behind_each_address(client: Any, workspace: Path) -> None:
    """GIVEN the invoice of R001 THEN the CC address names its source and links its policy line."""
    policy = workspace / "firm-settings.mail"
    html = client.get(INVOICE).text
    cc = row(html, "cc")
    line = line_of(policy, "invoice.cc")
    assert '<span class="addr">jan@dupont-associes.be</span>' in cc
    assert '<code class="source">responsible</code> (user jan)' in cc
    assert (
        f'href="/source?file=firm-settings.mail&amp;line={line}#L{line}">firm-settings.mail:{line}:14</a>'
        in cc
    )
    to = row(html, "to")
    assert '<span class="addr">compta@garage-martin.be</span>' in to
    assert '<code class="source">contact</code>' in to
    # From: the sender source was tried and skipped (automated mail), company decided.
    sender_line, sender_column = rule_position(policy, GENERAL_FROM)
    assert (
        f"firm-settings.mail:{sender_line}:{sender_column}</a>) skipped: no sender (automated mail)"
        in row(html, "from")
    )
    # The Dutch subject rule was passed over for a French client, and says so.
    nl_line, _ = rule_position(policy, INVOICE_SUBJECT_NL)
    assert f"firm-settings.mail:{nl_line}:1</a> (invoice) passed over: language differs (nl)" in row(
        html, "subject"
    )


def test_message_page_frames_the_html_part_in_a_sandbox(client: Any) -> None:
    """GIVEN a templated message THEN a sandboxed iframe at 600 px, or 375 px when asked."""
    html = client.get(INVOICE).text
    assert (
        '<iframe id="html-part" title="HTML part" sandbox="" width="600" height="640" '
        'src="/message.html?kind=invoice&amp;relation=R001&amp;document=F2026-0042"></iframe>'
    ) in html
    assert 'sandbox="" width="375"' in client.get(INVOICE + "&width=375").text
    assert 'sandbox="" width="600"' in client.get(INVOICE + "&width=9999").text
    text = re.search(r'<pre class="text-part">(.*?)</pre>', html, re.S)
    assert text and "Vous trouverez ci-joint la facture 2026-0042" in text.group(1)


def test_message_html_route_forbids_script_and_network(client: Any) -> None:
    """The message's own HTML carries a sandbox CSP even when opened outside the iframe."""
    response = client.get(INVOICE.replace("/message?", "/message.html?"))
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == MESSAGE_CSP
    assert "Facture 2026-0042" in response.text


def test_pages_carry_the_csp(client: Any) -> None:
    """Every page allows only the preview's own script and stylesheet."""
    for url in ("/", INVOICE, "/source?file=firm-settings.mail"):
        assert client.get(url).headers["content-security-policy"] == PAGE_CSP
    assert "<script>" not in client.get("/").text  # no inline script anywhere


def test_eml_download_is_the_rendered_message(client: Any) -> None:
    """GIVEN the invoice THEN the .eml download parses to the same headers the page shows."""
    response = client.get(INVOICE.replace("/message?", "/message.eml?"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "message/rfc822"
    assert response.headers["content-disposition"] == 'attachment; filename="invoice-R001-F2026-0042.eml"'
    assert b"\r\n" in response.content
    message = email.message_from_bytes(response.content, policy=email.policy.default)
    assert message["Subject"] == "Facture 2026-0042 du 20/11/2026 – Cabinet Dupont & Associés"
    assert message["To"] == "compta@garage-martin.be"
    assert message["Bcc"] is None  # never a Bcc header in what is sent
    assert message.get_content_type() == "multipart/alternative"


def test_source_view_anchors_and_highlights_the_line(client: Any, workspace: Path) -> None:
    """GIVEN a rule link THEN the source view marks that line; files outside the preview are refused."""
    line = line_of(workspace / "firm-settings.mail", "invoice.cc")
    html = client.get("/source", params={"file": "firm-settings.mail", "line": line}).text
    assert (
        f'<span id="L{line}" class="hl"><a class="ln" href="#L{line}">{line}</a>invoice.cc = responsible'
        in html
    )
    assert html.count('class="hl"') == 1
    template = client.get("/source", params={"file": "templates/invoice.mjml"})
    assert template.status_code == 200 and "&lt;/mjml&gt;</span>" in template.text
    for name in ("../../../etc/passwd", "/etc/passwd", "firm-settings.mail/.."):
        refused = client.get("/source", params={"file": name})
        assert refused.status_code == 404
        assert "No source file" in refused.text


def test_unknown_message_is_a_404_that_says_so(client: Any) -> None:
    """A message the selection does not have (a stale link after an edit) is a clear 404."""
    response = client.get("/message", params={"kind": "invoice", "relation": "R999"})
    assert response.status_code == 404
    assert "No message invoice for R999 in this selection." in response.text


def test_hostile_data_is_escaped_everywhere(workspace: Path) -> None:
    """GIVEN a relation named like markup and a subject that echoes it THEN pages show text, never tags."""
    data_path = workspace / "data.yaml"
    data = yaml.safe_load(data_path.read_text(encoding="utf-8"))
    data["relations"].append(
        {"id": HOSTILE_ID, "name": HOSTILE_NAME, "emails": ["x@hostile.example"], "roles": {}}
    )
    data_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    policy = workspace / "firm-settings.mail"
    policy.write_text(
        policy.read_text(encoding="utf-8") + 'task.subject = "<b>{{ relation.name }}</b>"\n', encoding="utf-8"
    )
    client = make_client(policy, data_path)
    pages = [
        client.get("/", params={"q": "hostile.example"}),
        client.get("/message", params={"kind": "task", "relation": HOSTILE_ID}),
        client.get("/source", params={"file": "data.yaml"}),
        client.get("/source", params={"file": "firm-settings.mail"}),
    ]
    for page in pages:
        assert page.status_code == 200
        assert "<script>alert" not in page.text
        assert "<img src=x" not in page.text
        assert "<b><img" not in page.text
    gallery, message = pages[0].text, pages[1].text
    assert '<span class="relation">&lt;script&gt;alert(1)&lt;/script&gt;</span>' in gallery
    assert '<div class="relname">&lt;img src=x onerror=alert(2)&gt;</div>' in gallery
    assert '<dd class="subject">&lt;b&gt;&lt;img src=x onerror=alert(2)&gt;&lt;/b&gt;</dd>' in gallery
    assert "<h1>task · &lt;script&gt;alert(1)&lt;/script&gt;</h1>" in message
    # The link to the message keeps the id intact, percent-encoded in the query.
    assert 'href="/message?kind=task&amp;relation=%3Cscript%3Ealert%281%29%3C%2Fscript%3E"' in gallery


def test_broken_policy_shows_its_diagnostics(workspace: Path) -> None:
    """GIVEN a misspelt source THEN every page shows the diagnostic, the excerpt and the help."""
    policy = workspace / "firm-settings.mail"
    line = line_of(policy, "invoice.cc")
    policy.write_text(
        policy.read_text(encoding="utf-8").replace("invoice.cc = responsible", "invoice.cc = responsibel"),
        encoding="utf-8",
    )
    client = make_client(policy, workspace / "data.yaml")
    for url in ("/", INVOICE):
        html = client.get(url).text
        assert '<h1 class="problems-title">1 error stops the preview</h1>' in html
        assert (
            f"firm-settings.mail:{line}:14</a>: <b>error[MP103]</b>: unknown address source 'responsibel'"
            in html
        )
        assert (
            f'<span class="hl"><span class="ln">{line}</span>invoice.cc = <mark>responsibel</mark></span>'
            in html
        )
        assert "<p class=\"help\">help: did you mean 'responsible'?</p>" in html


def test_data_error_shows_instead_of_the_gallery(workspace: Path) -> None:
    """GIVEN a data file that is not a mapping THEN the page says so, naming the file."""
    data_path = workspace / "data.yaml"
    data_path.write_text("- just\n- a list\n", encoding="utf-8")
    html = make_client(workspace / "firm-settings.mail", data_path).get("/").text
    assert "error[E-DATA]</b>:" in html
    assert "data.yaml: expected a mapping with users, client_groups, relations and documents" in html


def test_selection_options_narrow_the_gallery(workspace: Path) -> None:
    """--kind, --relation, --document and --audience select the messages shown."""
    policy, data = workspace / "firm-settings.mail", workspace / "data.yaml"

    def count(selection: Selection) -> str:
        html = make_client(policy, data, selection).get("/").text
        match = re.search(r'<span id="count">(\d+)</span>', html)
        assert match, html
        return match.group(1)

    assert count(Selection(kind="invoice")) == "6"
    assert count(Selection(relations=("R003",))) == "12"
    assert count(Selection(documents=("F2026-0043", "NC2026-0003"))) == "2"
    assert count(Selection(kind="mailing", audience="garages")) == "2"
    unknown = make_client(policy, data, Selection(kind="mailing", audience="garagse")).get("/").text
    assert "unknown audience 'garagse' (known: all_promotional, garages); did you mean 'garages'?" in unknown


@pytest.mark.parametrize("suffix", [".json", ".rules"])
def test_a_compiled_table_previews_with_links_into_its_policy(workspace: Path, suffix: str) -> None:
    """GIVEN a rule table compiled next to its policy THEN the same pages, rule links into the .mail.

    Any file not named *.mail is a compiled table, as for the other commands."""
    from mailpolicy.compiler import compile_file

    policy = workspace / "firm-settings.mail"
    result = compile_file(policy)
    table = workspace / f"firm-settings{suffix}"
    table.write_text(
        json.dumps(result.table, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    client = make_client(table, workspace / "data.yaml")
    assert '<span id="count">72</span> of 72 messages' in client.get("/").text
    line = line_of(policy, "invoice.cc")
    assert f'href="/source?file=firm-settings.mail&amp;line={line}#L{line}"' in row(
        client.get(INVOICE).text, "cc"
    )
    assert "invoice.cc = responsible" in client.get("/source", params={"file": "firm-settings.mail"}).text


def test_sender_and_recipient_feed_their_sources(workspace: Path) -> None:
    """--recipient builds the welcome mails; --sender fills the `sender` source (From, BCC)."""
    policy, data = workspace / "firm-settings.mail", workspace / "data.yaml"
    welcome = make_client(policy, data, Selection(kind="welcome", recipients=("nouveau@garage-martin.be",)))
    html = welcome.get("/").text
    assert '<span id="count">6</span> of 6 messages · 0 failed' in html
    assert html.count('<dd class="to">nouveau@garage-martin.be</dd>') == 6
    task = make_client(policy, data, Selection(kind="task", relations=("R001",), sender="jan"))
    page = task.get("/message", params={"kind": "task", "relation": "R001"}).text
    assert '<span class="addr">jan@dupont-associes.be</span>' in row(page, "from")
    assert '<code class="source">sender</code> (user jan)' in row(page, "from")
    assert "sender <b>jan</b>" in page


def test_other_host_names_are_refused(client: Any) -> None:
    """A page of another site reaching the preview through DNS rebinding gets nothing."""
    assert client.get("/", headers={"host": "evil.example"}).status_code == 400
    assert client.get("/", headers={"host": "localhost:8765"}).status_code == 200


def test_every_message_page_of_the_example_renders(client: Any) -> None:
    """Every card opens: a built message with its envelope and .eml, a failed one with its error."""
    gallery = "".join(client.get("/", params={"page": n}).text for n in (1, 2, 3))
    cards = re.findall(
        r'<li class="card( failed| skipped)?"><a class="open" href="(/message\?[^"]+)"', gallery
    )
    assert len(cards) == 72
    for state, link in cards:
        html = client.get(link.replace("&amp;", "&")).text
        if state:
            assert '<p class="error"><b>' in html and '<table class="envelope">' not in html, link
        else:
            assert '<table class="envelope">' in html and 'id="download"' in html, link
            assert "cannot be rendered" not in html, link


def test_an_unexpected_failure_while_loading_becomes_a_page(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in a stage shows as an error page (and keeps the server alive), never a traceback.

    No real input makes a stage crash on purpose, so the failure is injected.
    """
    import mailpolicy.preview.app as app_module

    def crash(*_args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(app_module, "load_snapshot", crash)
    html = make_client(workspace / "firm-settings.mail", workspace / "data.yaml").get("/").text
    assert "<b>error[E-INTERNAL]</b>: the preview could not load the files: RuntimeError: boom" in html

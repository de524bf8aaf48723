"""The preview in a real browser: Playwright driving Debian's headless Chromium against a live server.

Each test serves a copy of the example from a background thread on a free port, clicks through
it as a consultant would, edits the copied files and watches the open page follow. Screenshots
go to tests/artifacts/preview/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from mailpolicy.preview.model import Selection
from mailpolicy.preview.server import PreviewServer
from tests.browser.chromium import FLAGS, chromium_executable
from tests.preview.helpers import GENERAL_REPLY_TO, INVOICE_CC, edit_rule, rule_position

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "preview"
# Open pages must follow a save within a second; the margin covers a loaded CI machine.
RELOAD_MS = 1500

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_executable(), headless=True, args=FLAGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page at a desktop size."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A copy of examples/ that the tests edit."""
    target = tmp_path / "example"
    shutil.copytree(ROOT / "examples", target)
    # The rules the tests follow, in one known spelling whatever the example's layout.
    edit_rule(target / "firm-settings.mail", INVOICE_CC, "invoice.cc = responsible")
    edit_rule(target / "firm-settings.mail", GENERAL_REPLY_TO, "reply_to = responsible else company")
    return target


def serve(workspace: Path) -> PreviewServer:
    """Start the preview of WORKSPACE on a free port."""
    server = PreviewServer(workspace / "firm-settings.mail", workspace / "data.yaml", Selection(), port=0)
    server.start()
    return server


def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    """A screenshot under tests/artifacts/preview/ (the whole page, or what the window shows)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def edit(path: Path, old: str, new: str) -> None:
    """Replace OLD by NEW in PATH, as an editor's save."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def wait_live(page: Page) -> None:
    """Wait until the page's live-reload stream is connected (the badge turns on)."""
    expect(page.locator("#live.on")).to_have_count(1, timeout=5000)


def test_gallery_to_message_to_rule_and_live_reload(page: Page, workspace: Path) -> None:
    """GIVEN the example WHEN an invoice is opened THEN its envelope explains itself and follows edits."""
    policy = workspace / "firm-settings.mail"
    cc_line, cc_column = rule_position(policy, INVOICE_CC)
    server = serve(workspace)
    try:
        # Gallery: every kind against every relation, each card with subject, From and To.
        page.goto(server.url)
        expect(page.locator("#count")).to_have_text("72")
        expect(page.locator(".card")).to_have_count(24)
        shot(page, "gallery")

        # Search: the invoice of R001.
        page.get_by_label("search").fill("R001")
        page.get_by_label("kind").select_option("invoice")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator("#count")).to_have_text("1")
        card = page.locator(".card")
        expect(card.locator(".subject")).to_have_text(
            "Facture 2026-0042 du 20/11/2026 – Cabinet Dupont & Associés"
        )
        expect(card.locator(".to")).to_have_text("compta@garage-martin.be")
        card.locator("a.open").click()

        # Message: the envelope table, and the rule behind the CC address.
        expect(page.locator("h1")).to_have_text("invoice · R001 · F2026-0042")
        expect(page.locator("#field-to .addr")).to_have_text(["compta@garage-martin.be"])
        expect(page.locator("#field-bcc .addr")).to_have_text(["office@dupont-associes.be"])
        cc = page.locator("#field-cc .address")
        expect(cc.locator(".addr")).to_have_text("jan@dupont-associes.be")
        expect(cc.locator("code.source")).to_have_text("responsible")
        rule = cc.locator("a.rule")
        expect(rule).to_have_text(f"firm-settings.mail:{cc_line}:{cc_column}")
        expect(page.locator("#html-part")).to_have_attribute("width", "600")
        expect(page.frame_locator("#html-part").get_by_text("Madame, Monsieur,")).to_be_visible()
        expect(page.locator(".text-part")).to_contain_text("Vous trouverez ci-joint la facture 2026-0042")
        shot(page, "message-600")

        # The .eml download is the message as `render` writes it.
        with page.expect_download() as download:
            page.locator("#download").click()
        assert download.value.suggested_filename == "invoice-R001-F2026-0042.eml"
        saved = Path(download.value.path()).read_bytes()
        assert b"\r\nTo: compta@garage-martin.be\r\n" in saved

        # The rule's link opens the policy at that line, highlighted.
        rule.click()
        expect(page).to_have_url(f"{server.url}source?file=firm-settings.mail&line={cc_line}#L{cc_line}")
        target = page.locator(f"#L{cc_line}")
        expect(target).to_have_class("hl")
        expect(target).to_contain_text("invoice.cc = responsible")
        shot(page, "source", full_page=False)  # the window, scrolled to the anchored line
        page.go_back()

        # 375 px: the HTML part narrows.
        page.get_by_role("link", name="375 px").click()
        frame = page.locator("#html-part")
        expect(frame).to_have_attribute("width", "375")
        box = frame.bounding_box()
        assert box is not None and 375 <= box["width"] <= 380
        shot(page, "message-375")

        # Live reload: the partner replaces the responsible in CC; the open page follows.
        wait_live(page)
        started = time.monotonic()
        edit(policy, "invoice.cc = responsible", "invoice.cc = partner")
        expect(page.locator("#field-cc .addr")).to_have_text("marie@dupont-associes.be", timeout=RELOAD_MS)
        assert time.monotonic() - started < RELOAD_MS / 1000
        expect(page.locator("#field-cc code.source")).to_have_text("partner")
        expect(page.locator("#html-part")).to_have_attribute("width", "375")  # the width survives
        shot(page, "message-after-edit")

        # A broken policy: the same page shows the diagnostics instead of going blank...
        wait_live(page)
        edit(policy, "invoice.cc = partner", "invoice.cc = partnr")
        expect(page.locator(".problems-title")).to_have_text("1 error stops the preview", timeout=RELOAD_MS)
        diagnostic = page.locator(".diagnostic .message")
        expect(diagnostic).to_contain_text("error[MP103]: unknown address source 'partnr'")
        expect(page.locator(".diagnostic mark")).to_have_text("partnr")
        expect(page.locator(".diagnostic .help")).to_have_text("help: did you mean 'partner'?")
        shot(page, "diagnostics")

        # ...and the message comes back once the file is fixed.
        wait_live(page)
        edit(policy, "invoice.cc = partnr", "invoice.cc = responsible")
        expect(page.locator("#field-cc .addr")).to_have_text("jan@dupont-associes.be", timeout=RELOAD_MS)
    finally:
        server.stop()


def test_broken_policy_at_start_shows_diagnostics_and_the_data_edit_reloads(
    page: Page, workspace: Path
) -> None:
    """GIVEN a policy that does not compile THEN its diagnostics; once fixed, the gallery follows the data."""
    policy = workspace / "firm-settings.mail"
    edit(policy, "reply_to = responsible else company", "reply_to = responsible else compnay")
    server = serve(workspace)
    try:
        page.goto(server.url)
        expect(page.locator(".problems-title")).to_have_text("1 error stops the preview")
        expect(page.locator(".diagnostic .help")).to_have_text("help: did you mean 'company'?")
        link = page.locator(".diagnostic .message a.rule")
        line, _ = rule_position(policy, r"^reply_to = responsible else compnay$")
        expect(link).to_have_text(f"firm-settings.mail:{line}:29")
        shot(page, "diagnostics-at-start")

        wait_live(page)
        edit(policy, "reply_to = responsible else compnay", "reply_to = responsible else company")
        expect(page.locator("#count")).to_have_text("72", timeout=RELOAD_MS)

        # The data file is watched too: the relation's new address shows on its card.
        page.get_by_label("search").fill("R001")
        page.get_by_label("kind").select_option("general")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator(".card .to")).to_have_text("compta@garage-martin.be")
        wait_live(page)
        edit(
            workspace / "data.yaml",
            "emails: [compta@garage-martin.be]",
            "emails: [direction@garage-martin.be]",
        )
        expect(page.locator(".card .to")).to_have_text("direction@garage-martin.be", timeout=RELOAD_MS)
        shot(page, "gallery-after-data-edit")
    finally:
        server.stop()

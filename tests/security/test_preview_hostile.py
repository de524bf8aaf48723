"""The preview web page with a hostile data file: every value escaped, message HTML sandboxed.

A relation id or name holding markup must never run in the consultant's browser: pages escape
it, and the message's own HTML is served under a `sandbox` Content-Security-Policy.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.security.test_bodies import POLICY, TEMPLATE

SCRIPT = "<script>alert(1)</script>"
DATA = f"""\
relations:
  - {{id: "R1{SCRIPT}", name: "{SCRIPT}\\"><img src=x onerror=alert(2)>", emails: [a@client.be],
     attributes: {{portal: "https://ok.example"}}}}
"""


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Any]:
    """A TestClient over the preview of a policy with the hostile data file (no file watching)."""
    from starlette.testclient import TestClient

    from mailpolicy.preview.app import PreviewState, create_app
    from mailpolicy.preview.model import Selection

    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "invoice.mjml").write_text(TEMPLATE, encoding="utf-8")
    (tmp_path / "policy.mail").write_text(POLICY, encoding="utf-8")
    (tmp_path / "data.yaml").write_text(DATA, encoding="utf-8")
    state = PreviewState(tmp_path / "policy.mail", tmp_path / "data.yaml", Selection(kind="invoice"))
    with TestClient(create_app(state, watch_files=False), base_url="http://127.0.0.1") as test_client:
        yield test_client


def test_gallery_and_message_pages_escape_ids_and_names(client: Any) -> None:
    """GIVEN a relation whose id and name hold <script> and an onerror attribute
    WHEN the gallery and the message page are fetched THEN neither contains the markup unescaped."""
    gallery = client.get("/")
    assert gallery.status_code == 200
    message = client.get("/message", params={"kind": "invoice", "relation": f"R1{SCRIPT}"})
    assert message.status_code == 200
    for page in (gallery, message):
        assert SCRIPT not in page.text
        assert "<img src=x" not in page.text
        assert "&lt;script&gt;" in page.text


def test_message_html_is_served_sandboxed(client: Any) -> None:
    """GIVEN the message's HTML part WHEN served THEN under a sandbox CSP that allows no script,
    and with the hostile name escaped."""
    response = client.get("/message.html", params={"kind": "invoice", "relation": f"R1{SCRIPT}"})
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert csp.split(";")[0] == "sandbox"
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert SCRIPT not in response.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


@pytest.mark.parametrize(
    "name", ["../../../../etc/passwd", "/etc/passwd", "data.yaml/../../x", "templates/../../secret"]
)
def test_source_view_serves_only_the_policys_own_files(client: Any, name: str) -> None:
    """GIVEN a `file=` parameter that names anything but the preview's own sources
    WHEN the source view is asked for it THEN 404, and nothing outside is read."""
    response = client.get("/source", params={"file": name})
    assert response.status_code == 404
    assert "root:" not in response.text


def test_preview_listens_on_loopback_only() -> None:
    """GIVEN the preview server WHEN it binds THEN only 127.0.0.1: client data never leaves the machine."""
    from mailpolicy.preview import server

    sock = server.bind(0)
    try:
        assert sock.getsockname()[0] == "127.0.0.1"
    finally:
        sock.close()

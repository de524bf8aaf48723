"""The message page's envelope table as a golden HTML file, for a small policy owned by this test.

The policy and data are written here (not the example) so that the snapshot changes only when the
page does: every kind of row is in it (a rule passed over, a source skipped, an address reached
through `general`, a built-in default, an empty field).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from syrupy.extensions.single_file import WriteMode

from mailpolicy.preview.app import PreviewState, create_app
from mailpolicy.preview.model import Selection
from tests.conftest import _TextFile

POLICY = """\
firm {
  name = "Cabinet <Test> & Fils"
  company = "info@test-firm.be"
  platform = "inbox@mailer.example"
  verified_domains = ["test-firm.be"]
}
from = sender else company
reply_to = responsible else company
bcc = free "archive@test-firm.be"
invoice.bcc = general, free "office@test-firm.be"
invoice.cc = partner else responsible
invoice.subject = "Facture {{ document.number }}"
invoice.subject = "Grosse facture {{ document.number }}" when document.amount >= 10000
"""

DATA = """\
users:
  - {id: ann, name: Ann, email: ann@test-firm.be}
relations:
  - id: C1
    name: "Client <b>un</b>"
    emails: "compta@client.example, not-an-address"
    roles: {responsible: ann}
documents:
  - {id: D1, kind: invoice, relation: C1, number: "7", date: 2026-01-02, amount: 12.5, currency: EUR}
"""


class _HtmlFile(_TextFile):
    """Snapshots kept as `.html` files."""

    file_extension = "html"
    _write_mode = WriteMode.TEXT


def test_envelope_table_snapshot(tmp_path: Path, file_snapshot: Any) -> None:
    """GIVEN a small policy THEN the envelope table of its invoice reads as the golden file."""
    from starlette.testclient import TestClient

    (tmp_path / "policy.mail").write_text(POLICY, encoding="utf-8")
    (tmp_path / "data.yaml").write_text(DATA, encoding="utf-8")
    state = PreviewState(tmp_path / "policy.mail", tmp_path / "data.yaml", Selection())
    assert state.snapshot.ok, state.snapshot.problems
    client = TestClient(create_app(state, watch_files=False), base_url="http://127.0.0.1")
    html = client.get("/message", params={"kind": "invoice", "relation": "C1", "document": "D1"}).text
    table = re.search(r"<h2>Envelope</h2>.*?</table>.*?</p>", html, re.S)
    assert table is not None
    # One row per line, so that a change reads as a small diff.
    readable = table.group(0).replace("<tr", "\n<tr").replace("</tbody>", "\n</tbody>") + "\n"
    assert readable == file_snapshot(extension_class=_HtmlFile)

"""Composing messages: the fast MIME path, the stdlib path, escaping, header safety, snapshots."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mailpolicy.compiler.templates import compile_template
from mailpolicy.runtime.data import Dataset, Document, Relation, User, load_data
from mailpolicy.runtime.errors import MessageError
from mailpolicy.runtime.message import (
    ComposedMessage,
    build_email_message,
    compose_message,
    recipients_of,
)
from mailpolicy.runtime.resolve import Envelope
from mailpolicy.runtime.table import RuleTable, load_table
from tests.conftest import _TextFile
from tests.runtime.tables import make_table

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
CLOCK = lambda: datetime(2026, 11, 24, 9, 30, tzinfo=UTC)  # noqa: E731
MAKE_ID = lambda: "20261124093000.0001"  # noqa: E731


class _EmlFile(_TextFile):
    """Snapshots of messages as `.eml` files (LF line ends for reading; CRLF is asserted)."""

    file_extension = "eml"


def compiled(name: str) -> dict[str, Any]:
    """The compiled PARTS of one example template."""
    entry, diags = compile_template(EXAMPLES / "templates" / name, EXAMPLES, f"templates/{name}")
    assert diags == [] and entry is not None
    return entry


@pytest.fixture(scope="module")
def table() -> RuleTable:
    raw = make_table()
    raw["templates"] = {
        "templates/invoice.mjml": compiled("invoice.mjml"),
        "templates/invoice-nl.mjml": compiled("invoice-nl.mjml"),
    }
    return load_table(raw)


def dataset(
    tmp: Path | None = None, *, name: str = "Garage Martin SPRL", language: str = "fr", rid: str = "R001"
) -> Dataset:
    """One relation with one invoice (its PDF in TMP when given)."""
    file = None
    if tmp is not None:
        pdf = tmp / "F2026-0042.pdf"
        pdf.write_bytes(b"%PDF-1.4\n% test invoice\n" + bytes(range(256)))
        file = str(pdf)
    relation = Relation(
        id=rid,
        name=name,
        emails=["compta@garage-martin.be"],
        dunning_emails=[],
        client_group=None,
        roles={"responsible": "jan"},
        language=language,
        family="garage",
        accepts_promotional=True,
        attributes={},
    )
    document = Document(
        id="F2026-0042",
        kind="invoice",
        relation=rid,
        number="2026-0042",
        date="2026-11-20",
        due_date="2026-12-20",
        amount=Decimal("1210.00"),
        currency="EUR",
        dunning_emails=[],
        file=file,
    )
    user = User(id="jan", name="Jan Janssens", email="jan@dupont-associes.be")
    return Dataset(
        path="data.yaml",
        users={"jan": user},
        client_groups={},
        relations={rid: relation},
        documents={"F2026-0042": document},
        relation_order=[rid],
        document_order=["F2026-0042"],
    )


def envelope(data: Dataset, **changes: Any) -> Envelope:
    """The invoice envelope of R001, with CHANGES."""
    values: dict[str, Any] = {
        "kind": "invoice",
        "language": "fr",
        "relation": "R001",
        "document": "F2026-0042",
        "sender": "jan",
        "from_address": "noreply@dupont-associes.be",
        "from_name": "Cabinet Dupont & Associés",
        "reply_to": ["jan@dupont-associes.be"],
        "to": ["compta@garage-martin.be"],
        "cc": [],
        "bcc": ["office@dupont-associes.be"],
        "subject": "Facture 2026-0042 du 20/11/2026",
        "template": "templates/invoice.mjml",
        "attach": data.documents["F2026-0042"].file if "F2026-0042" in data.documents else None,
    }
    values.update(changes)
    return Envelope(**values)


def parse(raw: bytes) -> email.message.EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def defects(msg: email.message.Message) -> list[Any]:
    return [d for part in msg.walk() for d in part.defects]


def compose(table: RuleTable, data: Dataset, env: Envelope) -> ComposedMessage:
    return compose_message(table, data, env, clock=CLOCK, make_id=MAKE_ID)


def test_invoice_eml_snapshot(table: RuleTable, tmp_path: Path, file_snapshot: Any) -> None:
    """GIVEN the invoice template and a PDF WHEN composed THEN the .eml matches its snapshot."""
    data = dataset(tmp_path)
    composed = compose(table, data, envelope(data))
    text = composed.data.decode("ascii")
    # Every line ends in CRLF; the snapshot stores LF for readability.
    assert "\n" not in text.replace("\r\n", "")
    assert text.replace("\r\n", "\n") == file_snapshot.use_extension(_EmlFile)


def test_invoice_parses_back_without_defects(table: RuleTable, tmp_path: Path) -> None:
    data = dataset(tmp_path)
    msg = parse(compose(table, data, envelope(data)).data)
    assert defects(msg) == []
    assert [p.get_content_type() for p in msg.walk()] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "application/pdf",
    ]
    assert str(msg["From"]) == "Cabinet Dupont & Associés <noreply@dupont-associes.be>"
    assert str(msg["Subject"]) == "Facture 2026-0042 du 20/11/2026"
    assert str(msg["Message-ID"]) == "<20261124093000.0001@dupont-associes.be>"
    assert str(msg["Date"]) == "Tue, 24 Nov 2026 09:30:00 +0000"
    attachment = next(msg.iter_attachments())
    assert attachment.get_filename() == "F2026-0042.pdf"
    assert attachment.get_content() == Path(data.documents["F2026-0042"].file or "").read_bytes()
    text = msg.get_body(("plain",))
    assert text is not None
    assert "d'un montant de 1\u202f210,00\xa0€" in text.get_content()
    assert "(https://portail.dupont-associes.be/factures/2026-0042?client=R001)" in text.get_content()


def test_bcc_only_in_the_smtp_envelope(table: RuleTable) -> None:
    data = dataset()
    env = envelope(data, attach=None, cc=["associe@dupont-associes.be"])
    composed = compose(table, data, env)
    msg = parse(composed.data)
    assert "Bcc" not in msg
    assert b"office@dupont-associes.be" not in composed.data
    assert composed.recipients == (
        "compta@garage-martin.be",
        "associe@dupont-associes.be",
        "office@dupont-associes.be",
    )
    assert composed.mail_from == "noreply@dupont-associes.be"


def test_script_in_a_name_arrives_escaped(table: RuleTable) -> None:
    data = dataset(name="<script>alert(1)</script>")
    msg = parse(compose(table, data, envelope(data, attach=None)).data)
    html = msg.get_body(("html",))
    text = msg.get_body(("plain",))
    assert html is not None and text is not None
    assert "<script>" not in html.get_content()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html.get_content()
    # The plain text is not HTML: the name is shown as written.
    assert "<script>alert(1)</script>" in text.get_content()


def test_quote_in_a_value_cannot_leave_an_attribute(table: RuleTable) -> None:
    rid = 'R1" onmouseover="x'
    data = dataset(rid=rid)
    html = parse(compose(table, data, envelope(data, relation=rid, attach=None)).data).get_body(("html",))
    assert html is not None
    assert "client=R1&quot; onmouseover=&quot;x" in html.get_content()
    assert 'onmouseover="x' not in html.get_content()


def test_header_injection_adds_no_header_or_recipient(table: RuleTable) -> None:
    data = dataset(name="Garage\r\nBcc: x@evil.example")
    injected = "Garage\r\nBcc: x@evil.example\u2028To: y@evil.example"
    env = envelope(data, attach=None, from_name=injected, subject=f"Facture {injected}")
    composed = compose(table, data, env)
    msg = parse(composed.data)
    assert defects(msg) == []
    assert msg.keys() == [
        "From",
        "To",
        "Reply-To",
        "Subject",
        "Date",
        "Message-ID",
        "MIME-Version",
        "Content-Type",
    ]
    assert str(msg["Subject"]) == "Facture Garage Bcc: x@evil.example To: y@evil.example"
    assert str(msg["To"]) == "compta@garage-martin.be"
    assert "evil" not in "".join(composed.recipients)
    assert all("evil" not in str(msg[h]) for h in ("To", "Reply-To"))
    stdlib = parse(build_email_message(table, data, env, clock=CLOCK, make_id=MAKE_ID).as_bytes())
    assert stdlib.keys() == msg.keys()


def test_text_only_message_without_template(table: RuleTable) -> None:
    data = dataset()
    env = envelope(data, template=None, attach=None, kind="general", document=None)
    msg = parse(compose(table, data, env).data)
    assert defects(msg) == []
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content() == "\r\n"  # no template: an empty body (CRLF as sent)


def test_platform_sender_gets_a_platform_message_id(table: RuleTable) -> None:
    data = dataset()
    env = envelope(data, from_address="inbox@mailer.example", attach=None)
    assert compose(table, data, env).message_id == "20261124093000.0001@mailer.example"


def test_dutch_template_and_long_dates(table: RuleTable) -> None:
    data = dataset(language="nl")
    env = envelope(data, language="nl", template="templates/invoice-nl.mjml", attach=None)
    text = parse(compose(table, data, env).data).get_body(("plain",))
    assert text is not None
    assert "van 20 november 2026 gericht aan Garage Martin SPRL" in text.get_content()
    assert "€\xa01.210,00" in text.get_content()


def test_international_domain_goes_out_in_idna(table: RuleTable) -> None:
    data = dataset()
    env = envelope(data, attach=None, to=["compta@bücher.example"])
    composed = compose(table, data, env)
    assert str(parse(composed.data)["To"]) == "compta@xn--bcher-kva.example"


def test_non_ascii_local_part_fails_the_message(table: RuleTable) -> None:
    data = dataset()
    with pytest.raises(MessageError) as info:
        compose(table, data, envelope(data, attach=None, to=["zoë@cafe.be"]))
    assert info.value.message == "address 'zoë@cafe.be' has a non-ASCII local part (needs SMTPUTF8)"


def test_missing_value_fails_the_message_naming_the_path(table: RuleTable) -> None:
    data = dataset()
    env = envelope(data, document=None, attach=None)
    with pytest.raises(MessageError) as info:
        compose(table, data, env)
    assert info.value.message == (
        "'document.number' has no value for this message (placeholder at templates/invoice.mjml:3:23)"
    )
    assert info.value.relation == "R001"


def test_missing_attachment_fails_the_message(table: RuleTable, tmp_path: Path) -> None:
    data = dataset()
    env = envelope(data, attach=str(tmp_path / "gone.pdf"))
    with pytest.raises(MessageError) as info:
        compose(table, data, env)
    assert info.value.message == f"cannot attach {tmp_path / 'gone.pdf'}: No such file or directory"


def test_unknown_template_key_fails_the_message(table: RuleTable) -> None:
    data = dataset()
    with pytest.raises(MessageError) as info:
        compose(table, data, envelope(data, template="templates/nope.mjml", attach=None))
    assert info.value.message == "template 'templates/nope.mjml' is not in the rule table"


def test_recipients_are_deduplicated_case_insensitively() -> None:
    data = dataset()
    env = envelope(data, to=["a@x.be"], cc=["A@x.be", "b@x.be"], bcc=["B@X.be", "c@x.be"])
    assert recipients_of(env) == ("a@x.be", "b@x.be", "c@x.be")


def test_real_data_file_round_trip(table: RuleTable, tmp_path: Path) -> None:
    """The data loader's records work as well as hand-built ones."""
    (tmp_path / "data.yaml").write_text(
        "relations:\n"
        "  - {id: R001, name: 'Café Zoë', emails: [a@cafe.be], language: fr}\n"
        "documents:\n"
        "  - {id: F1, kind: invoice, relation: R001, number: '7', date: 2026-01-05,\n"
        "     due_date: 2026-02-05, amount: 12, currency: EUR}\n",
        encoding="utf-8",
    )
    data = load_data(tmp_path / "data.yaml")
    env = envelope(data, relation="R001", document="F1", sender=None, attach=None, to=["a@cafe.be"])
    msg = parse(compose(table, data, env).data)
    text = msg.get_body(("plain",))
    assert text is not None and "adressée à Café Zoë, d'un montant de 12,00\xa0€." in text.get_content()


def test_attachment_with_a_non_ascii_name_and_no_template(table: RuleTable, tmp_path: Path) -> None:
    """A text-only kind can still carry the document; an accented file name survives (RFC 2231)."""
    pdf = tmp_path / "Facture été 2026.pdf"
    pdf.write_bytes(b"%PDF-1.4\n")
    data = dataset()
    env = envelope(data, template=None, attach=str(pdf))
    fast = parse(compose(table, data, env).data)
    slow = parse(build_email_message(table, data, env, clock=CLOCK, make_id=MAKE_ID).as_bytes())
    for msg in (fast, slow):
        assert defects(msg) == []
        assert [p.get_content_type() for p in msg.walk()] == [
            "multipart/mixed",
            "text/plain",
            "application/pdf",
        ]
        attachment = next(msg.iter_attachments())
        assert attachment.get_filename() == "Facture été 2026.pdf"
        assert attachment.get_content() == b"%PDF-1.4\n"

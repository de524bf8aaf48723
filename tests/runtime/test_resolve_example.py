"""The bundled example, compiled for real: every seed behaviour on examples/firm-settings.mail.

The hand-written tables of test_resolve.py pin the runtime's semantics; this file checks that the
compiled policy and the runtime agree on them, article by article.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mailpolicy.compiler import compile_file
from mailpolicy.runtime import load_data, load_table, resolve_message
from mailpolicy.runtime.data import Dataset
from mailpolicy.runtime.errors import MessageSkipped
from mailpolicy.runtime.resolve import Envelope
from mailpolicy.runtime.table import RuleTable

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def table() -> RuleTable:
    """examples/firm-settings.mail, compiled."""
    result = compile_file(EXAMPLES / "firm-settings.mail")
    assert result.table is not None, [d.message for d in result.diagnostics]
    return load_table(result.table)


@pytest.fixture(scope="module")
def data() -> Dataset:
    """examples/data.yaml."""
    return load_data(EXAMPLES / "data.yaml")


def resolve(
    table: RuleTable, data: Dataset, kind: str, relation: str | None = None, **kwargs: Any
) -> Envelope:
    """One message of the example."""
    return resolve_message(table, data, kind=kind, relation=relation, **kwargs)


# --- 000: CC and BCC ------------------------------------------------------------------------------


def test_sender_gets_a_bcc_copy_of_a_task(table: RuleTable, data: Dataset) -> None:
    """`task.bcc = sender`: Jan sends → Jan gets a blind copy, unless already in CC as responsible."""
    assert resolve(table, data, "task", "R002", sender="jan").bcc == ["jan@dupont-associes.be"]
    env = resolve(table, data, "task", "R001", sender="jan")
    assert (env.cc, env.bcc) == (["jan@dupont-associes.be"], [])
    assert env.trace["bcc"]["tried"][-1]["reason"] == "already in to or cc"


def test_invoice_bcc_is_the_firm_address_and_direction_for_large_ones(
    table: RuleTable, data: Dataset
) -> None:
    """`invoice.bcc = free "office@..."`, plus the direction when the amount is 10 000 or more."""
    small = resolve(table, data, "invoice", document="F2026-0042", sender="jan")
    assert small.bcc == ["office@dupont-associes.be"]
    large = resolve(table, data, "invoice", document="F2026-0043", sender="jan")
    assert large.bcc == ["office@dupont-associes.be", "direction@dupont-associes.be"]
    # Two different invoice rules decided: the conditional one was passed over for the small invoice.
    assert small.trace["bcc"]["passed"] == [
        {"kind": "invoice", "rule": large.trace["bcc"]["rule"], "reason": "condition false"}
    ]


def test_general_cc_is_the_partner_and_kinds_without_cc_inherit_it(table: RuleTable, data: Dataset) -> None:
    """`cc = partner` in general; a credit note inherits the invoice CC (`responsible`)."""
    assert resolve(table, data, "general", "R001").cc == ["marie@dupont-associes.be"]
    assert resolve(table, data, "credit_note", document="NC2026-0003").cc == ["jan@dupont-associes.be"]


# --- 001: Reply-To and From -----------------------------------------------------------------------


def test_reply_to_general_responsible_else_company(table: RuleTable, data: Dataset) -> None:
    """The responsible; a relation without one → the own company's address."""
    assert resolve(table, data, "general", "R001").reply_to == ["jan@dupont-associes.be"]
    assert resolve(table, data, "general", "R003").reply_to == ["info@dupont-associes.be"]


def test_task_reply_to_collaborator_substitute_company(table: RuleTable, data: Dataset) -> None:
    """Tasks: the collaborator, else the substitute, else (empty field) the own company."""
    assert resolve(table, data, "task", "R001").reply_to == ["sophie@dupont-associes.be"]
    assert resolve(table, data, "task", "R002").reply_to == ["sophie@dupont-associes.be"]
    env = resolve(table, data, "task", "R003")
    assert env.reply_to == ["info@dupont-associes.be"]
    assert [entry["reason"] for entry in env.trace["reply_to"]["tried"][:2]] == [
        "empty role: relation 'R003' has no collaborator",
        "empty role: relation 'R003' has no substitute",
    ]


def test_invoice_and_reminder_reply_to(table: RuleTable, data: Dataset) -> None:
    """Invoices reply to the company; reminders to the free accounting address."""
    assert resolve(table, data, "invoice", document="F2026-0042").reply_to == ["info@dupont-associes.be"]
    assert resolve(table, data, "reminder", document="F2026-0042").reply_to == [
        "comptabilite@dupont-associes.be"
    ]


def test_from_is_the_sender_on_the_verified_domain(table: RuleTable, data: Dataset) -> None:
    """`from = sender else company`: Jan's own address; automated mail → the company address."""
    assert resolve(table, data, "task", "R001", sender="jan").from_address == "jan@dupont-associes.be"
    assert resolve(table, data, "task", "R001").from_address == "info@dupont-associes.be"


def test_unverified_sender_never_becomes_from(table: RuleTable, data: Dataset) -> None:
    """Pieter on gmail sends → From is the company address, and the trace says why."""
    env = resolve(table, data, "task", "R003", sender="pieter")
    assert env.from_address == "info@dupont-associes.be"
    assert env.trace["from"]["tried"][0]["reason"] == "unverified domain gmail.com"
    assert env.bcc == ["pieter.desmet@gmail.com"]  # a copy is fine: only From needs the verified domain


def test_from_name_per_kind(table: RuleTable, data: Dataset) -> None:
    """The firm's name, with a billing suffix on invoices."""
    assert resolve(table, data, "task", "R001").from_name == "Cabinet Dupont & Associés"
    assert resolve(table, data, "invoice", document="F2026-0042").from_name == (
        "Cabinet Dupont & Associés – Facturation"
    )


# --- 002: welcome mail and notifications -----------------------------------------------------------


def test_welcome_from_the_file_manager_copied_in_cc(table: RuleTable, data: Dataset) -> None:
    """File manager Jan sends the welcome mail and gets it in CC."""
    env = resolve(table, data, "welcome", "R001", recipients=["nouveau@garage-martin.be"])
    assert (env.from_address, env.to, env.cc, env.bcc) == (
        "jan@dupont-associes.be",
        ["nouveau@garage-martin.be"],
        ["jan@dupont-associes.be"],
        [],
    )


def test_welcome_cascade(table: RuleTable, data: Dataset) -> None:
    """No file manager → the client group's address; a group without address → the functional one."""
    assert resolve(table, data, "welcome", "R005", recipients=["a@taxi-bxl.be"]).from_address == (
        "garages@dupont-associes.be"
    )
    env = resolve(table, data, "welcome", "R004", recipients=["jean@example.org"])
    assert env.from_address == "noreply@dupont-associes.be"
    assert env.cc == ["noreply@dupont-associes.be"]


def test_notifications_custom_and_cascade(table: RuleTable, data: Dataset) -> None:
    """Chosen recipients per notification type (several at once), else the standard cascade."""
    assert resolve(table, data, "notification.vat_ok", "R001").to == [
        "jan@dupont-associes.be",
        "luc@dupont-associes.be",
    ]
    assert resolve(table, data, "notification.message", "R001").to == [
        "jan@dupont-associes.be",
        "marie@dupont-associes.be",
    ]
    # responsible and file manager are both Jan: one address.
    assert resolve(table, data, "notification.failed_task", "R001").to == ["jan@dupont-associes.be"]
    assert resolve(table, data, "notification.user_request", "R001").to == ["jan@dupont-associes.be"]
    assert resolve(table, data, "notification.user_request", "R003").to == ["noreply@dupont-associes.be"]


# --- 003: dunning addresses -------------------------------------------------------------------------


def test_dunning_addresses(table: RuleTable, data: Dataset) -> None:
    """Relation's comma-separated dunning addresses; the invoice's own; the contact's when empty."""
    assert resolve(table, data, "reminder", document="F2026-0042").to == [
        "relances@garage-martin.be",
        "patron@garage-martin.be",
    ]
    assert resolve(table, data, "reminder", document="F2026-0044").to == ["retards@leasing-dubois.be"]
    assert resolve(table, data, "reminder", document="F2026-0043").to == [
        "info@bakkerij-peeters.be",
        "boekhouding@bakkerij-peeters.be",
    ]


def test_send_time_dunning_override_comes_first(table: RuleTable, data: Dataset) -> None:
    """An address given when sending the reminder wins over every stored one."""
    env = resolve(table, data, "reminder", document="F2026-0044", recipients=["nouveau@leasing-dubois.be"])
    assert env.to == ["nouveau@leasing-dubois.be"]


# --- 004: mailings, languages, invalid data ---------------------------------------------------------


def test_mailing_needs_consent(table: RuleTable, data: Dataset) -> None:
    """Clients without `accepts_promotional: true` are skipped, whatever the selection."""
    assert resolve(table, data, "mailing", "R001").to == ["compta@garage-martin.be"]
    for relation in ("R002", "R004", "R005"):
        with pytest.raises(MessageSkipped):
            resolve(table, data, "mailing", relation)


def test_dutch_client_gets_the_dutch_subject(table: RuleTable, data: Dataset) -> None:
    """`invoice.subject[nl]` for a Dutch-speaking relation."""
    env = resolve(table, data, "invoice", document="F2026-0043")
    assert (env.language, env.subject) == (
        "nl",
        "Factuur 2026-0043 van 21/11/2026 – Cabinet Dupont & Associés",
    )
    assert env.template == "templates/invoice-nl.mjml"


def test_invalid_address_in_the_data_is_skipped_with_a_warning(table: RuleTable, data: Dataset) -> None:
    """R005's `not-an-address` never reaches a header; the trace and the warnings say so."""
    env = resolve(table, data, "invoice", document="F2026-0045")
    assert env.to == ["dispatch@taxi-bxl.be"]
    assert any("'not-an-address' is not a valid address" in warning for warning in env.warnings)
    skipped = [entry for entry in env.trace["to"]["tried"] if entry.get("address") == "not-an-address"]
    assert skipped and skipped[0]["reason"].startswith("invalid address:")


def test_every_message_of_the_example_is_the_same_without_the_trace(table: RuleTable, data: Dataset) -> None:
    """render and send resolve with trace=False: every kind, relation and document of the example
    (language variants, conditions, general chains, errors) gives what the traced resolve gives."""
    from mailpolicy.runtime.errors import MessageError

    def outcome(**kwargs: Any) -> object:
        try:
            env = resolve_message(table, data, **kwargs)
        except MessageError as exc:
            return (type(exc).__name__, str(exc))
        return {k: v for k, v in vars(env).items() if k not in ("trace", "_context")}

    compared = 0
    for kind in table.kinds:
        for sender in (None, "jan"):
            for relation in data.relation_order:
                kwargs: dict[str, Any] = dict(kind=kind, relation=relation, sender=sender)
                assert outcome(trace=False, **kwargs) == outcome(**kwargs), kwargs
                compared += 1
            for document in data.document_order:
                kwargs = dict(kind=kind, document=document, sender=sender)
                assert outcome(trace=False, **kwargs) == outcome(**kwargs), kwargs
                compared += 1
    assert compared > 100

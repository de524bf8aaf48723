"""Envelope resolution (SPEC 2.4) over hand-written rule tables: every behaviour of the seed articles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mailpolicy.runtime import load_data, load_table, resolve_message
from mailpolicy.runtime.data import Dataset
from mailpolicy.runtime.errors import MessageError, MessageSkipped
from mailpolicy.runtime.resolve import Envelope, format_trace
from tests.runtime.tables import Rule, cmp, else_, free, make_table, role, src, union, write_data


@pytest.fixture
def data(tmp_path: Path) -> Dataset:
    """The shared test data (tests/runtime/tables.py)."""
    return load_data(write_data(tmp_path))


def resolve(rules: list[Rule], data: Dataset, **kwargs: Any) -> Envelope:
    """Resolve one message with a table made of `rules` (numbered from line 10)."""
    table_kwargs = {k: kwargs.pop(k) for k in ("firm", "kinds", "roles") if k in kwargs}
    return resolve_message(load_table(make_table(rules, **table_kwargs)), data, **kwargs)


# --- seed 000: CC/BCC in general, invoice and task settings ------------------------------------


def test_sender_gets_a_bcc_copy(data: Dataset) -> None:
    """GIVEN `bcc = sender` WHEN Jan sends THEN Jan receives a BCC copy (Jean envoie → Jean en CCI)."""
    env = resolve([Rule("bcc", src("sender"))], data, kind="task", relation="R001", sender="jan")
    assert env.bcc == ["jan@dupont-associes.be"]
    assert env.trace["bcc"]["kind"] == "general"
    assert env.trace["bcc"]["rule"] == {"line": 10, "column": 1}


def test_automated_mail_has_no_sender_copy(data: Dataset) -> None:
    """GIVEN `bcc = sender` WHEN no user sends (automated mail) THEN no BCC, and the trace says why."""
    env = resolve([Rule("bcc", src("sender"))], data, kind="task", relation="R001")
    assert env.bcc == []
    assert env.trace["bcc"]["tried"] == [
        {"source": "sender", "result": "skipped", "reason": "no sender (automated mail)"}
    ]


def test_cc_with_a_collaborator_type(data: Dataset) -> None:
    """GIVEN `cc = partner` THEN the relation's partner is in CC, visible to all."""
    env = resolve([Rule("cc", role("partner"))], data, kind="general", relation="R001")
    assert env.cc == ["marie@dupont-associes.be"]


INVOICE_AND_TASK = [
    Rule("bcc", src("sender")),
    Rule("invoice.bcc", free("office@dupont-associes.be")),
    Rule("reply_to", else_(role("responsible"), src("company"))),
    Rule("invoice.reply_to", src("general")),
    Rule("task.reply_to", else_(role("collaborator"), src("company"))),
]


def test_invoice_settings_override_the_general_ones(data: Dataset) -> None:
    """GIVEN a general BCC and an invoice BCC THEN an invoice uses the invoice BCC only (replaces)."""
    env = resolve(INVOICE_AND_TASK, data, kind="invoice", relation="R001", sender="jan")
    assert env.bcc == ["office@dupont-associes.be"]
    assert env.trace["bcc"]["kind"] == "invoice"


def test_kinds_without_settings_fall_back_to_general(data: Dataset) -> None:
    """GIVEN no task BCC THEN a task uses the general BCC (si aucun paramètre spécifique...)."""
    env = resolve(INVOICE_AND_TASK, data, kind="task", relation="R001", sender="marie")
    assert env.bcc == ["marie@dupont-associes.be"]
    assert env.trace["bcc"]["kind"] == "general"


def test_a_kind_extending_invoice_inherits_its_settings(data: Dataset) -> None:
    """GIVEN `kind credit_note extends invoice` THEN credit notes use the invoice BCC."""
    env = resolve(
        INVOICE_AND_TASK,
        data,
        kinds={"credit_note": "invoice"},
        kind="credit_note",
        relation="R001",
        sender="jan",
    )
    assert env.bcc == ["office@dupont-associes.be"]


# --- seed 001: Reply-To ------------------------------------------------------------------------


def test_invoice_reply_to_general_uses_the_general_setting(data: Dataset) -> None:
    """GIVEN `reply_to = responsible else company` and `invoice.reply_to = general` THEN the responsible."""
    env = resolve(INVOICE_AND_TASK, data, kind="invoice", relation="R001")
    assert env.reply_to == ["jan@dupont-associes.be"]
    tried = env.trace["reply_to"]["tried"]
    assert tried[0]["source"] == "general" and tried[0]["kind"] == "general"
    assert tried[0]["via"]["rule"] == {"line": 12, "column": 1}


def test_empty_collaborator_field_falls_back_to_the_company_address(data: Dataset) -> None:
    """GIVEN `task.reply_to = collaborator else company` and no collaborator THEN the company address."""
    env = resolve(INVOICE_AND_TASK, data, kind="task", relation="R001")
    assert env.reply_to == ["info@dupont-associes.be"]
    assert env.trace["reply_to"]["tried"][0] == {
        "source": "collaborator",
        "result": "skipped",
        "reason": "empty role: relation 'R001' has no collaborator",
    }


def test_reply_to_the_sender(data: Dataset) -> None:
    """GIVEN `reply_to = sender` THEN replies go to the user who sent the mail (Jan Janssens)."""
    env = resolve([Rule("reply_to", src("sender"))], data, kind="general", relation="R001", sender="jan")
    assert env.reply_to == ["jan@dupont-associes.be"]


def test_reply_to_is_never_empty(data: Dataset) -> None:
    """GIVEN `reply_to = none` (or a chain yielding nothing) THEN Reply-To is the company address."""
    env = resolve([Rule("reply_to", src("none"))], data, kind="general", relation="R001")
    assert env.reply_to == ["info@dupont-associes.be"]
    assert (
        env.trace["reply_to"]["tried"][-1]["reason"] == "Reply-To is never empty: the company address is used"
    )
    env = resolve([Rule("reply_to", src("sender"))], data, kind="general", relation="R001")
    assert env.reply_to == ["info@dupont-associes.be"]


def test_default_sender_is_the_platform_with_the_firm_name(data: Dataset) -> None:
    """Without `from` rules the From is the platform address, shown with the firm's name."""
    env = resolve([], data, kind="invoice", relation="R001")
    assert (env.from_address, env.from_name) == ("inbox@mailer.example", "Cabinet Dupont & Associés")
    assert env.reply_to == ["info@dupont-associes.be"]
    assert env.to == ["compta@garage-martin.be"]


def test_firm_address_as_sender_needs_a_verified_domain(data: Dataset) -> None:
    """GIVEN `from = company` on a verified domain THEN From is the company address."""
    env = resolve([Rule("from", src("company"))], data, kind="invoice", relation="R001")
    assert env.from_address == "info@dupont-associes.be"
    env = resolve(
        [Rule("from", src("company"))],
        data,
        firm={"verified_domains": ["other.be"]},
        kind="invoice",
        relation="R001",
    )
    assert env.from_address == "inbox@mailer.example"


# --- From on verified domains -------------------------------------------------------------------


def test_sender_on_an_unverified_domain_never_becomes_from(data: Dataset) -> None:
    """GIVEN `from = sender else company` and a sender on gmail THEN From is the company address."""
    env = resolve(
        [Rule("from", else_(src("sender"), src("company")))],
        data,
        kind="task",
        relation="R001",
        sender="piet",
    )
    assert env.from_address == "info@dupont-associes.be"
    assert env.trace["from"]["tried"][0] == {
        "source": "sender",
        "result": "skipped",
        "address": "piet.private@gmail.com",
        "reason": "unverified domain gmail.com",
    }


def test_unverified_sender_alone_gives_the_platform(data: Dataset) -> None:
    """GIVEN `from = sender` and a gmail sender THEN From is the platform address, never gmail."""
    env = resolve([Rule("from", src("sender"))], data, kind="task", relation="R001", sender="piet")
    assert env.from_address == "inbox@mailer.example"
    env = resolve([Rule("from", src("sender"))], data, kind="task", relation="R001", sender="jan")
    assert env.from_address == "jan@dupont-associes.be"


def test_subdomains_of_verified_domains_are_verified(data: Dataset) -> None:
    """GIVEN a free address on a subdomain of a verified domain THEN it may be From."""
    env = resolve([Rule("from", free("mail@notify.dupont-associes.be"))], data, kind="task", relation="R001")
    assert env.from_address == "mail@notify.dupont-associes.be"
    env = resolve([Rule("from", free("mail@evil-dupont-associes.be"))], data, kind="task", relation="R001")
    assert env.from_address == "inbox@mailer.example"


def test_from_keeps_the_first_verified_address_of_a_union(data: Dataset) -> None:
    """From is always exactly one address: the first verified one."""
    env = resolve(
        [Rule("from", union(src("sender"), role("partner"), src("company")))],
        data,
        kind="task",
        relation="R001",
        sender="piet",
    )
    assert env.from_address == "marie@dupont-associes.be"


# --- seed 002: welcome mail and notifications ---------------------------------------------------


def test_welcome_sent_by_the_file_manager_with_a_copy(data: Dataset) -> None:
    """GIVEN a file manager THEN the welcome mail comes from them and copies them in CC."""
    env = resolve([], data, kind="welcome", relation="R001", recipients=["new.user@garage-martin.be"])
    assert env.from_address == "jan@dupont-associes.be"
    assert env.to == ["new.user@garage-martin.be"]
    assert env.cc == ["jan@dupont-associes.be"]
    assert env.trace["cc"]["tried"] == [
        {"source": "from", "result": "used", "addresses": ["jan@dupont-associes.be"]}
    ]


def test_welcome_cascade_client_group(data: Dataset) -> None:
    """No file manager (or one on an unverified domain) → the client group's address."""
    env = resolve([], data, kind="welcome", relation="R004", recipients=["new@client.be"])
    assert env.from_address == "garages@dupont-associes.be"
    assert env.cc == ["garages@dupont-associes.be"]
    reasons = [entry.get("reason") for entry in env.trace["from"]["tried"]]
    assert reasons[0] == "unverified domain gmail.com"


def test_welcome_cascade_functional_then_communication(data: Dataset) -> None:
    """A client group without address → the functional address; without one → communication."""
    env = resolve([], data, kind="welcome", relation="R003", recipients=["new@example.org"])
    assert env.from_address == "noreply@dupont-associes.be"
    assert [e["reason"] for e in env.trace["from"]["tried"][:2]] == [
        "empty role: relation 'R003' has no file_manager",
        "client group 'silent' has no valid address",
    ]
    env = resolve(
        [], data, firm={"functional": None}, kind="welcome", relation="R003", recipients=["n@example.org"]
    )
    assert env.from_address == "contact@dupont-associes.be"
    assert env.cc == ["contact@dupont-associes.be"]


def test_welcome_cc_never_copies_the_platform(data: Dataset) -> None:
    """GIVEN nothing in the cascade on a verified domain THEN From is the platform and CC stays empty."""
    env = resolve(
        [],
        data,
        firm={"functional": None, "communication": None},
        kind="welcome",
        relation="R003",
        recipients=["n@example.org"],
    )
    assert env.from_address == "inbox@mailer.example"
    assert env.cc == []
    assert env.trace["cc"]["tried"][0]["reason"] == "From is the platform address"


def test_welcome_without_recipient_is_an_error(data: Dataset) -> None:
    """A welcome mail goes to the new client user given at send time: without one, no `to`."""
    with pytest.raises(MessageError) as info:
        resolve([], data, kind="welcome", relation="R001")
    assert str(info.value) == (
        "no 'to' address for kind 'welcome', relation 'R001' (welcome built-in default); "
        "tried: recipient (no recipient given at send time)"
    )


def test_notification_to_several_collaborators(data: Dataset) -> None:
    """GIVEN `notification.failed_task.to = responsible, partner` THEN both receive it."""
    env = resolve(
        [Rule("notification.failed_task.to", union(role("responsible"), role("partner")))],
        data,
        kind="notification.failed_task",
        relation="R001",
    )
    assert env.to == ["jan@dupont-associes.be", "marie@dupont-associes.be"]


def test_notification_standard_cascade(data: Dataset) -> None:
    """Without a selection the standard cascade applies: file manager > client group > functional."""
    rules = [Rule("notification.failed_task.to", union(role("responsible"), role("partner")))]
    env = resolve(rules, data, kind="notification.vat_ok", relation="R001")
    assert env.to == ["jan@dupont-associes.be"]
    env = resolve(rules, data, kind="notification.message", relation="R003")
    assert env.to == ["noreply@dupont-associes.be"]


# --- seed 003: dunning addresses ----------------------------------------------------------------


def test_dunning_uses_the_relation_dunning_addresses_comma_separated(data: Dataset) -> None:
    """Several dunning addresses separated by commas all receive the reminder."""
    env = resolve([], data, kind="reminder", relation="R001")
    assert env.to == ["relances@garage-martin.be", "patron@garage-martin.be"]


def test_empty_dunning_field_means_the_contact_addresses(data: Dataset) -> None:
    """An empty dunning field takes the contact's addresses."""
    env = resolve([], data, kind="reminder", relation="R002")
    assert env.to == ["info@bakkerij.be", "boekhouding@bakkerij.be"]


def test_document_level_dunning_address_comes_first(data: Dataset) -> None:
    """A dunning address on the invoice beats the relation's."""
    env = resolve([], data, kind="reminder", document="F2026-0050")
    assert env.to == ["factures@garage-martin.be"]
    assert env.relation == "R001"


def test_send_time_override_comes_before_everything(data: Dataset) -> None:
    """An address given when sending the reminder is used first."""
    env = resolve([], data, kind="reminder", document="F2026-0050", recipients=["Nouveau@Garage-Martin.BE"])
    assert env.to == ["Nouveau@garage-martin.be"]


def test_a_general_to_rule_does_not_stop_reminders_from_using_dunning(data: Dataset) -> None:
    """A policy rule replaces the built-in default of its own kind only."""
    env = resolve([Rule("to", free("all@dupont-associes.be"))], data, kind="reminder", relation="R001")
    assert env.to == ["relances@garage-martin.be", "patron@garage-martin.be"]
    env = resolve([Rule("to", free("all@dupont-associes.be"))], data, kind="invoice", relation="R001")
    assert env.to == ["all@dupont-associes.be"]


# --- seed 004: mailings need consent ----------------------------------------------------------


def test_mailing_to_a_relation_without_consent_is_skipped(data: Dataset) -> None:
    """A mailing never reaches a relation whose accepts_promotional is not true."""
    with pytest.raises(MessageSkipped) as info:
        resolve([], data, kind="mailing", relation="R002")
    assert str(info.value) == "relation 'R002' does not accept promotional mail: mailing skipped"
    assert resolve([], data, kind="mailing", relation="R001").to == ["compta@garage-martin.be"]


def test_kinds_extending_mailing_need_consent_too(data: Dataset) -> None:
    """A declared `kind newsletter extends mailing` is a mailing."""
    with pytest.raises(MessageSkipped):
        resolve([], data, kinds={"newsletter": "mailing"}, kind="newsletter", relation="R003")


# --- precedence, conditions and languages --------------------------------------------------------


def test_when_rule_beats_the_unconditional_rule(data: Dataset) -> None:
    """GIVEN `invoice.bcc = free ... when document.amount >= 10000` THEN big invoices use it."""
    rules = [
        Rule("invoice.bcc", free("office@dupont-associes.be")),
        Rule("invoice.bcc", free("direction@dupont-associes.be"), when=cmp("document.amount", ">=", 10000)),
    ]
    assert resolve(rules, data, kind="invoice", document="F2026-0050").bcc == ["direction@dupont-associes.be"]
    env = resolve(rules, data, kind="invoice", document="F2026-0042")
    assert env.bcc == ["office@dupont-associes.be"]
    assert env.trace["bcc"]["passed"] == [
        {"kind": "invoice", "rule": {"line": 11, "column": 1}, "reason": "condition false"}
    ]


def test_condition_on_a_missing_document_is_false(data: Dataset) -> None:
    """A path missing in the data is null and every comparison with it is false."""
    rules = [Rule("bcc", free("big@dupont-associes.be"), when=cmp("document.amount", "!=", 0))]
    assert resolve(rules, data, kind="invoice", relation="R001").bcc == []


def test_language_rules_beat_conditional_rules_without_language(data: Dataset) -> None:
    """`invoice.subject[nl]` beats `invoice.subject = "A" when x` for a Dutch client."""
    rules = [
        Rule("invoice.subject", "Facture {{ document.number }} du {{ document.date }}"),
        Rule("invoice.subject", "A", when=cmp("document.amount", ">", 0)),
        Rule("invoice.subject", "Factuur {{ document.number }} van {{ document.date }}", lang="nl"),
    ]
    env = resolve(rules, data, kind="invoice", document="F2026-0051")
    assert (env.language, env.subject) == ("nl", "Factuur 2026-0051 van 22/11/2026")
    env = resolve(rules, data, kind="invoice", document="F2026-0042")
    assert (env.language, env.subject) == ("fr", "A")
    assert env.trace["subject"]["passed"] == [
        {"kind": "invoice", "rule": {"line": 12, "column": 1}, "reason": "language differs (nl)"}
    ]


def test_language_falls_back_to_the_firm(data: Dataset) -> None:
    """The relation's language, else the firm's (which the compiler sets to fr when absent)."""
    assert resolve([], data, firm={"language": "de"}, kind="general", relation="R003").language == "de"
    assert resolve([], data, firm={"language": "de"}, kind="general", relation="R002").language == "nl"


def test_a_rule_that_applies_decides_even_when_empty(data: Dataset) -> None:
    """`invoice.cc = none` clears an inherited CC."""
    rules = [Rule("cc", role("partner")), Rule("invoice.cc", src("none"))]
    assert resolve(rules, data, kind="invoice", relation="R001").cc == []
    assert resolve(rules, data, kind="task", relation="R001").cc == ["marie@dupont-associes.be"]


def test_general_source_inside_general_is_its_builtin_default(data: Dataset) -> None:
    """`to = general, free "x"` in general adds to the built-in `contact`."""
    env = resolve(
        [Rule("to", union(src("general"), free("copy@dupont-associes.be")))],
        data,
        kind="general",
        relation="R001",
    )
    assert env.to == ["compta@garage-martin.be", "copy@dupont-associes.be"]


def test_reply_to_source_follows_the_final_reply_to(data: Dataset) -> None:
    """`cc = reply_to` copies the resolved Reply-To, company fallback included."""
    env = resolve(
        [Rule("reply_to", src("none")), Rule("cc", src("reply_to"))], data, kind="task", relation="R001"
    )
    assert env.cc == ["info@dupont-associes.be"]


# --- duplicates ---------------------------------------------------------------------------------


def test_duplicates_removed_case_insensitively_keeping_the_first_spelling(data: Dataset) -> None:
    """Each list is de-duplicated on the whole address, case-insensitively."""
    env = resolve(
        [Rule("cc", union(free("Jan@dupont-associes.be"), role("responsible"), role("file_manager")))],
        data,
        kind="task",
        relation="R001",
    )
    assert env.cc == ["Jan@dupont-associes.be"]


def test_an_address_in_to_is_dropped_from_cc_and_bcc(data: Dataset) -> None:
    """To wins over CC, CC over BCC; the trace says why an address went."""
    rules = [
        Rule("to", union(src("contact"), role("responsible"))),
        Rule("cc", union(role("responsible"), role("partner"))),
        Rule("bcc", union(role("partner"), src("sender"), src("company"))),
    ]
    env = resolve(rules, data, kind="task", relation="R001", sender="jan")
    assert env.to == ["compta@garage-martin.be", "jan@dupont-associes.be"]
    assert env.cc == ["marie@dupont-associes.be"]
    assert env.bcc == ["info@dupont-associes.be"]
    assert env.trace["bcc"]["tried"][-2:] == [
        {
            "source": "bcc",
            "result": "skipped",
            "address": "marie@dupont-associes.be",
            "reason": "already in to or cc",
        },
        {
            "source": "bcc",
            "result": "skipped",
            "address": "jan@dupont-associes.be",
            "reason": "already in to or cc",
        },
    ]


# --- errors -------------------------------------------------------------------------------------


def test_no_to_address_names_kind_relation_and_sources(tmp_path: Path) -> None:
    """A message with no `to` address fails, naming the kind, the relation and the sources tried."""
    data = load_data(
        write_data(
            tmp_path,
            "relations:\n  - {id: R9, name: Nobody, emails: ['not-an-address']}\n",
        )
    )
    with pytest.raises(MessageError) as info:
        resolve([], data, kind="reminder", relation="R9")
    assert str(info.value) == (
        "no 'to' address for kind 'reminder', relation 'R9' (reminder built-in default); tried: "
        "recipient (no recipient given at send time), document.dunning_emails (no document given), "
        "dunning (relation 'R9' has no valid dunning_emails), contact (relation 'R9' has no valid emails); "
        "'not-an-address' skipped: invalid address: An email address must have an @-sign."
    )
    assert (info.value.kind, info.value.relation) == ("reminder", "R9")


def test_no_to_address_from_a_rule_points_at_it(data: Dataset) -> None:
    """When a policy rule decided an empty `to`, the error carries its line and column."""
    with pytest.raises(MessageError) as info:
        resolve([Rule("task.to", role("collaborator"))], data, kind="task", relation="R001")
    assert info.value.loc == {"line": 10, "column": 1}
    assert str(info.value).startswith(
        "no 'to' address for kind 'task', relation 'R001' (task rule at line 10:1)"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"relation": "R404"}, "unknown relation 'R404' in {path}"),
        ({"relation": "R001", "sender": "ghost"}, "unknown user 'ghost' in {path}"),
        ({"document": "F404"}, "unknown document 'F404' in {path}"),
        (
            {"relation": "R002", "document": "F2026-0042"},
            "document 'F2026-0042' belongs to relation 'R001', not 'R002'",
        ),
        ({}, "a message needs a relation or a document"),
    ],
)
def test_unknown_ids_name_the_id(data: Dataset, kwargs: dict[str, str], message: str) -> None:
    """Unknown relation, user or document ids are message errors naming the id."""
    with pytest.raises(MessageError) as info:
        resolve([], data, kind="invoice", **kwargs)
    assert str(info.value) == message.format(path=data.path)


def test_unknown_kind_suggests_a_near_one(data: Dataset) -> None:
    """A misspelt kind is an error with a suggestion."""
    with pytest.raises(MessageError) as info:
        resolve([], data, kind="invoce", relation="R001")
    assert str(info.value) == "unknown kind 'invoce'; did you mean 'invoice'?"


def test_invalid_recipient_is_skipped_with_a_warning(data: Dataset) -> None:
    """An address given at send time that is not valid never reaches a header."""
    env = resolve(
        [], data, kind="reminder", relation="R001", recipients=["bob@evil.com>, x", "ok@garage-martin.be"]
    )
    assert env.to == ["ok@garage-martin.be"]
    assert env.warnings[0].startswith("recipient 'bob@evil.com>, x' is not a valid address")


# --- the envelope as JSON and the trace as text ----------------------------------------------------


def test_as_dict_is_the_json_object_of_the_spec(data: Dataset) -> None:
    """`as_dict()` is SPEC section 5's object; `explain` adds the trace."""
    rules = [
        Rule("invoice.bcc", free("office@firm.be")),
        Rule("reply_to", else_(role("responsible"), src("company"))),
        Rule("invoice.subject", "Facture {{ document.number }} du {{ document.date }}"),
    ]
    env = resolve(rules, data, kind="invoice", relation="R001", document="F2026-0042")
    assert env.as_dict() == {
        "kind": "invoice",
        "language": "fr",
        "from": {"name": "Cabinet Dupont & Associés", "address": "inbox@mailer.example"},
        "reply_to": ["jan@dupont-associes.be"],
        "to": ["compta@garage-martin.be"],
        "cc": [],
        "bcc": ["office@firm.be"],
        "subject": "Facture 2026-0042 du 20/11/2026",
    }
    assert env.attach is not None and env.attach.endswith("invoices/F2026-0042.pdf")
    explained = env.as_dict(explain=True)
    assert set(explained) - set(env.as_dict()) == {"trace", "warnings"}
    assert list(explained["trace"]) == [
        "from",
        "from_name",
        "reply_to",
        "to",
        "cc",
        "bcc",
        "subject",
        "template",
        "attach",
    ]


def test_readable_trace(data: Dataset, snapshot: Any) -> None:
    """The terminal form of the trace: rule per field, + used and - skipped with the reason."""
    rules = [
        Rule("from", else_(src("sender"), src("company"))),
        Rule("bcc", src("sender")),
        Rule("task.reply_to", else_(role("collaborator"), src("company"))),
    ]
    env = resolve(rules, data, kind="task", relation="R001", sender="piet")
    assert format_trace(env) == snapshot

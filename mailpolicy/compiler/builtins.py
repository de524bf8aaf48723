"""The names the language knows without a declaration: kinds, fields, sources, roles, paths, defaults."""

from __future__ import annotations

from typing import Any

RESERVED_WORDS = frozenset(
    "firm role kind extends audience smtp env free else when and or not in true false".split()
)

# Built-in kinds and their parents (SPEC 2.2); every kind without a parent extends `general`.
BUILTIN_KINDS: dict[str, str | None] = {
    "general": None,
    "invoice": "general",
    "task": "general",
    "reminder": "invoice",
    "welcome": "general",
    "notification": "general",
    "notification.failed_task": "notification",
    "notification.message": "notification",
    "notification.vat_ok": "notification",
    "notification.user_request": "notification",
    "mailing": "general",
}

ADDRESS_FIELDS = ("from", "reply_to", "to", "cc", "bcc")
TEXT_FIELDS = ("from_name", "subject")
FIELDS = (*ADDRESS_FIELDS, *TEXT_FIELDS, "template", "attach")

LANGUAGES = ("fr", "nl", "en", "de")

BUILTIN_ROLES = ("responsible", "partner", "collaborator", "substitute", "file_manager")

# Address sources other than roles (SPEC 2.3), by the name written in a policy.
SOURCES = (
    "sender",
    "company",
    "functional",
    "communication",
    "platform",
    "contact",
    "dunning",
    "document.dunning_emails",
    "recipient",
    "client_group",
    "from",
    "reply_to",
    "general",
    "none",
)

ATTACH_VALUES = ("document.file", "none")

FIRM_FIELDS = ("name", "company", "functional", "communication", "platform", "verified_domains", "language")
FIRM_REQUIRED = ("name", "company", "platform", "verified_domains")

SMTP_FIELDS = ("host", "port", "security", "login", "password")
SMTP_SECURITY = ("starttls", "tls", "none")
SMTP_DEFAULT_PORT = {"starttls": 587, "tls": 465, "none": 25}

# Data paths usable in conditions and placeholders (SPEC 2.6), with their type.
PATH_TYPES: dict[str, str] = {
    "firm.name": "text",
    "firm.company": "text",
    "firm.functional": "text",
    "firm.communication": "text",
    "firm.platform": "text",
    "firm.language": "text",
    "relation.id": "text",
    "relation.name": "text",
    "relation.language": "text",
    "relation.family": "text",
    "relation.client_group": "text",
    "relation.emails": "address list",
    "relation.dunning_emails": "address list",
    "relation.accepts_promotional": "boolean",
    "document.id": "text",
    "document.kind": "text",
    "document.relation": "text",
    "document.number": "text",
    "document.currency": "text",
    "document.file": "text",
    "document.date": "date",
    "document.due_date": "date",
    "document.amount": "number",
    "document.dunning_emails": "address list",
    "sender.id": "text",
    "sender.name": "text",
    "sender.email": "text",
}
UNTYPED_PREFIX = "relation.attributes."
UNTYPED = "untyped"

# Placeholder formats and the path types they apply to.
FORMATS: dict[str, tuple[str, ...]] = {"long": ("date",), "money": ("number",)}


def path_type(path: str) -> str | None:
    """The type of a data path, `untyped` for `relation.attributes.*`, None when unknown."""
    if path.startswith(UNTYPED_PREFIX) and len(path) > len(UNTYPED_PREFIX):
        return UNTYPED
    return PATH_TYPES.get(path)


def known_paths() -> list[str]:
    """Every path name, for suggestions (`relation.attributes.` stands for the free-form ones)."""
    return [*PATH_TYPES, "relation.attributes"]


def _source(name: str) -> dict[str, Any]:
    return {"op": "source", "name": name, "loc": None}


def _role(name: str) -> dict[str, Any]:
    return {"op": "role", "name": name, "loc": None}


def _else(*terms: dict[str, Any]) -> dict[str, Any]:
    return {"op": "else", "terms": list(terms), "loc": None}


def _expr_rule(expr: dict[str, Any]) -> dict[str, Any]:
    return {"lang": None, "when": None, "expr": expr, "loc": None, "builtin": True}


def _welcome_cascade() -> dict[str, Any]:
    # The welcome-mail article: file manager, else client group, else functional, else communication.
    return _else(
        _role("file_manager"), _source("client_group"), _source("functional"), _source("communication")
    )


def builtin_defaults() -> dict[str, dict[str, dict[str, Any]]]:
    """Kind → field → the built-in default rule (SPEC 2.4), in the rule-table format; fresh dicts."""
    return {
        "general": {
            "from": _expr_rule(_source("platform")),
            "from_name": {
                "lang": None,
                "when": None,
                "text": [{"path": "firm.name", "format": None, "loc": None}],
                "loc": None,
                "builtin": True,
            },
            "reply_to": _expr_rule(_source("company")),
            "to": _expr_rule(_source("contact")),
            "cc": _expr_rule(_source("none")),
            "bcc": _expr_rule(_source("none")),
            "subject": {"lang": None, "when": None, "text": [], "loc": None, "builtin": True},
        },
        "invoice": {
            "attach": {"lang": None, "when": None, "attach": "document.file", "loc": None, "builtin": True},
        },
        "reminder": {
            "to": _expr_rule(
                _else(
                    _source("recipient"),
                    _source("document.dunning_emails"),
                    _source("dunning"),
                    _source("contact"),
                )
            ),
        },
        "welcome": {
            "from": _expr_rule(_welcome_cascade()),
            "to": _expr_rule(_source("recipient")),
            "cc": _expr_rule(_source("from")),
        },
        "notification": {
            "to": _expr_rule(_welcome_cascade()),
        },
    }

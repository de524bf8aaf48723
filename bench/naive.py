"""The naive pipeline the benchmarks compare against, written as a competent user would.

Per message: fill the MJML source with the values (a regex over the placeholders, values
HTML-escaped), render it with mjml-python, fill a plain-text template the same way, build an
`email.message.EmailMessage` with `set_content` / `add_alternative`, and serialise it with
`bytes(msg)`. The values come from the same data as mailpolicy's (formatted in Python with
f-strings and strftime, the cheap way), and the envelope addresses are handed to it already
resolved: the comparator is not charged for resolution, mailpolicy is.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import mjml

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(?:\|\s*(\w+)\s*)?\}\}")

TEXT_TEMPLATES = {
    "invoice": (
        "Madame, Monsieur,\n\n"
        "Vous trouverez ci-joint la facture {{ document.number }} du {{ document.date | long }} "
        "adressée à {{ relation.name }}, d'un montant de {{ document.amount | money }}.\n\n"
        "Nous vous remercions de bien vouloir la régler au plus tard le {{ document.due_date | long }}.\n\n"
        "Cordialement,\n{{ firm.name }}\n"
    ),
    "mailing": (
        "Bonjour {{ relation.name }},\n\n"
        "Voici les nouvelles de {{ firm.name }} pour ce trimestre.\n\n"
        "Cordialement,\n{{ firm.name }}\n"
    ),
}

_MONTHS = "janvier février mars avril mai juin juillet août septembre octobre novembre décembre".split()


def values_for(
    firm: Mapping[str, Any], relation: Mapping[str, Any], document: Mapping[str, Any] | None
) -> dict[str, str]:
    """The placeholder values of one message, keyed `path` and `path|format`, as strings."""
    values = {"firm.name": str(firm["name"]), "firm.company": str(firm["company"])}
    values |= {"relation.name": str(relation["name"]), "relation.id": str(relation["id"])}
    if document is not None:
        for key in ("number", "currency"):
            values[f"document.{key}"] = str(document.get(key, ""))
        for key in ("date", "due_date"):
            year, month, day = (int(x) for x in str(document[key]).split("-"))
            values[f"document.{key}"] = f"{day:02d}/{month:02d}/{year}"
            values[f"document.{key}|long"] = f"{day} {_MONTHS[month - 1]} {year}"
        amount = float(document["amount"])
        values["document.amount"] = f"{amount:.2f}"
        values["document.amount|money"] = f"{amount:,.2f} €".replace(",", " ").replace(".", ",")
    return values


def fill(source: str, values: Mapping[str, str], escape: Callable[[str], str]) -> str:
    """SOURCE with every `{{ path | format }}` replaced by its value, passed through ESCAPE."""

    def one(match: re.Match[str]) -> str:
        path, fmt = match.group(1), match.group(2)
        return escape(values[f"{path}|{fmt}"] if fmt else values[path])

    return PLACEHOLDER.sub(one, source)


def naive_message(
    mjml_source: str,
    text_source: str,
    values: Mapping[str, str],
    *,
    from_name: str,
    from_address: str,
    to: list[str],
    cc: list[str],
    reply_to: list[str],
    subject: str,
) -> bytes:
    """One message as bytes, the naive way (see the module docstring)."""
    rendered = mjml.mjml2html(fill(mjml_source, values, html.escape))
    text = fill(text_source, values, str)
    msg = EmailMessage()
    local, _, domain = from_address.rpartition("@")
    msg["From"] = Address(display_name=from_name, username=local, domain=domain)
    msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    if reply_to:
        msg["Reply-To"] = ", ".join(reply_to)
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=domain)
    msg.set_content(text)
    msg.add_alternative(rendered, subtype="html")
    return bytes(msg)

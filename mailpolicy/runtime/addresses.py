"""Email addresses as the runtime sees them: validation, splitting, comparison, verified domains."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email


class InvalidAddress(ValueError):
    """An address string that is not exactly one valid bare `local@domain` address."""


@lru_cache(maxsize=8192)  # the same addresses recur across relations and messages
def check_address(text: str) -> str:
    """The normalised form of one bare address (domain lower-cased), or raise InvalidAddress.

    email-validator refuses display names, quoted local parts, IP literals, domains without a dot
    and special-use domains; deliverability (DNS) is not checked: the runtime must work offline.
    """
    if not isinstance(text, str) or not text:
        raise InvalidAddress("empty address")
    try:
        result = validate_email(
            text,
            check_deliverability=False,
            allow_display_name=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
        )
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from None
    local, _, domain = result.normalized.rpartition("@")
    # RFC 5321 limits, checked on the octets actually sent (email-validator lets a 65-octet
    # internationalised local part through in some versions).
    if len(result.local_part.encode("utf-8")) > 64:
        raise InvalidAddress("the part before the @-sign is longer than 64 octets")
    if len(result.ascii_email or result.normalized.encode("utf-8")) > 254:
        raise InvalidAddress("the address is longer than 254 octets")
    return f"{local}@{domain.lower()}"


def split_addresses(value: str | Sequence[str] | None) -> list[str]:
    """The address strings of a data field: a string is split on commas, list items never are.

    Parts are trimmed and empty parts dropped; validation happens afterwards, one part at a time.
    """
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [item.strip() for item in value if item.strip()]


def address_key(address: str) -> str:
    """Addresses compare case-insensitively as whole addresses (SPEC 2.4, No duplicates)."""
    return address.casefold()


def dedupe(addresses: Iterable[str]) -> list[str]:
    """The addresses in order without duplicates; the first spelling is kept."""
    seen: set[str] = set()
    out: list[str] = []
    for address in addresses:
        key = address_key(address)
        if key not in seen:
            seen.add(key)
            out.append(address)
    return out


def on_verified_domain(address: str, verified_domains: Iterable[str]) -> bool:
    """Whether the address's domain is a verified domain or a subdomain of one."""
    domain = address.rpartition("@")[2].lower().rstrip(".")
    for verified in verified_domains:
        verified = verified.lower().rstrip(".")
        if domain == verified or domain.endswith("." + verified):
            return True
    return False

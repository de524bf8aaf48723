"""SMTP server settings: the rule table's `smtp` section resolved against environment variables.

The rule table holds only variable names (`{"env": "SMTP_PASSWORD"}`); the values are read here, at
send time, and a password is kept in a `Secret` whose repr and str never show it.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Security = Literal["starttls", "tls", "none"]
SECURITIES: tuple[Security, ...] = ("starttls", "tls", "none")

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class SmtpSettingsError(Exception):
    """SMTP settings that cannot be used: no server configured, or an environment variable unset.

    The message names the setting and the variable, never a value.
    """


class Secret:
    """A string that never shows itself in a repr, str, format or log line; `reveal()` gives it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one place that needs it (the AUTH command)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class SmtpSettings:
    """One SMTP server, ready to connect to: values already read from the environment."""

    host: str
    port: int
    security: Security
    login: str | None = None
    password: Secret | None = field(default=None, repr=False)
    #: where these settings come from, for messages: `the firm's smtp block`, `smtp sender jan`
    origin: str = "the firm's smtp block"
    #: the environment variables that held the login and password, for error messages
    login_variable: str | None = None
    password_variable: str | None = None

    @property
    def address(self) -> str:
        """`host:port`, as used in messages."""
        return f"{self.host}:{self.port}"

    def secrets(self) -> list[str]:
        """Every string that must never be shown: the password (the login is not a secret)."""
        return [self.password.reveal()] if self.password is not None and self.password.reveal() else []


def _lookup(ref: Mapping[str, Any] | None, what: str, origin: str, environ: Mapping[str, str]) -> str | None:
    """The value of a `{"env": NAME}` or `{"value": ...}` setting; None when it is not set at all."""
    if ref is None:
        return None
    if "env" in ref:
        name = str(ref["env"])
        value = environ.get(name)
        if value is None:
            raise SmtpSettingsError(f"{what} of {origin}: environment variable {name} is not set")
        return value
    if "value" in ref:
        return str(ref["value"])
    raise SmtpSettingsError(f"{what} of {origin}: expected {{'env': NAME}} or {{'value': ...}}")


def parse_settings(
    block: Mapping[str, Any], origin: str, environ: Mapping[str, str] | None = None
) -> SmtpSettings:
    """SmtpSettings from one block of the rule table's `smtp` section, reading its variables now."""
    env = os.environ if environ is None else environ
    security = block.get("security", "starttls")
    if security not in SECURITIES:
        raise SmtpSettingsError(f"{origin}: security must be one of starttls, tls, none, not {security!r}")
    host = block.get("host")
    if not isinstance(host, str) or not host:
        raise SmtpSettingsError(f"{origin}: no host")
    port = block.get("port")
    if not isinstance(port, int) or isinstance(port, bool):
        # Default ports as mail clients know them: submission with STARTTLS, submissions with TLS.
        port = {"starttls": 587, "tls": 465, "none": 25}[security]
    login_ref = block.get("login")
    password_ref = block.get("password")
    if password_ref is not None and "env" not in password_ref:
        # The compiler refuses literal passwords; a hand-written table must not sneak one in either.
        raise SmtpSettingsError(f"password of {origin}: only an environment variable is accepted")
    login = _lookup(login_ref, "SMTP login", origin, env)
    password = _lookup(password_ref, "SMTP password", origin, env)
    if password is not None and security == "none" and host.lower() not in LOOPBACK_HOSTS:
        raise SmtpSettingsError(
            f"{origin}: security none would send the password unencrypted to {host}; use starttls or tls"
        )
    return SmtpSettings(
        host=host,
        port=port,
        security=security,
        login=login,
        password=Secret(password) if password is not None else None,
        origin=origin,
        login_variable=str(login_ref["env"]) if login_ref and "env" in login_ref else None,
        password_variable=str(password_ref["env"]) if password_ref else None,
    )


def smtp_section(table: Any) -> Mapping[str, Any]:
    """The `smtp` section of a rule table given as a dict or as a loaded table object."""
    if isinstance(table, Mapping):
        section = table.get("smtp")
    else:
        section = getattr(table, "smtp", None)
        if section is None:
            raw = getattr(table, "raw", None) or getattr(table, "data", None)
            section = raw.get("smtp") if isinstance(raw, Mapping) else None
    return section if isinstance(section, Mapping) else {}


def settings_origin(section: Mapping[str, Any], sender: str | None) -> tuple[str, Mapping[str, Any]]:
    """Which block serves SENDER: the user's own `smtp sender` block, else the firm's `smtp` block."""
    senders = section.get("senders") or {}
    if sender is not None and sender in senders and senders[sender]:
        return f"smtp sender {sender}", senders[sender]
    default = section.get("default")
    if not default:
        who = f" and sender '{sender}' has no smtp sender block" if sender is not None else ""
        raise SmtpSettingsError(f"the policy has no smtp block{who}: cannot send")
    return "the firm's smtp block", default


def settings_for(
    table: Any, sender: str | None = None, environ: Mapping[str, str] | None = None
) -> SmtpSettings:
    """The SMTP server a message from SENDER goes through, its variables read from ENVIRON now."""
    origin, block = settings_origin(smtp_section(table), sender)
    return parse_settings(block, origin, environ)


def describe_server(table: Any, sender: str | None = None) -> str:
    """`host:port (security)` of the server SENDER would use, without reading any variable."""
    try:
        _, block = settings_origin(smtp_section(table), sender)
    except SmtpSettingsError:
        return "no smtp server"
    return f"{block.get('host')}:{block.get('port')} ({block.get('security', 'starttls')})"


class Redactor:
    """Replaces every known secret, and its base64 forms as sent in AUTH, by `***` in a text."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        self._needles: list[str] = []
        for secret in secrets or []:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Hide SECRET from now on (also as base64 alone and in AUTH PLAIN / LOGIN forms)."""
        if not secret:
            return
        forms = {secret, base64.b64encode(secret.encode()).decode()}
        # Inside the AUTH PLAIN blob (base64 of `\0login\0password`) the password's base64 depends
        # on its offset modulo 3: also hide, for offsets 1 and 2, the characters only it decides
        # (without them the blob would give the password back when a server echoes it; issue 8).
        for offset in (1, 2):
            shifted = base64.b64encode(b"\0" * offset + secret.encode()).decode()[4:]
            forms.update(form for form in (shifted, shifted.rstrip("=")[:-3]) if len(form) >= 4)
        self._needles.extend(sorted(forms - set(self._needles), key=len, reverse=True))
        self._needles.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for needle in self._needles:
            text = text.replace(needle, "***")
        return text

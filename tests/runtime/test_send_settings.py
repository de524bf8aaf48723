"""SMTP settings: the firm's server or the sender's own, values from the environment, secrets hidden."""

from __future__ import annotations

from typing import Any

import pytest

from mailpolicy.runtime.smtp_settings import (
    Redactor,
    Secret,
    SmtpSettingsError,
    describe_server,
    settings_for,
)
from tests.runtime.tables import smtp_block

FIRM_BLOCK = smtp_block("smtp.dupont-associes.be", 587)
TABLE: dict[str, Any] = {
    "smtp": {
        "default": FIRM_BLOCK,
        "senders": {
            "jan": {
                "host": "smtp.gmail.com",
                "port": 465,
                "security": "tls",
                "login": {"value": "jan@gmail.com"},
                "password": {"env": "JAN_SMTP_PASSWORD"},
                "loc": {"line": 37, "column": 1},
            }
        },
    }
}
ENV = {"SMTP_LOGIN": "firm", "SMTP_PASSWORD": "firm-secret", "JAN_SMTP_PASSWORD": "jan-secret"}


def test_firm_server_for_automated_mail_and_users_without_their_own() -> None:
    """GIVEN a firm block and jan's block WHEN resolving THEN marie and automated mail use the firm's."""
    for sender in (None, "marie"):
        settings = settings_for(TABLE, sender, ENV)
        assert (settings.host, settings.port, settings.security, settings.login) == (
            "smtp.dupont-associes.be",
            587,
            "starttls",
            "firm",
        )
        assert settings.password == Secret("firm-secret")
        assert settings.origin == "the firm's smtp block"


def test_sender_with_own_server() -> None:
    """GIVEN jan's own block WHEN jan sends THEN his server, literal login and env password are used."""
    settings = settings_for(TABLE, "jan", ENV)
    assert (settings.host, settings.port, settings.security, settings.login) == (
        "smtp.gmail.com",
        465,
        "tls",
        "jan@gmail.com",
    )
    assert settings.password is not None and settings.password.reveal() == "jan-secret"
    assert settings.origin == "smtp sender jan"


def test_missing_variable_is_named_and_no_value_shown() -> None:
    """GIVEN an unset password variable WHEN resolving THEN the error names the variable only."""
    with pytest.raises(SmtpSettingsError) as err:
        settings_for(TABLE, "jan", {"SMTP_LOGIN": "firm", "SMTP_PASSWORD": "firm-secret"})
    assert (
        str(err.value)
        == "SMTP password of smtp sender jan: environment variable JAN_SMTP_PASSWORD is not set"
    )
    with pytest.raises(SmtpSettingsError) as err:
        settings_for(TABLE, None, {"SMTP_PASSWORD": "firm-secret"})
    assert str(err.value) == "SMTP login of the firm's smtp block: environment variable SMTP_LOGIN is not set"


def test_no_smtp_block() -> None:
    """GIVEN a policy without smtp WHEN resolving THEN a clear error."""
    with pytest.raises(SmtpSettingsError) as err:
        settings_for({"smtp": {"default": None, "senders": {}}}, "marie", ENV)
    assert (
        str(err.value)
        == "the policy has no smtp block and sender 'marie' has no smtp sender block: cannot send"
    )


def test_literal_password_in_a_table_is_refused() -> None:
    """GIVEN a hand-written table with a literal password WHEN resolving THEN refused, value not shown."""
    table = {"smtp": {"default": dict(FIRM_BLOCK, password={"value": "hunter2"})}}
    with pytest.raises(SmtpSettingsError) as err:
        settings_for(table, None, ENV)
    assert str(err.value) == "password of the firm's smtp block: only an environment variable is accepted"


def test_password_over_plain_text_is_refused_except_on_loopback() -> None:
    """GIVEN security none with a password WHEN the host is remote THEN refused; on loopback allowed."""
    block = dict(FIRM_BLOCK, security="none", port=25)
    with pytest.raises(SmtpSettingsError) as err:
        settings_for({"smtp": {"default": block}}, None, ENV)
    assert str(err.value) == (
        "the firm's smtp block: security none would send the password unencrypted to "
        "smtp.dupont-associes.be; use starttls or tls"
    )
    local = settings_for({"smtp": {"default": dict(block, host="127.0.0.1")}}, None, ENV)
    assert local.security == "none"


def test_secrets_never_show() -> None:
    """GIVEN resolved settings WHEN printed in any way THEN the password is absent."""
    settings = settings_for(TABLE, "jan", ENV)
    for text in (repr(settings), str(settings), f"{settings.password}", repr(settings.password)):
        assert "jan-secret" not in text


def test_redactor_hides_secret_and_its_base64() -> None:
    """GIVEN a secret WHEN a text holds it or its base64 THEN both become ***."""
    redact = Redactor(["jan-secret"])
    assert redact("AUTH failed for jan-secret (amFuLXNlY3JldA==)") == "AUTH failed for *** (***)"


def test_describe_server_reads_no_variable() -> None:
    """GIVEN no environment WHEN describing the server for a dry run THEN host, port and security only."""
    assert describe_server(TABLE, "jan") == "smtp.gmail.com:465 (tls)"
    assert describe_server(TABLE, None) == "smtp.dupont-associes.be:587 (starttls)"
    assert describe_server({}, None) == "no smtp server"

"""SMTP passwords never leave the environment: not in rule tables, output, reports, journals, logs,
tracebacks or SMTP debug output, even when the server echoes them back.

Sending runs for real against the aiosmtpd server of tests/smtp_server.py (STARTTLS + AUTH).
"""

from __future__ import annotations

import base64
import json
import logging
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mailpolicy.cli import cli
from mailpolicy.compiler import compile_file, dump_table
from mailpolicy.runtime.smtp_settings import Secret, SmtpSettings, SmtpSettingsError, settings_for
from mailpolicy.runtime.table import load_table
from tests.runtime.tables import Rule, free, make_table, smtp_block
from tests.smtp_server import TestServer

PASSWORD = "Zq9-very-Secret-Pw!"
LOGIN = "firm-login"
FORMS = [
    PASSWORD,
    base64.b64encode(PASSWORD.encode()).decode(),
    base64.b64encode(f"\0{LOGIN}\0{PASSWORD}".encode()).decode(),  # AUTH PLAIN
]

POLICY = """\
firm {
  name = "F"
  company = "info@firm.be"
  platform = "inbox@mailer.example"
  verified_domains = ["firm.be"]
}
smtp {
  host = "smtp.firm.be"
  port = 587
  security = starttls
  login = env "SMTP_LOGIN"
  password = env "SMTP_PASSWORD"
}
"""


def assert_hidden(*texts: str | bytes) -> None:
    """No form of the password (plain, base64, AUTH PLAIN) in any of TEXTS."""
    for text in texts:
        data = text.encode() if isinstance(text, str) else text
        for form in FORMS:
            assert form.encode() not in data, form


def test_compiled_table_names_variables_never_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN the password in the environment WHEN compiled THEN the table holds the variable name only."""
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    monkeypatch.setenv("SMTP_LOGIN", LOGIN)
    (tmp_path / "policy.mail").write_text(POLICY, encoding="utf-8")
    result = compile_file(tmp_path / "policy.mail")
    assert result.errors == [] and result.table is not None
    text = dump_table(result.table)
    assert_hidden(text)
    assert result.table["smtp"]["default"]["password"] == {"env": "SMTP_PASSWORD"}
    run = CliRunner().invoke(cli, ["compile", str(tmp_path / "policy.mail")])
    assert run.exit_code == 0
    assert_hidden(run.stdout, run.stderr)


def test_literal_password_is_a_compile_error_and_no_table(tmp_path: Path) -> None:
    """GIVEN `password = "..."` WHEN compiled THEN an error and no table: a literal never reaches one."""
    (tmp_path / "policy.mail").write_text(
        POLICY.replace('password = env "SMTP_PASSWORD"', f'password = "{PASSWORD}"'), encoding="utf-8"
    )
    result = compile_file(tmp_path / "policy.mail")
    assert result.table is None
    assert [d.code for d in result.errors] == ["MP206"]
    for diag in result.diagnostics:  # the excerpt shows the line, but the message never repeats it
        assert_hidden(diag.message, *diag.help)
    run = CliRunner().invoke(cli, ["compile", str(tmp_path / "policy.mail")])
    assert run.exit_code == 1
    assert run.stdout == ""


def test_settings_repr_format_and_tracebacks_hide_the_password() -> None:
    """GIVEN settings holding the password WHEN printed, formatted or in a traceback THEN it never shows."""
    settings = SmtpSettings("smtp.firm.be", 587, "starttls", LOGIN, Secret(PASSWORD))
    assert_hidden(repr(settings), str(settings), f"{settings}", f"{settings.password!r} {settings.password}")
    try:
        raise RuntimeError(f"cannot send with {settings} and {settings.password}")
    except RuntimeError as exc:
        assert_hidden("".join(traceback.format_exception(exc)))


def test_missing_variable_error_names_the_variable_not_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN the login variable set and the password variable unset WHEN settings are read THEN the
    error names SMTP_PASSWORD and shows no value."""
    table = load_table(make_table())
    table.smtp = {
        "default": smtp_block("smtp.firm.be", 587, line=7),
        "senders": {},
    }
    with pytest.raises(SmtpSettingsError) as info:
        settings_for(table, None, environ={"SMTP_LOGIN": PASSWORD})
    assert "SMTP_PASSWORD" in str(info.value)
    assert_hidden(str(info.value))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[TestServer]:
    """The STARTTLS + AUTH test server, with this module's password."""
    srv = TestServer(tmp_path, login=LOGIN, password=PASSWORD).start()
    yield srv
    srv.stop()


def _send(folder: Path, srv: TestServer, *extra: str, login: str = LOGIN) -> Result:
    """`mailpolicy send --all` of two relations through SRV, with a journal and a JSON report."""
    table = make_table([Rule("bcc", free("office@firm.be")), Rule("subject", "Nouvelles")])
    table["smtp"]["default"] = smtp_block("127.0.0.1", srv.port, line=7)
    (folder / "table.json").write_text(json.dumps(table), encoding="utf-8")
    (folder / "data.yaml").write_text(
        "relations:\n"
        "  - {id: R1, name: A, emails: [a@client.be]}\n"
        "  - {id: R2, name: B, emails: [b@client.be]}\n",
        encoding="utf-8",
    )
    env = {"SMTP_LOGIN": login, "SMTP_PASSWORD": PASSWORD, "SSL_CERT_FILE": str(srv.cert_path)}
    argv = [
        "send",
        str(folder / "table.json"),
        "--data",
        str(folder / "data.yaml"),
        "--all",
        "--kind",
        "general",
    ]
    argv += ["--journal", str(folder / "outbox.sqlite"), "--report", str(folder / "report.json")]
    argv += ["--retry-delay", "0", "--attempts", "1", *extra]
    return CliRunner().invoke(cli, argv, env=env, catch_exceptions=False)


def _everything(
    folder: Path, run: Result, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> list[str | bytes]:
    """Every place a secret could end up: output, report, journal files, our logs, raw fd output."""
    captured = capfd.readouterr()
    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]  # aiosmtpd is the server
    return [
        run.stdout,
        run.stderr,
        (folder / "report.json").read_text(encoding="utf-8"),
        b"".join(p.read_bytes() for p in folder.glob("outbox.sqlite*")),
        "\n".join(r.getMessage() for r in ours),
        captured.out,
        captured.err,
    ]


def test_a_successful_send_leaks_nothing(
    server: TestServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """GIVEN a send that logs in and delivers WHEN every output, file and log is read
    THEN no form of the password is anywhere (smtplib's debug output is never on)."""
    caplog.set_level(logging.DEBUG)
    run = _send(tmp_path, server)
    assert run.exit_code == 0, run.output
    assert [m.login for m in server.messages] == [LOGIN, LOGIN]
    places = _everything(tmp_path, run, caplog, capfd)
    assert_hidden(*places)
    assert "send: 'AUTH" not in places[1] and "reply: b'235" not in places[1]  # smtplib's debug lines


ECHOES = {
    "plain": (LOGIN, PASSWORD),
    "base64": (LOGIN, base64.b64encode(PASSWORD.encode()).decode()),
    # The password's base64 inside the blob depends on the login's length modulo 3: try all three.
    **{
        f"auth-plain-{len(login) % 3}": (login, base64.b64encode(f"\0{login}\0{PASSWORD}".encode()).decode())
        for login in ("firm-login", "firm-login1", "firm-login12")
    },
}


@pytest.mark.parametrize(("login", "echo"), list(ECHOES.values()), ids=list(ECHOES))
def test_a_server_echoing_the_password_is_redacted(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    login: str,
    echo: str,
) -> None:
    """GIVEN a server whose refusal quotes the password (plain, base64 or inside the AUTH PLAIN blob)
    WHEN the failure is reported THEN the password's part is `***` everywhere (for AUTH PLAIN at most
    the two characters sharing a base64 group with the login can remain)."""
    caplog.set_level(logging.DEBUG)
    server = TestServer(tmp_path, login=login, password=PASSWORD).start()
    try:
        server.fail_next_mail(f"550 5.7.1 refused for {echo} sorry", times=2)
        run = _send(tmp_path, server, login=login)
    finally:
        server.stop()
    assert run.exit_code == 1
    (shown,) = {line.split("refused for ")[1] for line in run.stdout.splitlines() if "refused for" in line}
    assert shown.endswith("*** sorry")
    revealed = base64.b64decode(shown.removesuffix("*** sorry") + "===")  # what the visible part decodes to
    assert PASSWORD[2:].encode() not in revealed
    assert_hidden(*_everything(tmp_path, run, caplog, capfd))

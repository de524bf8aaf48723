"""Benchmark 5: `send` to a local aiosmtpd on loopback, one reused connection against one per message.

The server is the test suite's (`tests/smtp_server.py`): aiosmtpd on 127.0.0.1, STARTTLS and
AUTH required (as a real submission server), run as a process of its own
(`smtp_server_process.py`). The messages are the example invoice composed by the fast path.
Ours: one `Sender` sending every message over its one connection. Comparator: a new `Sender`
per message (connect, EHLO, STARTTLS, EHLO, AUTH, send, QUIT), as a script calling `smtplib`
per message would. Also a plain-text server (no TLS, no AUTH), where a connection costs less.
Measured: messages per second.
Target: the reused connection >= 5x the messages per second of one connection per message.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import EXAMPLES, Stats, header, line, parser, ratio, stats  # noqa: E402

from mailpolicy.compiler import compile_file  # noqa: E402
from mailpolicy.runtime import load_data, load_table, resolve_message  # noqa: E402
from mailpolicy.runtime.message import ComposedMessage, compose_message  # noqa: E402
from mailpolicy.runtime.send import RetryPolicy, Sender, Status  # noqa: E402
from mailpolicy.runtime.smtp_settings import Secret, SmtpSettings  # noqa: E402


class Server:
    """The SMTP server process: its settings and a client TLS context trusting its certificate."""

    def __init__(self, directory: Path, security: str) -> None:
        self.security = security
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "smtp_server_process.py"), str(directory), security],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        port, cert, login, password = self.process.stdout.readline().split()
        plain = security == "none"
        self.settings = SmtpSettings(
            host="127.0.0.1",
            port=int(port),
            security=security,  # type: ignore[arg-type]
            login=None if plain else login,
            password=None if plain else Secret(password),
        )
        self.context = ssl.create_default_context(cafile=cert)

    def stop(self) -> None:
        """End the server process (it stops when its stdin closes)."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def rate(server: Server, messages: list[ComposedMessage], *, reuse: bool) -> float:
    """Messages per second sending MESSAGES to SERVER."""

    def sender() -> Sender:
        return Sender(server.settings, ssl_context=server.context, retry=RetryPolicy(attempts=1), timeout=30)

    start = time.perf_counter()
    if reuse:
        with sender() as one:
            outcomes = [one.send_message(m) for m in messages]
    else:
        outcomes = []
        for m in messages:
            with sender() as each:
                outcomes.append(each.send_message(m))
    seconds = time.perf_counter() - start
    bad = [o for o in outcomes if o.status is not Status.SENT]
    if bad:
        raise SystemExit(f"sending failed: {bad[0].describe()}")
    return len(messages) / seconds


def _inverse(s: Stats) -> Stats:
    """Seconds per message from messages per second (so that `ratio` divides the right way)."""
    return Stats(1 / s.median, 1 / s.high, 1 / s.low, "s/msg", s.runs)


def main() -> None:
    """Run the benchmark and print its results."""
    args = parser(__doc__ or "").parse_args()
    count, runs = (5, 2) if args.quick else (200, 5)
    result = compile_file(EXAMPLES / "firm-settings.mail")
    assert result.table is not None
    table = load_table(result.table)
    data = load_data(EXAMPLES / "data.yaml")
    env = resolve_message(table, data, kind="invoice", document="F2026-0042", sender="jan")
    messages = [compose_message(table, data, env) for _ in range(count)]
    header("send over loopback SMTP (aiosmtpd in its own process)")
    size, rcpts = len(messages[0].data), len(messages[0].recipients)
    line("messages", f"{count} per run, {size} bytes, {rcpts} recipients each")
    with tempfile.TemporaryDirectory(prefix="mailpolicy-bench-") as tmp:
        for security in ("starttls", "none"):
            server = Server(Path(tmp), security)
            try:
                rate(server, messages[:2], reuse=True)  # warm-up: imports, first handshake
                reused = stats([rate(server, messages, reuse=True) for _ in range(runs)], "msg/s")
                each = stats([rate(server, messages, reuse=False) for _ in range(runs)], "msg/s")
            finally:
                server.stop()
            label = "STARTTLS + AUTH" if security == "starttls" else "plain, no AUTH"
            line(f"{label}: one reused connection", reused)
            line(f"{label}: one connection per message", each)
            target = 5.0 if security == "starttls" else None
            ratio(f"{label}: reused / per message", _inverse(each), _inverse(reused), target=target)


if __name__ == "__main__":
    main()

"""Benchmark 5: `send` to a local aiosmtpd on loopback, one reused connection against one per message.

The server is the test suite's (`tests/smtp_server.py`): aiosmtpd on 127.0.0.1, STARTTLS and
AUTH required (as a real submission server), run as a process of its own
(`smtp_server_process.py`). The messages are distinct invoices of the example policy (generated
as for `compose.py`: their own relations, addresses, numbers and amounts; the 13.6 KB invoice
template), composed by the fast path, so that no per-address cache sees the same recipients twice.
Ours: one `Sender` sending every message over its one connection. Comparator: a new `Sender`
per message (connect, EHLO, STARTTLS, EHLO, AUTH, send, QUIT), as a script calling `smtplib`
per message would. Each against aiosmtpd as shipped (it does not offer PIPELINING: every command
waits for its reply) and against the same server offering PIPELINING (RFC 2920: MAIL, RCPT... and
DATA in one write), both sides of a ratio using the same server and the same client code. Also a
plain-text server (no TLS, no AUTH), where a connection costs less.
Measured: messages per second; CPU per message of the client (this process) and of the server
process (/proc/PID/stat).
Target: the reused connection >= 5x the messages per second of one connection per message.
"""

from __future__ import annotations

import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import EXAMPLES, header, line, parser, ratio, stats  # noqa: E402
from compose import invoices  # noqa: E402

from mailpolicy.compiler import compile_file  # noqa: E402
from mailpolicy.runtime import load_data, load_table, resolve_message  # noqa: E402
from mailpolicy.runtime.message import ComposedMessage, compose_message  # noqa: E402
from mailpolicy.runtime.send import RetryPolicy, Sender, Status, _quoted  # noqa: E402

quoted_cache_clear = _quoted.cache_clear
from mailpolicy.runtime.smtp_settings import Secret, SmtpSettings  # noqa: E402


class Server:
    """The SMTP server process: its settings and a client TLS context trusting its certificate."""

    def __init__(self, directory: Path, security: str, *, pipelining: bool) -> None:
        self.security = security
        directory.mkdir()  # each server its own certificate
        extra = ["pipelining"] if pipelining else []
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "smtp_server_process.py"), str(directory), security, *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        port, cert, login, password, pid = self.process.stdout.readline().split()
        self.pid = int(pid)
        plain = security == "none"
        self.settings = SmtpSettings(
            host="127.0.0.1",
            port=int(port),
            security=security,  # type: ignore[arg-type]
            login=None if plain else login,
            password=None if plain else Secret(password),
        )
        self.context = ssl.create_default_context(cafile=cert)

    def cpu(self) -> float:
        """The server process's CPU seconds so far (user + system, clock-tick resolution)."""
        with open(f"/proc/{self.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """End the server process (it stops when its stdin closes)."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


@dataclass
class Run:
    """One run: messages per second, and CPU µs per message of the client and of the server."""

    rate: float
    client_cpu: float
    server_cpu: float


def rate(server: Server, messages: list[ComposedMessage], *, reuse: bool) -> Run:
    """Send MESSAGES to SERVER; the rate and the CPU each side spent."""

    def sender() -> Sender:
        return Sender(server.settings, ssl_context=server.context, retry=RetryPolicy(attempts=1), timeout=30)

    server_start, cpu_start, start = server.cpu(), time.process_time(), time.perf_counter()
    if reuse:
        with sender() as one:
            outcomes = [one.send_message(m) for m in messages]
    else:
        outcomes = []
        for m in messages:
            with sender() as each:
                outcomes.append(each.send_message(m))
    seconds = time.perf_counter() - start
    client, served = time.process_time() - cpu_start, server.cpu() - server_start
    bad = [o for o in outcomes if o.status is not Status.SENT]
    if bad:
        raise SystemExit(f"sending failed: {bad[0].describe()}")
    n = len(messages)
    return Run(n / seconds, client / n * 1e6, served / n * 1e6)


def cpu_line(runs: list[Run]) -> str:
    """The medians of the client's and the server's CPU per message."""
    client = statistics.median(r.client_cpu for r in runs)
    served = statistics.median(r.server_cpu for r in runs)
    return f"client {client:.0f} µs, server {served:.0f} µs per message (medians of {len(runs)} runs)"


def row(label: str, value: object) -> None:
    """`_common.line` with room for the longer labels of this benchmark."""
    line(label, value, width=55)


def main() -> None:
    """Run the benchmark and print its results."""
    args = parser(__doc__ or "").parse_args()
    count, runs = (5, 2) if args.quick else (200, 5)
    result = compile_file(EXAMPLES / "firm-settings.mail")
    assert result.table is not None
    table = load_table(result.table)
    with tempfile.TemporaryDirectory(prefix="mailpolicy-bench-") as tmp:
        path = Path(tmp) / "invoices.json"
        # A batch of its own for every timed run (and the warm-up) of one server.
        path.write_text(json.dumps(invoices(count * 2 * runs + 2)), encoding="utf-8")
        data = load_data(path)
        envelopes = [
            resolve_message(table, data, kind="invoice", document=d, sender="jan", trace=False)
            for d in data.document_order
        ]
        messages = [compose_message(table, data, env) for env in envelopes]
    header("send over loopback SMTP (aiosmtpd in its own process)")
    sizes = [len(m.data) for m in messages]
    rcpts = [len(m.recipients) for m in messages]
    row(
        "messages",
        f"{count} per run, each run its own invoices, {min(sizes)}-{max(sizes)} bytes, "
        f"{min(rcpts)}-{max(rcpts)} recipients each ({statistics.mean(rcpts):.1f} on average)",
    )
    with tempfile.TemporaryDirectory(prefix="mailpolicy-bench-") as tmp:
        for security in ("starttls", "none"):
            for pipelining in (False, True):
                name = f"{security}-{'pipelining' if pipelining else 'stock'}"
                server = Server(Path(tmp) / name, security, pipelining=pipelining)
                reused: list[Run] = []
                each: list[Run] = []
                # Every run sends invoices no run of this server sent before, with the per-address
                # quoting cache emptied per server: as in a bulk run, each new recipient costs.
                quoted_cache_clear()
                batches = iter(messages[i : i + count] for i in range(2, len(messages), count))
                try:
                    rate(server, messages[:2], reuse=True)  # warm-up: imports, first handshake
                    for _ in range(runs):  # interleaved: both strategies see the same load
                        reused.append(rate(server, next(batches), reuse=True))
                        each.append(rate(server, next(batches), reuse=False))
                finally:
                    server.stop()
                label = "STARTTLS + AUTH" if security == "starttls" else "plain, no AUTH"
                if pipelining:
                    label += ", PIPELINING"
                fast = stats([r.rate for r in reused], "msg/s")
                slow = stats([r.rate for r in each], "msg/s")
                row(f"{label}: one reused connection", fast)
                row(f"{label}: one connection per message", slow)
                target = 5.0 if security == "starttls" else None
                # Rates: the reused connection's goes first (higher is better).
                ratio(f"{label}: reused / per message", fast, slow, target=target, width=55)
                row(f"{label}: CPU, reused", cpu_line(reused))
                row(f"{label}: CPU, per message", cpu_line(each))


if __name__ == "__main__":
    main()

"""The test suite's SMTP server (`tests/smtp_server.py`) as a process of its own, for benchmark 5.

`python smtp_server_process.py DIR SECURITY [pipelining]` starts the server on 127.0.0.1 (with
`pipelining`, advertising RFC 2920 PIPELINING; otherwise aiosmtpd as shipped), prints one line
`PORT CERT_PATH LOGIN PASSWORD PID` and serves until its standard input closes. A real mail server
is another process: run in the benchmark's own process, the server would share its interpreter
lock and its costs would be charged to the client.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.smtp_server

from tests.smtp_server import TestServer  # noqa: E402


class _Forgetful(list):  # type: ignore[type-arg]
    """The server's list of received messages, keeping none: memory stays flat over long runs."""

    def append(self, item: object) -> None:
        """Drop ITEM."""


def main() -> None:
    """Serve until stdin closes."""
    warnings.simplefilter("ignore")
    pipelining = sys.argv[3:] == ["pipelining"]
    server = TestServer(Path(sys.argv[1]), security=sys.argv[2], pipelining=pipelining)  # type: ignore[arg-type]
    server.messages = _Forgetful()
    server.start()
    print(server.port, server.cert_path, server.login, server.password, os.getpid(), flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop()


if __name__ == "__main__":
    main()

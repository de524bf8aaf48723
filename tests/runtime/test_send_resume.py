"""A sending process killed with SIGKILL mid-batch, resumed with the same journal: nothing lost or doubled
except, at most, the one message in flight."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.smtp_server import TestServer

ROOT = Path(__file__).resolve().parents[2]
COUNT = 20

SCRIPT = textwrap.dedent(
    """
    import json, ssl, sys
    from mailpolicy.runtime.journal import Journal
    from mailpolicy.runtime.send import RetryPolicy, Sender
    from mailpolicy.runtime.smtp_settings import settings_for
    from tests.smtp_server import compose, make_envelope

    port, cert, journal_path, count, retry_unknown = sys.argv[1:]
    table = {"smtp": {"default": {"host": "127.0.0.1", "port": int(port), "security": "starttls",
                                  "login": {"env": "SMTP_LOGIN"}, "password": {"env": "SMTP_PASSWORD"}},
                      "senders": {}}}
    envelopes = [make_envelope(f"R{i:03}", [f"r{i}@x.be"], document=f"F{i}") for i in range(int(count))]
    context = ssl.create_default_context(cafile=cert)
    with Journal(journal_path) as journal, Sender(
        lambda user: settings_for(table, user), ssl_context=context, retry=RetryPolicy(base_delay=0.01)
    ) as sender:
        report = sender.send_batch(
            envelopes, journal=journal, compose=compose, retry_unknown=retry_unknown == "1",
            progress=lambda outcome: print(outcome.status, outcome.relation, flush=True),
        )
    print(json.dumps(report.as_dict()["summary"]))
    """
)


def run_sender(
    server: TestServer, journal: Path, script: Path, *, retry_unknown: bool = False
) -> subprocess.Popen[str]:
    env = dict(os.environ, SMTP_LOGIN=server.login, SMTP_PASSWORD=server.password, PYTHONPATH=str(ROOT))
    args = [str(server.port), str(server.cert_path), str(journal), str(COUNT), "1" if retry_unknown else "0"]
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_killed_mid_batch_and_resumed_every_recipient_gets_one_copy(tmp_path: Path) -> None:
    """GIVEN a slow server and a batch of 20 WHEN the sender is killed with SIGKILL after a few messages
    and the same command runs again with the same journal THEN every recipient has exactly one copy,
    except at most the one message in flight, which is reported unknown (and sent by --retry-unknown)."""
    script = tmp_path / "send_batch.py"
    script.write_text(SCRIPT)
    journal = tmp_path / "outbox.sqlite"
    server = TestServer(tmp_path).start()
    try:
        server.data_delay = 0.15
        first = run_sender(server, journal, script)
        assert server.wait_for_messages(6, timeout=60), first.communicate()
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        assert first.returncode == -signal.SIGKILL
        before = len(server.messages)
        assert 6 <= before < COUNT

        server.data_delay = 0
        resumed = run_sender(server, journal, script)
        out, err = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, err
        summary = json.loads(out.splitlines()[-1])
        assert summary["failed"] == summary["partial"] == 0
        assert summary["unknown"] <= 1
        assert summary["sent"] + summary["skipped"] + summary["unknown"] == COUNT
        assert summary["skipped"] >= before - 1

        copies = server.copies_by_recipient()
        recipients = [f"r{i}@x.be" for i in range(COUNT)]
        missing = [r for r in recipients if copies.get(r, 0) == 0]
        assert all(copies.get(r, 0) <= 1 for r in recipients)
        assert len(missing) <= 1
        assert len(missing) <= summary["unknown"]

        again = run_sender(server, journal, script, retry_unknown=True)
        out, err = again.communicate(timeout=120)
        assert again.returncode == 0, err
        copies = server.copies_by_recipient()
        assert all(copies.get(r, 0) >= 1 for r in recipients)
        assert sum(copies.get(r, 0) - 1 for r in recipients) <= 1  # at most the in-flight one twice
    finally:
        server.stop()

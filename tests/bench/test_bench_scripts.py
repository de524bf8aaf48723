"""Smoke tests of the benchmark scripts in bench/: each runs at its `--quick` size and reports.

These check the shape of the output (median/min/max lines, a same-run ratio, a target verdict)
and what the scripts measure, never wall-clock times: the machine is shared.
"""

from __future__ import annotations

import email
import email.policy
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
STATS = re.compile(r"median [\d.]+ [^(]+?\s+\(min [\d.]+, max [\d.]+, \d+ runs\)")
RATIO = re.compile(r"^\s*.+?\s{2,}[\d.]+x(\s+target >= [\d.]+x: (met|MISSED by [\d.]+x))?$", re.M)
UNDER = re.compile(r"< [\d.]+ (µs|ms|MB): (met|MISSED by [\d.]+x)$", re.M)


def run(script: str) -> str:
    """The output of `python bench/SCRIPT --quick` (which must succeed)."""
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def value(output: str, label: str) -> str:
    """The text after LABEL on its result line."""
    found = re.search(rf"^{re.escape(label)}\s+(.*)$", output, re.M)
    assert found, f"no line {label!r} in:\n{output}"
    return found.group(1)


def assert_report(output: str, *, stats: int, ratios: int) -> None:
    """A header with the machine, STATS median/min/max lines and RATIOS ratio lines."""
    assert output.startswith("== ")
    assert re.search(r"^machine\s+\d+ CPUs \(.+\), Python 3\.\d+", output, re.M)
    assert len(STATS.findall(output)) == stats, output
    assert len(RATIO.findall(output)) == ratios, output


def test_compose() -> None:
    """Four paths (the fast one with and without the trace) timed per message in CPU and wall
    time, two ratios each, the 100 µs target judged."""
    out = run("compose.py")
    assert_report(out, stats=8, ratios=4)
    assert re.match(r"20 distinct invoices, HTML template 13\.\d KB, \d+-\d+ bytes", value(out, "messages"))
    assert "µs/message CPU" in value(out, "mailpolicy compose_message (fast path), CPU")
    assert "µs/message wall" in value(out, "mailpolicy compose_message (fast path), wall")
    assert re.search(r"target >= 15x: (met|MISSED)", value(out, "naive / fast path, CPU"))
    assert len(UNDER.findall(out)) == 2


def test_render_all() -> None:
    """Both pipelines render every generated relation; time, memory and the streaming check."""
    out = run("render_all.py")
    assert_report(out, stats=14, ratios=3)
    assert re.search(r"target >= 8x: (met|MISSED)", value(out, "naive / mailpolicy (30), wall"))
    assert re.search(r"target >= 8x: (met|MISSED)", value(out, "naive / mailpolicy (30), CPU"))
    assert re.match(r"-?[\d.]+ MB$", value(out, "  held by rendering them all (streaming)"))
    assert re.search(r"peak memory, 60 relations\s+[\d.]+ MB < 150 MB: (met|MISSED)", out)


def test_check_cold() -> None:
    """Check against bare Python and the dependency imports; the heavy imports it makes are named."""
    out = run("check_cold.py")
    assert_report(out, stats=6, ratios=0)
    assert len(UNDER.findall(out)) == 2
    heavy = value(out, "heavy modules imported by check")
    assert heavy == "none" or set(heavy.split(", ")) <= {
        "mjml",
        "jsonschema",
        "babel",
        "email_validator",
        "css_inline",
        "yaml",
    }


def test_compile_time() -> None:
    """Two generated policy sizes, each compiled and parsed by Lark alone."""
    out = run("compile_time.py")
    assert_report(out, stats=8, ratios=2)
    assert len(UNDER.findall(out)) == 2
    sizes = re.findall(r"^policy of (\d+) lines\s+(\d+) tokens", out, re.M)
    assert len(sizes) == 2 and int(sizes[0][0]) < int(sizes[1][0]) and all(int(t) > 0 for _, t in sizes)


def test_send_rate() -> None:
    """Both connection strategies against both server kinds, each as shipped and offering PIPELINING;
    every message accepted; the CPU of client and server reported."""
    out = run("send_rate.py")
    assert_report(out, stats=8, ratios=4)
    assert re.search(r"STARTTLS \+ AUTH: reused / per message\s+[\d.]+x\s+target >= 5x", out)
    assert re.search(r"STARTTLS \+ AUTH, PIPELINING: reused / per message\s+[\d.]+x\s+target >= 5x", out)
    assert re.search(r"STARTTLS \+ AUTH, PIPELINING: CPU, reused\s+client \d+ µs, server \d+ µs", out)


@pytest.mark.parametrize("kind", ["invoice", "mailing"])
def test_naive_pipeline_builds_the_same_message(kind: str) -> None:
    """The comparator does the whole job: its message parses, with the values filled in both parts."""
    sys.path.insert(0, str(BENCH))
    try:
        import naive
    finally:
        sys.path.remove(str(BENCH))
    firm = {"name": "Cabinet Dupont & Associés", "company": "info@dupont-associes.be"}
    document = {"number": "2026-0042", "date": "2026-11-20", "due_date": "2026-12-20", "amount": "1210.00"}
    values = naive.values_for(
        firm, {"id": "R001", "name": "Garage <Martin>"}, document if kind == "invoice" else None
    )
    source = (ROOT / "examples" / "templates" / f"{kind}.mjml").read_text(encoding="utf-8")
    data = naive.naive_message(
        source,
        naive.TEXT_TEMPLATES[kind],
        values,
        from_name="Cabinet Dupont & Associés",
        from_address="jan@dupont-associes.be",
        to=["compta@garage-martin.be"],
        cc=[],
        reply_to=[],
        subject="Facture 2026-0042",
    )
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert msg["To"] == "compta@garage-martin.be"
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Garage &lt;Martin&gt;" in html and "{{" not in html and "<mj-" not in html
    assert "Garage <Martin>" in text and "{{" not in text
    if kind == "invoice":
        assert "1 210,00 €" in html and "20 décembre 2026" in text

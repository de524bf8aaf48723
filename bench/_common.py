"""Shared helpers of the benchmark scripts: repeated timing, statistics, machine description.

Every benchmark prints, for each measured thing, the median, min and max of its repeated runs,
and the ratio of its comparator's median to its own, both measured in the same run (the machine
is shared, so only same-run ratios mean anything).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@dataclass(frozen=True)
class Stats:
    """The median, min and max of repeated measurements, in one unit."""

    median: float
    low: float
    high: float
    unit: str
    runs: int

    def __str__(self) -> str:
        return (
            f"median {_fmt(self.median)} {self.unit}  "
            f"(min {_fmt(self.low)}, max {_fmt(self.high)}, {self.runs} runs)"
        )


def _fmt(value: float) -> str:
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def stats(samples: Sequence[float], unit: str) -> Stats:
    """Summary of SAMPLES (already in UNIT)."""
    return Stats(statistics.median(samples), min(samples), max(samples), unit, len(samples))


def repeat(fn: Callable[[], object], runs: int, *, cpu: bool = False) -> list[float]:
    """Seconds of RUNS calls of FN: wall time, or with CPU this process's CPU time.

    CPU time leaves out the slices the shared machine gives to other processes, which wall time
    counts: under load it is the steadier measure of the work itself.
    """
    clock = time.process_time if cpu else time.perf_counter
    out = []
    for _ in range(runs):
        start = clock()
        fn()
        out.append(clock() - start)
    return out


def parser(description: str) -> argparse.ArgumentParser:
    """The common command line: `--quick` for a tiny smoke-test size."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="tiny sizes and few runs (smoke test only)")
    return p


def line(label: str, value: object, *, width: int = 44) -> None:
    """One result line: `label: value`, labels padded to WIDTH so the columns line up."""
    print(f"{label:<{width}} {value}", flush=True)


def ratio(
    label: str, comparator: Stats, ours: Stats, *, target: float | None = None, width: int = 44
) -> float:
    """Print comparator median / our median (how many times faster), against TARGET if any.

    For times, the comparator's is the larger; for rates (messages per second), pass ours first.
    """
    value = comparator.median / ours.median
    verdict = ""
    if target is not None:
        verdict = (
            f"  target >= {target:g}x: met"
            if value >= target
            else f"  target >= {target:g}x: MISSED by {target / value:.2f}x"
        )
    line(label, f"{value:.1f}x{verdict}", width=width)
    return value


def under(label: str, value: float, limit: float, unit: str) -> None:
    """Print whether VALUE stays under LIMIT (an absolute target)."""
    verdict = "met" if value < limit else f"MISSED by {value / limit:.2f}x"
    line(label, f"{_fmt(value)} {unit} < {_fmt(limit)} {unit}: {verdict}")


def machine() -> str:
    """nproc, CPU model, Python version and load: the context of every result."""
    cpu = platform.processor() or "unknown CPU"
    try:
        text = Path("/proc/cpuinfo").read_text()
        found = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        if found:
            cpu = found.group(1).strip()
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()} "
        f"on {platform.system()} {platform.release()}, load average {load}"
    )


def header(title: str) -> None:
    """The first lines of a benchmark's output."""
    print(f"== {title}")
    line("machine", machine())


def console_script() -> list[str]:
    """The command that runs `mailpolicy` without a shell shim (pyenv's costs ~50 ms per start)."""
    beside = Path(sys.executable).parent / "mailpolicy"
    if beside.exists():
        return [str(beside)]
    return [sys.executable, "-c", "import sys; from mailpolicy.cli import cli; sys.exit(cli())"]


@dataclass(frozen=True)
class ProcessRun:
    """One whole-process run: wall and CPU (user + system) seconds, peak memory, exit status, output."""

    seconds: float
    user_seconds: float
    system_seconds: float
    peak_mb: float
    returncode: int
    stdout: str
    stderr: str

    @property
    def cpu_seconds(self) -> float:
        """User + system time."""
        return self.user_seconds + self.system_seconds


_TIME = shutil.which("time") if Path("/usr/bin/time").exists() else None


def run_process(
    argv: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> ProcessRun:
    """Run ARGV to completion; wall time from here, peak RSS from `/usr/bin/time -v` when present
    (else from `getrusage(RUSAGE_CHILDREN)`, which only ever grows: the largest child so far)."""
    command = list(argv)
    if _TIME:
        command = ["/usr/bin/time", "-v", *command]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    user = after.ru_utime - before.ru_utime
    system = after.ru_stime - before.ru_stime
    stderr = done.stderr
    if _TIME:
        found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
        peak_kb = int(found.group(1)) if found else 0
        cut = stderr.rfind("\tCommand being timed")
        stderr = stderr[:cut] if cut >= 0 else stderr
    else:
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return ProcessRun(seconds, user, system, peak_kb / 1024, done.returncode, done.stdout, stderr)

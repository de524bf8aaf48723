"""Benchmark 2: `mailpolicy render --all` as a whole process on generated relations.

Generates JSON data files of N relations (the example's users and client groups; relations with
names, several addresses, roles, languages fr/nl/en, consent to mailings) in a temporary folder,
then runs `mailpolicy render examples/firm-settings.mail --data ... --kind mailing --all
--sender jan --out DIR` (compile included: the template is rendered once per run). Measured:
wall time and peak resident memory of the process. Comparator: `naive_render.py` doing the same
messages with the naive pipeline (MJML rendered per message), also as a whole process.
Ours and the comparator run in turn, each run into a new output folder (removed at the end: ~1.5 GB),
with user and system time printed apart.
Streaming check: peak memory of `--all` against `--relation` (one message) on the same data: the
difference is what rendering every message holds on to.
Targets: 3,000 messages >= 8x faster than the naive pipeline; 30,000 under 150 MB peak.
"""

from __future__ import annotations

import itertools
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    EXAMPLES,
    ProcessRun,
    console_script,
    header,
    line,
    parser,
    ratio,
    run_process,
    stats,
    under,
)

_FIRST = "Marie Jean Luc Sophie Pieter Anne Lotte Émile Zoë Noël".split()
_LAST = "Martin Peeters Dubois Janssens Lambert De Smet Dupont Van den Broeck Müller Çelik".split()
_FAMILIES = ["garage", "horeca", "leasing", "consulting"]
_USERS = ["jan", "marie", "sophie", "luc", "pieter"]


def generate(n: int) -> dict[str, object]:
    """A data file of N relations, deterministic."""
    relations = []
    for i in range(n):
        name = f"{_FIRST[i % 10]} {_LAST[(i // 10) % 10]} {i:05d}"
        relations.append(
            {
                "id": f"R{i:05d}",
                "name": name if i % 7 else f"{name} & Fils SPRL",
                "emails": [f"client{i}@example-{i % 97}.be"]
                + ([f"compta{i}@example-{i % 97}.be"] if i % 3 == 0 else []),
                "client_group": "garages" if i % 4 == 0 else None,
                "roles": {
                    "responsible": _USERS[i % 5],
                    "partner": _USERS[(i + 1) % 5],
                    "file_manager": _USERS[(i + 2) % 5],
                },
                "language": ["fr", "nl", "en"][i % 3],
                "family": _FAMILIES[i % 4],
                "accepts_promotional": True,
            }
        )
    return {
        "users": [
            {"id": "jan", "name": "Jan Janssens", "email": "jan@dupont-associes.be"},
            {"id": "marie", "name": "Marie Dupont", "email": "marie@dupont-associes.be"},
            {"id": "sophie", "name": "Sophie Lambert", "email": "sophie@dupont-associes.be"},
            {"id": "luc", "name": "Luc Peeters", "email": "luc@dupont-associes.be"},
            {"id": "pieter", "name": "Pieter De Smet", "email": "pieter.desmet@gmail.com"},
        ],
        "client_groups": [{"id": "garages", "name": "Garages", "email": "garages@dupont-associes.be"}],
        "relations": [{k: v for k, v in r.items() if v is not None} for r in relations],
        "documents": [],
    }


def ours(data: Path, out: Path, *, one: bool = False) -> ProcessRun:
    """`mailpolicy render` over every relation of DATA (or only the first one with ONE)."""
    select = ["--relation", "R00000"] if one else ["--all"]
    argv = [*console_script(), "render", str(EXAMPLES / "firm-settings.mail"), "--data", str(data)]
    run = run_process([*argv, "--kind", "mailing", *select, "--sender", "jan", "--out", str(out)])
    if run.returncode != 0:
        raise SystemExit(f"render failed ({run.returncode}): {run.stderr[-2000:]}")
    return run


def naive(data: Path, out: Path) -> ProcessRun:
    """The naive pipeline over every relation of DATA."""
    script = Path(__file__).resolve().parent / "naive_render.py"
    run = run_process([sys.executable, str(script), str(data), str(out)])
    if run.returncode != 0:
        raise SystemExit(f"naive render failed ({run.returncode}): {run.stderr[-2000:]}")
    return run


def _user_system(runs: list[ProcessRun]) -> None:
    """The user and system parts of the CPU time: system time here is mostly creating the files."""
    line("    user", stats([r.user_seconds for r in runs], "s user"))
    line("    system", stats([r.system_seconds for r in runs], "s system"))


def main() -> None:
    """Run the benchmark and print its results."""
    args = parser(__doc__ or "").parse_args()
    small, large, runs, large_runs = (30, 60, 2, 1) if args.quick else (3000, 30000, 5, 3)
    header("mailpolicy render --all, whole process")
    with tempfile.TemporaryDirectory(prefix="mailpolicy-bench-") as tmp:
        root = Path(tmp)
        for n in (small, large):
            (root / f"data-{n}.json").write_text(
                json.dumps(generate(n), ensure_ascii=False), encoding="utf-8"
            )

        folders = itertools.count()

        def fresh(name: str) -> Path:
            """A new output folder for every run, removed only when the benchmark ends.

            Deleting the previous run's files just before the next run would charge that run for
            the deletion: on ext4 without a journal (this machine's root file system) the inode
            allocator skips every inode freed in the last 60 s, so each new file pays for a scan
            over the 3,000 just freed (0.1-0.7 s of system time per run, growing run after run).
            That cost belongs to the benchmark's own clean-up, not to either pipeline.
            """
            out = root / f"{name}-{next(folders)}"
            out.mkdir()
            return out

        # Interleaved, so that other processes' load on the shared machine falls on both alike.
        runs_small: list[ProcessRun] = []
        runs_naive: list[ProcessRun] = []
        for _ in range(runs):
            runs_small.append(ours(root / f"data-{small}.json", out := fresh("out")))
            count = len(list(out.iterdir()))
            assert count == small, f"{count} files written for {small} relations"
            runs_naive.append(naive(root / f"data-{small}.json", out := fresh("naive")))
            assert len(list(out.iterdir())) == small
        t_ours = stats([r.seconds for r in runs_small], "s wall")
        t_naive = stats([r.seconds for r in runs_naive], "s wall")
        c_ours = stats([r.cpu_seconds for r in runs_small], "s CPU")
        c_naive = stats([r.cpu_seconds for r in runs_naive], "s CPU")
        line(f"mailpolicy render --all, {small} relations", t_ours)
        line("  CPU", c_ours)
        _user_system(runs_small)
        line("  peak memory", stats([r.peak_mb for r in runs_small], "MB"))
        line(f"naive pipeline, {small} relations", t_naive)
        line("  CPU", c_naive)
        _user_system(runs_naive)
        line("  peak memory", stats([r.peak_mb for r in runs_naive], "MB"))
        each_ours, each_naive = t_ours.median / small * 1e6, t_naive.median / small * 1e6
        line("  per message (wall): ours / naive", f"{each_ours:.0f} µs / {each_naive:.0f} µs")
        ratio(f"naive / mailpolicy ({small}), wall", t_naive, t_ours, target=8)
        ratio(f"naive / mailpolicy ({small}), CPU", c_naive, c_ours, target=8)
        ratio(
            f"naive / mailpolicy ({small}), user time",
            stats([r.user_seconds for r in runs_naive], "s"),
            stats([r.user_seconds for r in runs_small], "s"),
        )

        runs_large = []
        for _ in range(large_runs):
            runs_large.append(ours(root / f"data-{large}.json", out := fresh("out")))
            assert len(list(out.iterdir())) == large
        one = [ours(root / f"data-{large}.json", fresh("one"), one=True) for _ in range(large_runs)]
        t_large = stats([r.seconds for r in runs_large], "s wall")
        peak_large = stats([r.peak_mb for r in runs_large], "MB")
        peak_one = stats([r.peak_mb for r in one], "MB")
        line(f"mailpolicy render --all, {large} relations", t_large)
        line("  CPU", stats([r.cpu_seconds for r in runs_large], "s CPU"))
        line("  peak memory", peak_large)
        line(f"  peak memory, one message of the {large}", peak_one)
        line("  held by rendering them all (streaming)", f"{peak_large.median - peak_one.median:.1f} MB")
        line("  per message", f"{t_large.median / large * 1e6:.0f} µs")
        under(f"peak memory, {large} relations", peak_large.median, 150, "MB")


if __name__ == "__main__":
    main()

"""Benchmark 3: `mailpolicy check examples/firm-settings.mail`, whole process, cold start.

Each run is a fresh process (the console script, run without a shell shim). Comparators, in the
same run: bare `python -c pass`, and `python -c "import lark, jsonschema, click, yaml, mjml"`
(what importing every dependency up front would cost). The Lark grammar cache is warm after
the first run, as it is for a user after their first check. Also reports which heavy modules
the check process imports (`-X importtime`): it should be none of mjml, jsonschema, babel,
email_validator, css_inline.
Target: under 150 ms whole process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import EXAMPLES, console_script, header, line, parser, run_process, stats, under  # noqa: E402

HEAVY = ("mjml", "jsonschema", "babel", "email_validator", "css_inline", "yaml")


def imported_heavy() -> list[str]:
    """The heavy top-level modules that `mailpolicy check` of the example imports."""
    script = (
        "import sys; from mailpolicy.cli import cli; sys.argv[1:] = ['check', 'firm-settings.mail']; cli()"
    )
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", script],
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        check=False,
    )
    names = set()
    for row in done.stderr.splitlines():
        if row.startswith("import time:") and "|" in row:
            names.add(row.rsplit("|", 1)[1].strip().split(".")[0])
    return sorted(n for n in names if n in HEAVY)


def main() -> None:
    """Run the benchmark and print its results."""
    args = parser(__doc__ or "").parse_args()
    runs = 3 if args.quick else 21
    check = [*console_script(), "check", "firm-settings.mail"]
    first = run_process(check, cwd=EXAMPLES)  # warms the grammar cache and the OS file cache
    if first.returncode not in (0, 1) or "checked 1 policy" not in first.stdout + first.stderr:
        raise SystemExit(f"check failed ({first.returncode}): {first.stderr[-2000:]}")
    bare = [sys.executable, "-c", "pass"]
    deps = [sys.executable, "-c", "import lark, jsonschema, click, yaml, mjml"]
    wall: dict[str, list[float]] = {"check": [], "bare": [], "deps": []}
    cpu: dict[str, list[float]] = {"check": [], "bare": [], "deps": []}
    # Interleaved, so that a burst of load from elsewhere on the machine hits all three alike.
    for _ in range(runs):
        for name, argv, cwd in (("check", check, EXAMPLES), ("bare", bare, None), ("deps", deps, None)):
            done = run_process(argv, cwd=cwd)
            wall[name].append(done.seconds * 1000)
            cpu[name].append(done.cpu_seconds * 1000)
    header("mailpolicy check examples/firm-settings.mail, whole process (cold start)")
    for what, samples in (("wall", wall), ("CPU", cpu)):
        ours = stats(samples["check"], f"ms {what}")
        bare_stats = stats(samples["bare"], f"ms {what}")
        line(f"mailpolicy check, {what}", ours)
        line(f"python -c pass, {what}", bare_stats)
        line(
            f"python -c 'import lark, jsonschema, click, yaml, mjml', {what}",
            stats(samples["deps"], f"ms {what}"),
        )
        line(f"check minus bare python, {what}", f"{ours.median - bare_stats.median:.0f} ms")
        under(f"check, whole process, {what}", ours.median, 150, "ms")
    line("heavy modules imported by check", ", ".join(imported_heavy()) or "none")


if __name__ == "__main__":
    main()

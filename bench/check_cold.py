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


def imported_heavy(argv: list[str]) -> list[str]:
    """The heavy top-level modules a process running ARGV imports."""
    script = argv[0] if len(argv) == 1 else None
    command = [sys.executable, "-X", "importtime", *([script] if script else argv[1:])]
    done = subprocess.run(
        [*command, "check", "firm-settings.mail"] if script else command,
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
    samples: dict[str, list[float]] = {"check": [], "bare": [], "deps": []}
    # Interleaved, so that a burst of load from elsewhere on the machine hits all three alike.
    for _ in range(runs):
        samples["check"].append(run_process(check, cwd=EXAMPLES).seconds * 1000)
        samples["bare"].append(run_process(bare).seconds * 1000)
        samples["deps"].append(run_process(deps).seconds * 1000)
    header("mailpolicy check examples/firm-settings.mail, whole process (cold start)")
    ours = stats(samples["check"], "ms")
    line("mailpolicy check", ours)
    line("python -c pass", stats(samples["bare"], "ms"))
    line("python -c 'import lark, jsonschema, click, yaml, mjml'", stats(samples["deps"], "ms"))
    line("check minus bare python", f"{ours.median - stats(samples['bare'], 'ms').median:.0f} ms")
    line("heavy modules imported by check", ", ".join(imported_heavy(console_script())) or "none")
    under("check, whole process", ours.median, 150, "ms")


if __name__ == "__main__":
    main()

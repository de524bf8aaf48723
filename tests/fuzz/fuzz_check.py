"""The long fuzz run of `mailpolicy check` (not part of the default test run).

    python tests/fuzz/fuzz_check.py --examples 20000 [--seed 1] [--valid-only]
    python tests/fuzz/fuzz_check.py --pipeline --examples 2000

With `--pipeline`, policies meant to compile are resolved and built for every kind and relation
of the runtime tests' data file, by both message paths (see `check_pipeline`).

Runs the properties of `tests/fuzz/properties.py` on policies generated from the grammar and then
damaged, and prints how often each diagnostic code came up (a run where every example fails at
the first character would prove little). Exits 1 with hypothesis's minimal failing example when
a property breaks.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

# Runnable as a plain script from anywhere: make the repository importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.fuzz.properties import check_pipeline, check_policy_bytes  # noqa: E402
from tests.fuzz.strategies import mutated_policies, policies, sound_policies  # noqa: E402
from tests.runtime.tables import DATA  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run the fuzzing campaign; 0 when every property held."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000, help="how many policies to try")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (random by default)")
    parser.add_argument("--valid-only", action="store_true", help="only undamaged policies")
    parser.add_argument("--pipeline", action="store_true", help="compile, resolve and build messages")
    args = parser.parse_args(argv)

    exits: collections.Counter[int] = collections.Counter()
    codes: collections.Counter[str] = collections.Counter()
    source = policies().map(lambda t: t.encode("utf-8"))
    strategy = source if args.valid_only else st.one_of(source, mutated_policies(), mutated_policies())

    @settings(
        max_examples=args.examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(strategy)
    def run(data: bytes) -> None:
        """One policy's bytes through every property of `check`."""
        code, found = check_policy_bytes(data)
        exits[code] += 1
        codes.update(found)

    built = collections.Counter[str]()

    @settings(
        max_examples=args.examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(sound_policies())
    def pipeline(text: str) -> None:
        """One sound policy through compile, resolve and both message paths."""
        count = check_pipeline(text, DATA)
        built["policies"] += 1
        built["compiled" if count else "no message"] += 1
        built["messages"] += count

    if args.pipeline:
        run = pipeline
    if args.seed is not None:
        run = seed(args.seed)(run)
    started = time.perf_counter()
    try:
        run()
    except AssertionError as exc:
        print(f"property broken: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    if args.pipeline:
        print(
            f"{built['policies']} policies in {elapsed:.1f}s: "
            f"{built['messages']} messages built by both paths"
        )
        return 0
    total = sum(exits.values())
    print(f"{total} policies in {elapsed:.1f}s: exit 0 x{exits[0]}, exit 1 x{exits[1]}")
    for code, count in sorted(codes.items()):
        print(f"  {code}: {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

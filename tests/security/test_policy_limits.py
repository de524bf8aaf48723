"""Policy files past the documented limits: size, nesting depth, bad bytes; a diagnostic, never a crash.

Nesting is tested 20,000 levels deep, twenty times Python's recursion limit: anything that walked
the tree recursively would raise RecursionError.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailpolicy.cli import cli
from mailpolicy.compiler import compile_file
from mailpolicy.dsl import MAX_NESTING, MAX_POLICY_BYTES

FIRM = (
    'firm {\n  name = "F"\n  company = "info@firm.be"\n  platform = "inbox@mailer.example"\n'
    '  verified_domains = ["firm.be"]\n}\n'
)
DEEP = 20_000


def check(path: Path) -> tuple[int, str]:
    """`mailpolicy check PATH` in-process: (exit code, stderr); never an exception."""
    run = CliRunner().invoke(cli, ["check", str(path)])
    assert run.exception is None or isinstance(run.exception, SystemExit), repr(run.exception)
    assert "Traceback" not in run.stderr
    return run.exit_code, run.stderr


def first_line(stderr: str) -> str:
    """The first diagnostic line of `check`'s output."""
    return stderr.splitlines()[0]


def test_policy_over_the_size_limit(tmp_path: Path) -> None:
    """GIVEN a policy one byte over MAX_POLICY_BYTES WHEN checked THEN MP007 at 1:1, exit 1."""
    path = tmp_path / "big.mail"
    comment = b"# " + b"x" * 98 + b"\n"
    path.write_bytes(
        comment * (MAX_POLICY_BYTES // len(comment)) + b"#" * (MAX_POLICY_BYTES % len(comment) + 1)
    )
    assert path.stat().st_size == MAX_POLICY_BYTES + 1
    code, stderr = check(path)
    assert code == 1
    assert first_line(stderr) == (
        f"{path}:1:1: error[MP007]: the file is too large for a policy "
        f"({MAX_POLICY_BYTES + 1} bytes; the limit is {MAX_POLICY_BYTES} bytes)"
    )


def test_huge_policy_reports_its_real_size_and_is_not_read_whole(tmp_path: Path) -> None:
    """GIVEN a 50 MiB (sparse) file as a policy WHEN checked THEN MP007 with its real size, quickly."""
    path = tmp_path / "huge.mail"
    size = 50 * 1024 * 1024
    with path.open("wb") as fh:
        fh.truncate(size)
    started = time.perf_counter()
    code, stderr = check(path)
    assert time.perf_counter() - started < 10
    assert code == 1
    assert first_line(stderr) == (
        f"{path}:1:1: error[MP007]: the file is too large for a policy "
        f"({size} bytes; the limit is {MAX_POLICY_BYTES} bytes)"
    )


def test_policy_at_the_size_limit_is_read(tmp_path: Path) -> None:
    """GIVEN a policy of exactly MAX_POLICY_BYTES of comments WHEN checked THEN no MP007."""
    path = tmp_path / "big.mail"
    comment = b"# " + b"x" * 98 + b"\n"
    path.write_bytes(FIRM.encode() + comment * ((MAX_POLICY_BYTES - len(FIRM)) // len(comment)))
    assert path.stat().st_size <= MAX_POLICY_BYTES
    assert [d.code for d in compile_file(path).diagnostics] == []


NESTED = {
    "parentheses-in-an-address": ("to = " + "(" * DEEP + "contact" + ")" * DEEP, 6, DEEP + 1),
    "parentheses-in-a-condition": (
        "to = contact when " + "(" * DEEP + "relation.accepts_promotional" + ")" * DEEP,
        19,
        DEEP + 1,
    ),
    "not-chain": ("to = contact when " + "not " * DEEP + "relation.accepts_promotional", 19, DEEP + 1),
    "list-literal": ("to = contact when relation.family in " + "[" * DEEP + '"x"' + "]" * DEEP, 19, DEEP + 2),
    "audience": ("audience deep = " + "(" * DEEP + "relation.accepts_promotional" + ")" * DEEP, 17, DEEP + 1),
}


@pytest.mark.parametrize(("rule", "column", "depth"), list(NESTED.values()), ids=list(NESTED))
def test_nesting_deeper_than_the_limit(tmp_path: Path, rule: str, column: int, depth: int) -> None:
    """GIVEN an expression nested 20,000 deep WHEN checked THEN MP304 at the expression, exit 1, quickly."""
    path = tmp_path / "deep.mail"
    path.write_text(FIRM + rule + "\n", encoding="utf-8")
    started = time.perf_counter()
    code, stderr = check(path)
    assert time.perf_counter() - started < 30
    assert code == 1
    assert first_line(stderr) == (
        f"{path}:7:{column}: error[MP304]: this expression is nested {depth} levels deep; "
        f"the limit is {MAX_NESTING}"
    )


def test_nesting_at_the_limit_is_accepted(tmp_path: Path) -> None:
    """GIVEN parentheses nested to exactly MAX_NESTING WHEN compiled THEN no diagnostic; one more is MP304."""
    levels = MAX_NESTING - 1  # the innermost source is itself one level
    path = tmp_path / "deep.mail"
    path.write_text(FIRM + "to = " + "(" * levels + "contact" + ")" * levels + "\n", encoding="utf-8")
    assert compile_file(path).diagnostics == []
    path.write_text(
        FIRM + "to = " + "(" * (levels + 1) + "contact" + ")" * (levels + 1) + "\n", encoding="utf-8"
    )
    assert [d.code for d in compile_file(path).diagnostics] == ["MP304"]


@pytest.mark.parametrize("joiner", [" and ", " or ", " else "], ids=["and", "or", "else"])
def test_long_flat_chains_compile(tmp_path: Path, joiner: str) -> None:
    """GIVEN 20,000 terms joined by and/or/else (long, but flat) WHEN compiled THEN it compiles."""
    if joiner == " else ":
        rule = "to = " + joiner.join(["contact"] * DEEP)
    else:
        rule = "to = contact when " + joiner.join(["relation.accepts_promotional"] * DEEP)
    path = tmp_path / "long.mail"
    path.write_text(FIRM + rule + "\n", encoding="utf-8")
    result = compile_file(path)
    assert result.errors == []
    assert result.table is not None


def test_unclosed_deep_parentheses(tmp_path: Path) -> None:
    """GIVEN 20,000 `(` never closed WHEN checked THEN one syntax error naming the last `(`, exit 1."""
    path = tmp_path / "open.mail"
    path.write_text(FIRM + "to = contact when " + "(" * DEEP + "\n", encoding="utf-8")
    code, stderr = check(path)
    assert code == 1
    assert first_line(stderr) == f"{path}:7:{19 + DEEP}: error[MP001]: expected a condition after '('"
    assert f"  help: the '(' at line 7, column {18 + DEEP} is never closed" in stderr.splitlines()


def test_non_utf8_policy(tmp_path: Path) -> None:
    """GIVEN a Latin-1 policy WHEN checked THEN MP005 at the first bad byte, exit 1."""
    path = tmp_path / "latin1.mail"
    path.write_bytes(FIRM.encode() + 'subject = "Soci\xe9t\xe9"\n'.encode("latin-1"))
    code, stderr = check(path)
    assert code == 1
    assert first_line(stderr) == (
        f"{path}:7:16: error[MP005]: the file is not UTF-8 text (byte 0xe9 cannot be decoded)"
    )
    assert "  help: save the policy as UTF-8" in stderr.splitlines()


def test_nul_byte_in_policy(tmp_path: Path) -> None:
    """GIVEN a NUL byte inside a rule WHEN checked THEN MP006 at the NUL, exit 1."""
    path = tmp_path / "nul.mail"
    path.write_bytes(FIRM.encode() + b'subject = "a\x00b"\n')
    code, stderr = check(path)
    assert code == 1
    assert (
        first_line(stderr)
        == f"{path}:7:13: error[MP006]: the file holds a NUL character; a policy is plain text"
    )


BINARY = {
    "utf-16": (
        b"\xff\xfe" + "to = contact\n".encode("utf-16-le"),
        "1:1: error[MP005]: the file is not UTF-8 text (byte 0xff cannot be decoded)",
    ),
    "all-nul": (b"\x00" * 64, "1:1: error[MP006]: the file holds a NUL character; a policy is plain text"),
    # bytes 0-127 are valid UTF-8 (a NUL among them, found after decoding); 0x80 is not.
    "every-byte": (
        bytes(range(256)),
        "2:118: error[MP005]: the file is not UTF-8 text (byte 0x80 cannot be decoded)",
    ),
}


@pytest.mark.parametrize(("data", "expected"), list(BINARY.values()), ids=list(BINARY))
def test_binary_files(tmp_path: Path, data: bytes, expected: str) -> None:
    """GIVEN a binary or UTF-16 file given as a policy WHEN checked THEN one located error, exit 1."""
    path = tmp_path / "binary.mail"
    path.write_bytes(data)
    code, stderr = check(path)
    assert code == 1
    assert first_line(stderr) == f"{path}:{expected}"
    assert stderr.splitlines()[-1] == "checked 1 policy: 1 error, 0 warnings"

"""Helpers shared by the preview tests: find rules in the example policy and edit copies of it.

The example policy is written by people and reformatted by `fmt`; the tests find a rule by a
pattern rather than pin its line and spacing, then pin the line and column they find.
"""

from __future__ import annotations

import re
from pathlib import Path

# The rules the tests look at, as whole-line patterns; the group `at` marks the source term.
INVOICE_CC = r"^invoice\.cc[ \t]*=[ \t]*(?P<at>responsible)[ \t]*$"
GENERAL_FROM = r"^from[ \t]*=[ \t]*(?P<at>sender)[ \t]+else[ \t]+company[ \t]*$"
INVOICE_SUBJECT_NL = r"^invoice\.subject\[nl\][ \t]*="
GENERAL_REPLY_TO = r"^reply_to[ \t]*=[ \t]*responsible[ \t]+else[ \t]+(?P<at>company)[ \t]*$"


def rule_position(policy: Path, pattern: str) -> tuple[int, int]:
    """(line, column) of the first line matching PATTERN: at its group `at`, else at the line's start."""
    for number, text in enumerate(policy.read_text(encoding="utf-8").splitlines(), start=1):
        match = re.match(pattern, text)
        if match:
            column = match.start("at") + 1 if "at" in match.groupdict() else 1
            return number, column
    raise AssertionError(f"no line of {policy.name} matches {pattern!r}")


def edit_rule(policy: Path, pattern: str, replacement: str) -> None:
    """Replace the one line matching PATTERN (a whole-line regex) by REPLACEMENT."""
    text = policy.read_text(encoding="utf-8")
    new, count = re.subn(pattern, replacement, text, count=1, flags=re.M)
    assert count == 1, f"no line of {policy.name} matches {pattern!r}"
    policy.write_text(new, encoding="utf-8")

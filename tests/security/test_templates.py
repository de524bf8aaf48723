"""Hostile MJML templates: nesting deep enough to crash MRML (the Rust MJML renderer) with SIGSEGV.

`check` runs in a subprocess so that a crash shows as a return code instead of killing the tests.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mailpolicy.compiler import compile_file
from mailpolicy.compiler.templates import MAX_TEMPLATE_DEPTH

POLICY = (
    'firm {\n  name = "F"\n  company = "info@firm.be"\n  platform = "inbox@mailer.example"\n'
    '  verified_domains = ["firm.be"]\n}\ninvoice.template = "templates/deep.mjml"\n'
)
HEAD = "<mjml><mj-body><mj-section><mj-column><mj-text>"  # five levels
TAIL = "</mj-text></mj-column></mj-section></mj-body></mjml>"


def write(folder: Path, body: str) -> Path:
    """The policy and a template `HEAD + BODY + TAIL` in FOLDER; returns the policy's path."""
    (folder / "templates").mkdir(exist_ok=True)
    (folder / "templates" / "deep.mjml").write_text(HEAD + body + TAIL, encoding="utf-8")
    (folder / "policy.mail").write_text(POLICY, encoding="utf-8")
    return folder / "policy.mail"


@pytest.mark.parametrize(
    "body",
    ["<div>" * 20_000 + "x" + "</div>" * 20_000, "<p>x" * 20_000, "<li>" * 20_000, "<b><i>" * 10_000],
    ids=["closed-divs", "unclosed-p", "unclosed-li", "inline"],
)
def test_deeply_nested_template_is_refused_not_a_crash(tmp_path: Path, body: str) -> None:
    """GIVEN a template nesting 20,000 elements WHEN checked (in a fresh interpreter)
    THEN MP403 at the tag past the limit and exit 1, not a segmentation fault."""
    policy = write(tmp_path, body)
    done = subprocess.run(
        [sys.executable, "-m", "mailpolicy.cli", "check", policy.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, (done.returncode, done.stderr[-500:])
    first = done.stderr.splitlines()[0]
    # The tag that opens level MAX_TEMPLATE_DEPTH + 1: the five of HEAD, then the body's own.
    column = len(HEAD) + 1 + sum(len(chunk) for chunk in _opening_chunks(body, MAX_TEMPLATE_DEPTH - 5))
    assert first == (
        f"templates/deep.mjml:1:{column}: error[MP403]: elements are nested more than "
        f"{MAX_TEMPLATE_DEPTH} levels deep here"
    )
    assert done.stderr.splitlines()[-1] == "checked 1 policy: 1 error, 0 warnings"


def _opening_chunks(body: str, count: int) -> list[str]:
    """The text of BODY up to (not including) its COUNT+1-th opening tag, as one chunk."""
    seen = 0
    for index, char in enumerate(body):
        if char == "<" and body[index + 1] != "/":
            if seen == count:
                return [body[:index]]
            seen += 1
    raise AssertionError("not enough tags")


def test_nesting_at_the_limit_renders(tmp_path: Path) -> None:
    """GIVEN elements nested exactly MAX_TEMPLATE_DEPTH deep (comments, `<br>` and `<x/>` not counted)
    WHEN compiled THEN the template renders."""
    inner = MAX_TEMPLATE_DEPTH - 5
    body = "<br><hr><img src='x.png'><!-- <div> -->" + "<div>" * inner + "x<span/>" + "</div>" * inner
    result = compile_file(write(tmp_path, body))
    assert result.errors == []
    assert result.table is not None and "templates/deep.mjml" in result.table["templates"]
    result = compile_file(write(tmp_path, "<div>" * (inner + 1) + "x" + "</div>" * (inner + 1)))
    assert [d.code for d in result.errors] == ["MP403"]

"""The user cache (mailpolicy/cache.py): stored results read back, failures not kept, unusable
folders ignored, and a warm `check` that imports neither MJML, css-inline nor email-validator."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailpolicy import cache

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh cache folder for this test."""
    target = tmp_path / "cache"
    monkeypatch.setenv(cache.ENV_VAR, str(target))
    cache.cache_dir.cache_clear()
    yield target
    cache.cache_dir.cache_clear()


def test_memo_computes_once_and_keeps_text_exactly(folder: Path) -> None:
    calls: list[str] = []

    def compute() -> str:
        calls.append("x")
        return "a\r\nb\rc é"

    assert cache.memo("ns", "key", compute) == "a\r\nb\rc é"
    assert cache.memo("ns", "key", compute) == "a\r\nb\rc é"
    assert calls == ["x"]
    assert len(list((folder / "ns").iterdir())) == 1
    assert cache.memo("ns", "other key", lambda: "other") == "other"


def test_memo_keeps_no_failure(folder: Path) -> None:
    def fail() -> str:
        raise ValueError("mjml says no")

    with pytest.raises(ValueError, match="mjml says no"):
        cache.memo("ns", "key", fail)
    assert cache.memo("ns", "key", lambda: "fine") == "fine"


def test_empty_variable_turns_caching_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.ENV_VAR, "")
    cache.cache_dir.cache_clear()
    try:
        assert cache.cache_dir() is None
        assert cache.lark_cache("grammar.lark") is True
        results = iter(["first", "second"])
        assert cache.memo("ns", "key", lambda: next(results)) == "first"
        assert cache.memo("ns", "key", lambda: next(results)) == "second"
    finally:
        cache.cache_dir.cache_clear()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders anyway")
def test_read_only_folder_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    monkeypatch.setenv(cache.ENV_VAR, str(locked / "cache"))
    cache.cache_dir.cache_clear()
    try:
        assert cache.cache_dir() is None
        assert cache.memo("ns", "key", lambda: "value") == "value"
    finally:
        cache.cache_dir.cache_clear()


def test_a_folder_that_cannot_be_created_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache folder's parent is a file, so even root cannot create it: no cache, same value.

    (The read-only case above cannot happen for root, which CI runs as; this one always runs.)
    """
    (tmp_path / "file").write_text("in the way")
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path / "file" / "cache"))
    cache.cache_dir.cache_clear()
    try:
        assert cache.cache_dir() is None
        assert cache.memo("ns", "key", lambda: "value") == "value"
    finally:
        cache.cache_dir.cache_clear()


def test_a_file_in_the_way_is_ignored(folder: Path) -> None:
    """The cache folder exists but an entry's namespace is a file: the value is still returned."""
    folder.mkdir(parents=True)
    (folder / "ns").write_text("not a folder")
    assert cache.memo("ns", "key", lambda: "value") == "value"


def test_lark_cache_is_a_file_in_the_folder(folder: Path) -> None:
    where = cache.lark_cache(str(ROOT / "mailpolicy" / "dsl" / "grammar.lark"))
    assert isinstance(where, str) and Path(where).parent == folder


def test_code_stamp_changes_with_the_file(tmp_path: Path) -> None:
    code = tmp_path / "mod.py"
    code.write_text("x = 1\n")
    before = cache.code_stamp(str(code))
    code.write_text("x = 22\n")
    assert cache.code_stamp(str(code)) != before
    assert cache.code_stamp(str(tmp_path / "missing.py"), None) == "-,-"


def _check(env_cache: str) -> tuple[str, list[str]]:
    """`mailpolicy check` of the example in a fresh interpreter: its output and heavy imports."""
    script = (
        "import sys, io, contextlib\n"
        "from mailpolicy.cli import cli\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):\n"
        "    try:\n"
        "        cli(['check', 'firm-settings.mail'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'mjml', 'css_inline', 'email_validator', 'jsonschema', 'babel', 'regex'})\n"
        "print(out.getvalue() + '\\n--\\n' + ' '.join(heavy))\n"
    )
    env = {**os.environ, cache.ENV_VAR: env_cache}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=EXAMPLES, env=env, capture_output=True, text=True, check=True
    )
    text, _, heavy = done.stdout.rpartition("\n--\n")
    return text, heavy.split()


def test_warm_check_imports_no_renderer_and_says_the_same(tmp_path: Path) -> None:
    uncached, heavy_uncached = _check("")
    assert {"mjml", "css_inline", "email_validator"} <= set(heavy_uncached)
    first, _ = _check(str(tmp_path / "cache"))
    warm, heavy_warm = _check(str(tmp_path / "cache"))
    assert first == warm == uncached
    assert "checked 1 policy" in warm
    assert heavy_warm == []


def test_cached_address_errors_read_the_same(folder: Path) -> None:
    """An invalid free address gives the same diagnostic from email-validator and from the cache."""
    from mailpolicy.compiler.checker import normalise_address

    messages = []
    for _ in range(2):
        normalise_address.cache_clear()
        with pytest.raises(ValueError) as info:
            normalise_address("office@localhost")
        messages.append(str(info.value))
    assert messages[0] == messages[1] == "The part after the @-sign is not valid. It should have a period."
    assert len(list((folder / "address").iterdir())) == 1
    normalise_address.cache_clear()
    assert normalise_address("Office@Dupont-Associes.BE") == normalise_address("Office@Dupont-Associes.BE")

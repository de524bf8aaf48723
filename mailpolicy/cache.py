"""The user cache folder: work that a cold `mailpolicy check` would otherwise redo in every process.

Three things are kept there: Lark's analysed grammar (`lark_cache`), MJML renders and checked
addresses (`memo`), so that checking a policy whose templates and free addresses have not
changed needs neither mjml-python, css-inline nor email-validator (about a third of a cold
`check`). The folder is `$MAILPOLICY_CACHE_DIR`, else `$XDG_CACHE_HOME/mailpolicy`, else
`~/.cache/mailpolicy`; `MAILPOLICY_CACHE_DIR=""` turns caching off. A cache is only ever an
accelerator: a folder that cannot be created or written, or an entry that cannot be read, means
the work is simply done again, never an error.

Entries are files named by the SHA-256 of their key, written to a temporary name and renamed,
so a reader never sees half an entry. Keys include what the result depends on (the input, and
the size and modification time of the code that computes it), so an upgrade is a cache miss.
Stdlib only: the parser, the compiler and the runtime may all use it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

ENV_VAR = "MAILPOLICY_CACHE_DIR"


@lru_cache(maxsize=1)
def cache_dir() -> Path | None:
    """The cache folder, created if needed; None when caching is off or the folder is unusable."""
    configured = os.environ.get(ENV_VAR)
    if configured is not None:
        if not configured.strip():
            return None
        folder = Path(configured)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        folder = Path(base) / "mailpolicy"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(folder, os.W_OK | os.X_OK):
        return None
    return folder


def code_stamp(*paths: str | None) -> str:
    """Size and modification time of each file (a module's `__file__`, a package's origin)."""
    out = []
    for path in paths:
        try:
            st = os.stat(path) if path else None
        except OSError:
            st = None
        out.append(f"{st.st_size}:{st.st_mtime_ns}" if st else "-")
    return ",".join(out)


@functools.cache
def module_stamp(*names: str) -> str:
    """`code_stamp` of installed top-level modules, found without importing them.

    Once per process: the modules a process would run are the ones installed when it asked first.
    """
    from importlib.util import find_spec

    origins: list[str | None] = []
    for name in names:
        try:
            spec = find_spec(name)
        except (ImportError, ValueError):
            spec = None
        origins.append(spec.origin if spec is not None else None)
    return code_stamp(*origins)


def lark_cache(grammar_file: str) -> str | bool:
    """Lark's `cache=` argument: a file in the cache folder, or True (Lark's temp-folder default).

    Lark names the entry itself from the grammar and options; the file here is per grammar file
    and Lark version, and Lark rebuilds it when its own hash does not match.
    """
    folder = cache_dir()
    if folder is None:
        return True
    stamp = hashlib.sha256(code_stamp(grammar_file).encode()).hexdigest()[:16]
    return str(folder / f"lark-{stamp}.cache")


def memo(namespace: str, key: str, compute: Callable[[], str]) -> str:
    """COMPUTE()'s text, stored under NAMESPACE and KEY and read back by later processes.

    An exception from COMPUTE propagates and stores nothing (failures are not cached).
    """
    folder = cache_dir()
    if folder is None:
        return compute()
    digest = hashlib.sha256(f"{namespace}\0{key}".encode("utf-8", "surrogatepass")).hexdigest()
    entry = folder / namespace / digest
    try:
        with open(entry, encoding="utf-8", newline="") as f:  # newline="": CRs come back as written
            return f.read()
    except (OSError, UnicodeDecodeError):
        pass
    value = compute()
    try:
        entry.parent.mkdir(mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                f.write(value)
            os.replace(tmp, entry)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass  # a read-only or full disk: the value is still right, only not kept
    return value

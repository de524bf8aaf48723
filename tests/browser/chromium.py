"""Debian's headless Chromium as both browser test modules start it (Playwright cannot download one here)."""

from __future__ import annotations

import shutil
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

# Offline and quiet: no sandbox (CI containers run as root), no GPU, no background traffic.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_executable() -> str:
    """The Chromium executable; a missing one fails the test (the browser tests run in CI, never skip)."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: scripts/test installs Debian's chromium"
    return CHROMIUM

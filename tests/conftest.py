"""Shared fixtures: snapshots stored under tests/snapshots/, paths to the bundled example."""

from __future__ import annotations

from pathlib import Path

import pytest
from syrupy.extensions.amber import AmberSnapshotExtension
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
EXAMPLES = ROOT / "examples"
SNAPSHOTS = TESTS / "snapshots"


def _snapshot_dir(test_location) -> str:  # type: ignore[no-untyped-def]
    """tests/snapshots/<test path relative to tests/ without .py>, mirroring the test tree."""
    rel = Path(test_location.filepath).resolve().relative_to(TESTS)
    return str(SNAPSHOTS / rel.with_suffix(""))


class _Amber(AmberSnapshotExtension):
    @classmethod
    def dirname(cls, *, test_location) -> str:  # type: ignore[no-untyped-def, override]
        return _snapshot_dir(test_location)


class _TextFile(SingleFileSnapshotExtension):
    """One readable file per snapshot (compiled tables, .eml, HTML)."""

    _write_mode = WriteMode.TEXT

    @classmethod
    def dirname(cls, *, test_location) -> str:  # type: ignore[no-untyped-def, override]
        return _snapshot_dir(test_location)


@pytest.fixture
def snapshot(snapshot):  # type: ignore[no-untyped-def]
    """syrupy's snapshot, stored under tests/snapshots/."""
    return snapshot.use_extension(_Amber)


@pytest.fixture
def file_snapshot(snapshot):  # type: ignore[no-untyped-def]
    """A snapshot kept as one text file, for artefacts people read (JSON, .eml, HTML)."""
    return snapshot.use_extension(_TextFile)


@pytest.fixture
def example_policy() -> Path:
    """The bundled example policy."""
    return EXAMPLES / "firm-settings.mail"


@pytest.fixture
def example_data() -> Path:
    """The bundled example data file."""
    return EXAMPLES / "data.yaml"

"""Fixtures for the preview tests: a copy of the bundled example and an app over it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.preview.helpers import INVOICE_CC, edit_rule


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A copy of examples/ (policy, templates, data, attachments): tests edit it freely.

    The invoice CC rule, which the tests follow, is written in one known spelling.
    """
    target = tmp_path / "example"
    shutil.copytree(EXAMPLES, target)
    edit_rule(target / "firm-settings.mail", INVOICE_CC, "invoice.cc = responsible")
    return target


@pytest.fixture
def client(workspace: Path) -> Iterator[object]:
    """A TestClient over the preview of the copied example (no file watching)."""
    from starlette.testclient import TestClient

    from mailpolicy.preview.app import PreviewState, create_app
    from mailpolicy.preview.model import Selection

    state = PreviewState(workspace / "firm-settings.mail", workspace / "data.yaml", Selection())
    with TestClient(create_app(state, watch_files=False), base_url="http://127.0.0.1") as test_client:
        yield test_client

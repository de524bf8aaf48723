"""The example's messages rendered in headless Chromium at 600 px and on a 375 px mobile width.

The HTML is taken from the composed .eml (what a client receives), written under
tests/artifacts/ with the screenshots (git-ignored) so that a person can look at them.
"""

from __future__ import annotations

import email
import email.policy
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from mailpolicy.compiler import compile_file
from mailpolicy.runtime.batch import plan_messages
from mailpolicy.runtime.data import load_data
from mailpolicy.runtime.message import compose_message
from mailpolicy.runtime.resolve import Envelope
from mailpolicy.runtime.table import load_table
from tests.browser.chromium import FLAGS, chromium_executable

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "screenshots"
HEIGHT = 2000

pytestmark = pytest.mark.browser

# One message per example template: (name, selection for plan_messages).
MESSAGES = [
    ("invoice-fr", {"kind": None, "documents": ["F2026-0042"]}),
    ("invoice-nl", {"kind": None, "documents": ["F2026-0043"]}),
    ("reminder", {"kind": "reminder", "documents": ["F2026-0044"]}),
    ("welcome", {"kind": "welcome", "relation": "R001", "recipients": ["nouveau@garage-martin.be"]}),
    ("mailing", {"kind": "mailing", "relation": "R001"}),
]


def message_html(selection: dict[str, object]) -> str:
    """The HTML part of the example message SELECTION makes, as a client decodes it."""
    result = compile_file(ROOT / "examples" / "firm-settings.mail")
    assert result.table is not None
    table = load_table(result.table)
    data = load_data(ROOT / "examples" / "data.yaml")
    (envelope,) = plan_messages(table, data, **selection)  # type: ignore[arg-type]
    assert isinstance(envelope, Envelope)
    raw = compose_message(table, data, envelope).data
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    html = msg.get_body(("html",))
    assert html is not None
    content: str = html.get_content()  # type: ignore[attr-defined]
    return content


def screenshot(html_file: Path, png: Path, width: int, profile: Path) -> None:
    """Chromium's own screenshot of HTML_FILE at WIDTH x HEIGHT, offline and without a profile."""
    png.unlink(missing_ok=True)
    subprocess.run(
        [
            chromium_executable(),
            "--headless",
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            f"--window-size={width},{HEIGHT}",
            html_file.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def png_facts(png: Path) -> tuple[int, int, float]:
    """(width, height, share of non-zero filtered pixel bytes) of an 8-bit PNG.

    PNG stores each row filtered against its neighbours, so a uniform (blank) image is almost
    all zero bytes after decompression whatever the colour; drawn text and boxes are not.
    """
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, size = 8, b"", (0, 0)
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, chunk = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            size = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = len(raw) // size[1]
    # Leave out the filter-type byte that starts every row.
    pixels = b"".join(raw[i * stride + 1 : (i + 1) * stride] for i in range(size[1]))
    return size[0], size[1], 1 - pixels.count(0) / len(pixels)


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chromium-profile")


@pytest.mark.parametrize("width", [600, 375])
@pytest.mark.parametrize(("name", "selection"), MESSAGES, ids=[n for n, _ in MESSAGES])
def test_example_message_renders(name: str, selection: dict[str, object], width: int, profile: Path) -> None:
    """GIVEN an example message WHEN Chromium renders its HTML at WIDTH THEN the page is not blank."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    html_file = ARTIFACTS / f"{name}.html"
    html_file.write_text(message_html(selection), encoding="utf-8")
    png = ARTIFACTS / f"{name}-{width}.png"
    screenshot(html_file, png, width, profile)
    assert png.stat().st_size > 5_000
    w, h, ink = png_facts(png)
    assert (w, h) == (width, HEIGHT)
    assert ink > 0.005, f"{png} looks blank ({ink:.4%} of its bytes vary)"


def test_a_blank_page_is_seen_as_blank(tmp_path: Path, profile: Path) -> None:
    """The blank check above can fail: an empty page is reported as blank."""
    html_file = tmp_path / "blank.html"
    html_file.write_text("<!doctype html><html><body style='background:#f5f7fa'></body></html>", "utf-8")
    png = tmp_path / "blank.png"
    screenshot(html_file, png, 375, profile)
    _, _, ink = png_facts(png)
    assert ink < 0.001

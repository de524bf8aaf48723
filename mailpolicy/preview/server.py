"""Running the preview: bind 127.0.0.1, print the URL, open the browser, serve until Ctrl-C."""

from __future__ import annotations

import os
import socket
import sys
import threading
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

from mailpolicy.diagnostics import render_text
from mailpolicy.preview.app import PreviewState, create_app
from mailpolicy.preview.model import Selection

HOST = "127.0.0.1"  # never another interface: the preview shows client data


class PortInUse(Exception):
    """The requested port is taken by another program."""


def bind(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:PORT (0 picks a free port); raises PortInUse."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        raise PortInUse(f"port {port} is in use on {HOST}; pass --port 0 to take a free one") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def can_open_browser() -> bool:
    """False in CI and on a Linux/BSD machine with no display, where opening would hang or fail."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        return False
    if sys.platform.startswith(("linux", "freebsd", "openbsd")):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class _Server(uvicorn.Server):
    """uvicorn's server, ending the live-reload streams first when asked to stop (Ctrl-C)."""

    def __init__(self, config: uvicorn.Config, state: PreviewState) -> None:
        super().__init__(config)
        self.state = state

    def handle_exit(self, sig: int, frame: Any) -> None:
        """Close the event streams, then let uvicorn shut down as usual."""
        self.state.close_streams()
        super().handle_exit(sig, frame)


class PreviewServer:
    """A configured preview server; `run()` blocks, `start()` serves from a background thread."""

    def __init__(self, policy: Path, data: Path, selection: Selection, *, port: int = 0) -> None:
        self.state = PreviewState(policy, data, selection)
        self.socket = bind(port)
        self.port = self.socket.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}/"
        config = uvicorn.Config(
            create_app(self.state),
            log_level="warning",
            lifespan="on",
            # Open live-reload streams would otherwise hold Ctrl-C for the default wait.
            timeout_graceful_shutdown=1,
        )
        self.server = _Server(config, self.state)
        self._thread: threading.Thread | None = None

    def run(self, on_ready: Callable[[], None] | None = None) -> None:
        """Serve until interrupted; ON_READY runs once the server accepts connections."""
        if on_ready is not None:
            threading.Thread(target=self._when_started, args=(on_ready,), daemon=True).start()
        self.server.run(sockets=[self.socket])

    def _when_started(self, callback: Callable[[], None]) -> None:
        while not self.server.started and not self.server.should_exit:
            threading.Event().wait(0.05)
        if self.server.started:
            callback()

    def start(self) -> None:
        """Serve from a background thread (tests); returns once the server accepts connections."""
        ready = threading.Event()
        self._thread = threading.Thread(target=self.run, args=(ready.set,), daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError("the preview server did not start within 30 seconds")

    def stop(self) -> None:
        """Stop a server started with `start()`."""
        self.state.close_streams()
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self.socket.close()


def serve(
    policy: Path,
    data: Path,
    selection: Selection,
    *,
    port: int,
    open_browser: bool,
    echo: Callable[..., Any],
) -> None:
    """The `mailpolicy preview` command: print the URL, open it unless told not to, serve.

    ECHO is `click.echo` (called with `err=True` for diagnostics). A policy or data file with
    errors does not stop the server: the page shows them until the file is fixed.
    """
    server = PreviewServer(policy, data, selection, port=port)
    snap = server.state.snapshot
    for diag in snap.problems:
        source = snap.sources().get(snap.source_name(diag.span.path if diag.span else None))
        try:
            text = source.read_text(encoding="utf-8") if source is not None else None
        except (OSError, UnicodeDecodeError):
            text = None
        echo(render_text(diag, text), err=True)
    if snap.problems:
        echo(f"the preview shows these errors at {server.url} until the files are fixed", err=True)

    def ready() -> None:
        echo(f"mailpolicy preview: {server.url}  (Ctrl-C to stop)")
        if open_browser and can_open_browser():
            webbrowser.open(server.url)

    try:
        server.run(on_ready=ready)
    except KeyboardInterrupt:
        # uvicorn shuts down cleanly, then re-raises the Ctrl-C it caught: stopping is not an error.
        echo("mailpolicy preview: stopped")

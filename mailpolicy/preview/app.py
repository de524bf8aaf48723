"""The preview's Starlette application: routes, live reload over server-sent events, file watching."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from mailpolicy.diagnostics import Diagnostic
from mailpolicy.preview import pages
from mailpolicy.preview.model import MessageKey, Selection, Snapshot, load_snapshot, render

STATIC = Path(__file__).parent / "static"

# Our pages load only our own script and style; the message HTML is framed from our origin.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'self'"
)
# The message's own HTML: no script, no network, no navigation, even if opened outside the
# sandboxed iframe (the CSP `sandbox` directive applies to a top-level visit too).
MESSAGE_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data: cid:; base-uri 'none'"
KEEPALIVE_SECONDS = 15.0
ALLOWED_HOSTS = ("127.0.0.1", "localhost")


class PreviewState:
    """The current snapshot, the reloads that replace it and the pages listening for them."""

    def __init__(self, policy: Path, data: Path, selection: Selection) -> None:
        self.policy = policy.resolve()
        self.data = data.resolve()
        self.selection = selection
        # A per-process token: a page served by an earlier server run reloads when it reconnects.
        self._boot = secrets.token_hex(4)
        self._count = 0
        self.snapshot = self._load(self._next_version())
        self._listeners: set[asyncio.Queue[str | None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closing = False

    def _load(self, version: str) -> Snapshot:
        """Load a snapshot; an unexpected failure becomes a page, never a dead watcher."""
        try:
            return load_snapshot(self.policy, self.data, self.selection, version)
        except Exception as exc:  # a bug in a stage must not stop the server or its live reload
            snap = Snapshot(version, self.policy, self.data, self.selection)
            message = f"the preview could not load the files: {type(exc).__name__}: {exc}"
            snap.problems.append(Diagnostic(code="E-INTERNAL", message=message))
            return snap

    def _next_version(self) -> str:
        self._count += 1
        return f"{self._boot}-{self._count}"

    async def reload(self) -> Snapshot:
        """Reload from disk off the event loop, swap the snapshot, tell every open page."""
        version = self._next_version()
        snap = await anyio.to_thread.run_sync(self._load, version)
        self.snapshot = snap
        for queue in list(self._listeners):
            queue.put_nowait(snap.version)
        return snap

    def subscribe(self) -> asyncio.Queue[str | None]:
        """A queue that receives the new version after every reload, and None when the server stops."""
        self._loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._listeners.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str | None]) -> None:
        """Stop sending versions to QUEUE (its page went away)."""
        self._listeners.discard(queue)

    def close_streams(self) -> None:
        """End every event stream (from any thread), so that stopping the server does not wait on them."""
        self.closing = True  # a page reconnecting while the server stops gets no stream
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        for queue in list(self._listeners):
            loop.call_soon_threadsafe(queue.put_nowait, None)

    def watched_dirs(self) -> list[Path]:
        """The folders to watch, each on its own (not recursively): the policy's, the data file's,
        the folders of the templates the policy uses and its `templates/` folder.

        Not recursive, so that a policy kept in a large folder does not watch everything below it.
        """
        base = self.policy.parent
        dirs = {base, self.data.parent, base / "templates"}
        for name in (self.snapshot.table or {}).get("templates", {}):
            dirs.add((base / name).parent)
        return sorted(d for d in dirs if d.is_dir())

    def is_relevant(self, path: str) -> bool:
        """True for a change that can alter a page: the policy, the data file, a template."""
        changed = Path(path)
        if changed in (self.policy, self.data):
            return True
        templates = {self.policy.parent / name for name in (self.snapshot.table or {}).get("templates", {})}
        # Any MJML file counts: one being added, or one a policy that does not compile could not list.
        return changed in templates or changed.suffix == ".mjml"


async def watch(state: PreviewState, stop: asyncio.Event) -> None:
    """Reload whenever a relevant file changes, until STOP is set."""
    from watchfiles import awatch

    def relevant(_change: Any, path: str) -> bool:
        return state.is_relevant(path)

    # Watching folders, not files: editors save by writing a new file and renaming it over the
    # old one, which a watch on the file itself would lose. A short debounce keeps reloads fast.
    while not stop.is_set():
        dirs = state.watched_dirs()
        async for _changes in awatch(
            *dirs, watch_filter=relevant, recursive=False, debounce=300, step=50, stop_event=stop
        ):
            await state.reload()
            if state.watched_dirs() != dirs:
                break  # the policy now uses a template in another folder: watch that one too


def create_app(state: PreviewState, *, watch_files: bool = True) -> Starlette:
    """The preview application over STATE; with WATCH_FILES it reloads as files change."""

    def page(body: str, status: int = 200) -> HTMLResponse:
        """An HTML page under the pages' Content-Security-Policy."""
        return HTMLResponse(body, status_code=status, headers={"Content-Security-Policy": PAGE_CSP})

    def message_key(request: Request) -> MessageKey | None:
        """The message a request names by `kind`, `relation` and `document`; None without both."""
        params = request.query_params
        kind, relation = params.get("kind"), params.get("relation")
        if not kind or not relation:
            return None
        return MessageKey(kind, relation, params.get("document") or None)

    async def gallery(request: Request) -> Response:
        """`/`: every message of the selection, filtered by `q`, `kind`, `status` and paged."""
        snap = state.snapshot
        params = request.query_params
        try:
            page_no = int(params.get("page", "1"))
        except ValueError:
            page_no = 1
        html = pages.gallery_page(
            snap,
            query=params.get("q", ""),
            kind=params.get("kind", ""),
            status=params.get("status", ""),
            page=page_no,
        )
        return page(html)

    def lookup(request: Request) -> tuple[Snapshot, Any, Response | None]:
        """The snapshot and the requested entry, or the response that says why there is none."""
        snap = state.snapshot
        if not snap.ok:
            return snap, None, page(pages.problems_page(snap))
        key = message_key(request)
        entry = snap.find(key) if key else None
        if entry is None:
            what = f"{key.kind} for {key.relation}" if key else "a message without kind and relation"
            return snap, None, page(pages.not_found_page(snap, f"No message {what} in this selection."), 404)
        return snap, entry, None

    async def message(request: Request) -> Response:
        """`/message`: one message, its envelope, why each address is there, and its body."""
        snap, entry, response = lookup(request)
        if response is not None:
            return response
        try:
            width = int(request.query_params.get("width", pages.WIDTHS[0]))
        except ValueError:
            width = pages.WIDTHS[0]
        width = width if width in pages.WIDTHS else pages.WIDTHS[0]
        rendered, error = None, None
        if entry.envelope is not None and entry.error is None:
            rendered, error = await _render(snap, entry)
        return page(pages.message_page(snap, entry, rendered, error, width))

    async def message_html(request: Request) -> Response:
        """`/message.html`: the HTML part alone, under the stricter message CSP (shown in a frame)."""
        snap, entry, response = lookup(request)
        if response is not None:
            return response
        rendered, error = await _render(snap, entry) if entry.error is None else (None, entry.error)
        if rendered is None or rendered.html is None:
            return PlainTextResponse(f"no HTML part: {error or 'text-only message'}", status_code=404)
        return HTMLResponse(rendered.html, headers={"Content-Security-Policy": MESSAGE_CSP})

    async def message_eml(request: Request) -> Response:
        """`/message.eml`: the composed message as a download."""
        snap, entry, response = lookup(request)
        if response is not None:
            return response
        rendered, error = await _render(snap, entry) if entry.error is None else (None, entry.error)
        if rendered is None:
            return PlainTextResponse(f"this message cannot be built: {error}", status_code=422)
        name = entry.key.file_stem() + ".eml"
        return Response(
            rendered.eml,
            media_type="message/rfc822",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    async def source(request: Request) -> Response:
        """`/source`: the policy, a template or the data file, with `line` highlighted."""
        snap = state.snapshot
        name = request.query_params.get("file") or snap.policy_path.name
        path = snap.sources().get(name)
        if path is None:
            return page(pages.not_found_page(snap, f"No source file {name!r} in this preview."), 404)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return page(pages.not_found_page(snap, f"Cannot read {name}: {exc}"), 404)
        try:
            line: int | None = int(request.query_params.get("line", ""))
        except ValueError:
            line = None
        return page(pages.source_page(snap, name, text, line))

    async def events(request: Request) -> Response:
        """`/events`: server-sent events carrying the snapshot version; pages reload when it changes."""

        async def stream() -> AsyncIterator[str]:
            if state.closing:
                return
            queue = state.subscribe()
            try:
                # The current version first: a page rendered before a reload it missed sees
                # a different version and reloads at once.
                yield f"retry: 500\nevent: version\ndata: {state.snapshot.version}\n\n"
                while True:
                    try:
                        version = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_SECONDS)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    if version is None:
                        return
                    yield f"event: version\ndata: {version}\n\n"
            finally:
                state.unsubscribe(queue)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(watch(state, stop)) if watch_files else None
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    routes = [
        Route("/", gallery),
        Route("/message", message),
        Route("/message.html", message_html),
        Route("/message.eml", message_eml),
        Route("/source", source),
        Route("/events", events),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    # Bound to 127.0.0.1, but a web page elsewhere could still reach it through DNS rebinding
    # (its own name resolving to 127.0.0.1); refusing other Host headers closes that door.
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=list(ALLOWED_HOSTS))]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


async def _render(snap: Snapshot, entry: Any) -> tuple[Any, Exception | None]:
    """Render off the event loop; a message whose body cannot be built returns its error."""
    from mailpolicy.runtime.errors import MessageError

    try:
        return await anyio.to_thread.run_sync(render, snap, entry), None
    except MessageError as exc:
        return None, exc

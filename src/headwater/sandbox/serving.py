"""Serving a sandbox application: in the foreground for the CLI, or on a background thread.

A background server has its own thread and event loop, so it keeps answering while the code that
started it blocks (a synchronous test, a subprocess call) or runs its own loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import threading
from collections.abc import Callable

from aiohttp import web


async def _start(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, str]:
    # A short grace: a handler sleeping on purpose (a timeout test) must not hold up a stop.
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()  # the app's own clients (a webhook sender) close with it
        raise
    bound_host, bound_port = runner.addresses[0][:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    return runner, f"http://{shown}:{bound_port}"


async def faulted_answer(
    kind: str, request: web.Request, response: web.StreamResponse
) -> web.StreamResponse:
    """``response`` spoiled by a ``malformed`` fault (half the body, still the real status) or a
    ``drop`` fault (the full ``Content-Length`` announced, half the body sent, then a hang-up)."""
    body = response.body if isinstance(response, web.Response) else None
    raw = body if isinstance(body, bytes) else b""
    if kind == "malformed":
        broken = raw[: len(raw) // 2] if len(raw) > 2 else b'{"data": ['
        return web.Response(body=broken, status=response.status, content_type="application/json")
    stream = web.StreamResponse(status=response.status)
    stream.content_type = response.content_type
    stream.content_length = max(len(raw), 2)
    await stream.prepare(request)
    await stream.write(raw[: len(raw) // 2] or b"{")
    if request.transport is not None:
        request.transport.close()
    return stream


def run_forever(app: web.Application, host: str, port: int, banner: Callable[[str], str]) -> None:
    """Serves ``app`` until interrupted; prints ``banner(url)`` once it listens."""

    async def main() -> None:
        try:
            runner, url = await _start(app, host, port)
        except OSError as exc:
            # one line, no traceback
            reason = "the port is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise SystemExit(f"headwater: cannot listen on {host}:{port}: {reason}") from None
        print(banner(url), flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


class BackgroundServer:
    """``app`` served on a thread of its own; ``start()`` returns once it listens."""

    def __init__(self, app: web.Application, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="sandbox-server", daemon=True)

    def start(self, timeout: float = 10.0) -> str:
        """Starts serving; returns the base URL (``http://127.0.0.1:PORT``)."""
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the server did not start in time")
        if self._error is not None:
            raise RuntimeError(f"the server failed to start: {self._error}") from self._error
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        """Stops serving and waits for the thread to end."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            runner, self.url = await _start(self.app, self.host, self.port)
        except OSError as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

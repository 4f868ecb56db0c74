"""A worker's own ``/metrics`` endpoint: Prometheus text from the process's registry, served by
aiohttp in the worker's event loop (a worker has no API to carry it)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator

import prometheus_client
from aiohttp import web

PATHS = ("/metrics", "/healthz")


async def _metrics(request: web.Request) -> web.Response:
    del request
    body = prometheus_client.generate_latest(prometheus_client.REGISTRY)
    return web.Response(body=body, headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST})


async def _healthz(request: web.Request) -> web.Response:
    del request
    return web.json_response({"status": "ok"})


@contextlib.asynccontextmanager
async def serving(sock: socket.socket | None) -> AsyncIterator[None]:
    """Serve ``/metrics`` and ``/healthz`` on ``sock`` (already bound) while the block runs;
    nothing when ``sock`` is None."""
    if sock is None:
        yield
        return
    app = web.Application()
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/healthz", _healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    try:
        yield
    finally:
        await runner.cleanup()

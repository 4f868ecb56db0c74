"""What the CLI commands run: the server, the workers, user creation and migrations."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import errno
import json
import logging
import signal
import socket
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import uvicorn

from headwater import bootstrap, settings
from headwater.errors import ConfigurationError, HeadwaterError
from headwater.storage import db, migrate, tenants

log = logging.getLogger("headwater")
T = TypeVar("T")


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )


def _run(command: Callable[[settings.Settings], Coroutine[Any, Any, T]]) -> T:
    """Run a command with the environment's settings; a HeadwaterError is printed (without a
    traceback) and exits with status 1."""
    try:
        config = settings.from_env()
        db.async_url(config.database_url)  # an unsupported URL fails here, before anything starts
        return asyncio.run(command(config))
    except HeadwaterError as error:
        print(f"headwater: {error.message}", file=sys.stderr)
        raise SystemExit(1) from None


class _Server(uvicorn.Server):
    """uvicorn, leaving signals to us: they stop the server and the loops together."""

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()


def _on_signals(callback: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, callback)


async def _prepare(config: settings.Settings) -> None:
    """On SQLite the schema is brought up to date at start-up; PostgreSQL is upgraded explicitly."""
    if config.is_sqlite:
        await migrate.upgrade(config.database_url)
    # readiness probes read the revision on every call; keep them out of the log
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)


def serve(*, host: str, port: int, workers: bool) -> None:
    """The API (and, unless ``workers`` is false, the background loops) in one process."""
    _configure_logging()
    _run(lambda config: _serve(config, host=host, port=port, workers=workers))


def _listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound before anything else starts so that a taken port fails fast."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise ConfigurationError(
                f"port {port} on {host} is already in use; stop what runs there or pick "
                "another with --port"
            ) from None
        raise ConfigurationError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    return sock


async def _serve(config: settings.Settings, *, host: str, port: int, workers: bool) -> None:
    with _listen(host, port) as sock:
        await _serve_on(sock, config, host=host, port=port, workers=workers)


async def _serve_on(
    sock: socket.socket, config: settings.Settings, *, host: str, port: int, workers: bool
) -> None:
    from headwater.api import app as api_app

    await _prepare(config)
    async with bootstrap.container(config, loops=workers) as container:
        server = _Server(
            uvicorn.Config(
                api_app.create_app(container),
                host=host,
                port=port,
                lifespan="off",
                ws="none",
                log_level="info",
            )
        )
        stop = asyncio.Event()

        def shut_down() -> None:
            server.should_exit = True
            stop.set()

        _on_signals(shut_down)
        loops = asyncio.create_task(bootstrap.run_loops(container, stop))

        def loops_ended(task: asyncio.Task[None]) -> None:
            # an API without its workers would accept instances that never poll: stop it all,
            # loudly, so that a supervisor restarts the process
            if not task.cancelled() and task.exception() is not None:
                log.critical("the background loops crashed; stopping", exc_info=task.exception())
                server.should_exit = True

        loops.add_done_callback(loops_ended)
        log.info(
            "serving on http://%s:%s (database %s, workers %s)",
            host,
            port,
            "sqlite" if config.is_sqlite else "postgresql",
            "on" if container.loops else "off",
        )
        try:
            await server.serve(sockets=[sock])
        finally:
            stop.set()
            await loops


def worker(*, metrics_host: str = "127.0.0.1", metrics_port: int | None = None) -> None:
    """The background loops only, until SIGINT or SIGTERM; with ``metrics_port``, this
    process's Prometheus metrics served at ``/metrics`` there."""
    _configure_logging()
    _run(lambda config: _worker(config, metrics_host, metrics_port))


async def _worker(config: settings.Settings, metrics_host: str, metrics_port: int | None) -> None:
    from headwater import metrics_server

    await _prepare(config)
    sock = None if metrics_port is None else _listen(metrics_host, metrics_port)
    async with bootstrap.container(config) as container:
        stop = asyncio.Event()
        _on_signals(stop.set)
        async with metrics_server.serving(sock):
            if sock is not None:
                log.info("worker metrics on http://%s:%s/metrics", *sock.getsockname()[:2])
            log.info("worker %s started with %d loops", container.node_id, len(container.loops))
            await bootstrap.run_loops(container, stop)
        log.info("worker %s stopped", container.node_id)


def create_user(*, org: str, json_output: bool) -> None:
    """Create an organization and its first user; print their secrets (shown once)."""
    tenant = _run(lambda config: _create_user(config, org))
    if json_output:
        print(
            json.dumps(
                {
                    "organizationId": tenant.organization_id,
                    "organizationSecret": tenant.organization_secret,
                    "userId": tenant.user_id,
                    "userSecret": tenant.user_secret,
                }
            )
        )
        return
    print(f"Organization {org!r} (id {tenant.organization_id}) and user {tenant.user_id} created.")
    print("Keep these secrets; they are not shown again. Call the API with:")
    print(f"  Authorization: User {tenant.user_secret}, Organization {tenant.organization_secret}")


async def _create_user(config: settings.Settings, org: str) -> tenants.NewTenant:
    if not org.strip() or len(org.strip()) > 200:
        raise HeadwaterError("--org must be a name of 1 to 200 characters")
    await _prepare(config)
    engine = db.make_engine(config.database_url)
    try:
        if not await migrate.is_current(engine):
            raise HeadwaterError("the database is not migrated; run `headwater db upgrade` first")
        async with db.transaction(engine) as conn:
            return await tenants.create(
                conn, organization_name=org.strip(), now=dt.datetime.now(dt.UTC)
            )
    finally:
        await engine.dispose()


def db_upgrade() -> None:
    """Apply every pending migration."""
    _run(lambda config: migrate.upgrade(config.database_url))
    print(f"database at revision {migrate.head()}")

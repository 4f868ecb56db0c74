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
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

from headwater import bootstrap, logs, settings, tracing
from headwater import status as status_report
from headwater.errors import ConfigurationError, HeadwaterError
from headwater.storage import backup, db, migrate, tenants

log = logging.getLogger("headwater")
T = TypeVar("T")


def _configure_logging(config: settings.Settings) -> None:
    logs.configure(config.log_format)
    # the long-running processes (serve, worker) also export traces when OTEL_* asks for them
    if tracing.configure():
        log.info("exporting traces (OpenTelemetry)")


def _run(
    command: Callable[[settings.Settings], Coroutine[Any, Any, T]], *, log_lines: bool = False
) -> T:
    """Run a command with the environment's settings (with ``log_lines``, log lines go to stderr
    in ``HEADWATER_LOG_FORMAT``); a HeadwaterError is printed (without a traceback) and exits
    with status 1."""
    try:
        config = settings.from_env()
        db.async_url(config.database_url)  # an unsupported URL fails here, before anything starts
        if log_lines:
            _configure_logging(config)
        return asyncio.run(command(config))
    except HeadwaterError as error:
        print(f"headwater: {error.message}", file=sys.stderr)
        raise SystemExit(1) from None


run = _run  # the commands of other modules (rotations) go through it too


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
    _run(lambda config: _serve(config, host=host, port=port, workers=workers), log_lines=True)


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
                log_config=None,  # its lines go through ours (logs.configure)
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
    _run(lambda config: _worker(config, metrics_host, metrics_port), log_lines=True)


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
    """Apply every pending migration, printing each as it is applied."""

    def applied(revision: str, description: str) -> None:
        print(f"applied {revision}: {description}", flush=True)

    count = _run(lambda config: _db_upgrade(config, applied))
    if count == 0:
        print(f"database already at revision {migrate.head()}")
    else:
        print(f"database at revision {migrate.head()} ({count} migration(s) applied)")


async def _db_upgrade(config: settings.Settings, applied: migrate.Applied) -> int:
    count = 0

    def counted(revision: str, description: str) -> None:
        nonlocal count
        count += 1
        applied(revision, description)

    await migrate.upgrade(config.database_url, applied=counted)
    return count


def db_backup(target: Path) -> None:
    """Copy the SQLite database into ``target`` while it stays in use; on a terminal the pages
    copied are shown as they go, and one line tells what was written."""
    on_tty = sys.stdout.isatty()

    def progress(copied: int, total: int) -> None:
        if on_tty:
            percent = 100 * copied // total if total else 100
            print(f"\rcopying: {copied}/{total} pages ({percent}%)", end="", flush=True)

    async def copy(config: settings.Settings) -> backup.Copied:
        # the backup API is synchronous; a thread keeps signals (Ctrl-C) answered
        return await asyncio.to_thread(
            backup.sqlite, config.database_url, target, progress=progress
        )

    try:
        copied = _run(copy)
    finally:
        if on_tty:
            print()
    print(f"backed up {copied.pages} page(s), {copied.bytes} bytes, to {copied.path}")


def status(*, json_output: bool) -> None:
    """Print every instance with its pollers' health and its queue, as a table or JSON."""
    now = dt.datetime.now(dt.UTC)
    report = _run(lambda config: _status(config, now))
    if json_output:
        print(json.dumps(status_report.as_json(report, now=now), indent=2))
    else:
        print(status_report.table(report, now=now), end="")


async def _status(
    config: settings.Settings, now: dt.datetime
) -> list[status_report.InstanceHealth]:
    if config.is_sqlite:
        backup.source_path(config.database_url)  # says so when there is no database yet
    engine = db.make_engine(config.database_url)
    try:
        if not await migrate.is_current(engine):
            raise HeadwaterError("the database is not migrated; run `headwater db upgrade` first")
        return await status_report.gather(engine, now=now)
    finally:
        await engine.dispose()

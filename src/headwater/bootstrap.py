"""The composition root: builds the process's one engine, HTTP session, secret box and services.

``async with bootstrap.container(settings) as c:`` builds everything (checking the secret key
against the database) and closes it on exit. Nothing here connects at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from headwater import __version__
from headwater.delivery import alerts, dispatch, event_log, operations, wakeup
from headwater.delivery import service as delivery_service
from headwater.elements import registry as registry_module
from headwater.errors import ConfigurationError
from headwater.instances import (
    connections,
    rotation,
    signature_keys,
    webhook_registration,
    webhooks,
)
from headwater.instances import service as instance_service
from headwater.poller import control
from headwater.settings import Settings
from headwater.storage import db, keyring, secrets

log = logging.getLogger(__name__)

Loop = Callable[["Container", asyncio.Event], Awaitable[None]]

HTTP_CONNECTIONS = 256
HTTP_CONNECTIONS_PER_HOST = 64
HTTP_CONNECT_TIMEOUT = 10.0


@dataclasses.dataclass
class Container:
    """Everything a process shares: settings, database, HTTP session, secrets, services."""

    settings: Settings
    engine: AsyncEngine
    http: aiohttp.ClientSession
    secrets: secrets.SecretBox
    registry: registry_module.Registry
    instances: instance_service.InstanceService
    connections: connections.Connections
    events: event_log.EventService
    deliveries: delivery_service.DeliveryService
    dispatcher: dispatch.Dispatcher
    pollers: control.PollerControl
    operations: operations.OperationsService
    signature_keys: signature_keys.SignatureKeys
    alerts: alerts.AlertWatch
    rotation: rotation.Rotation
    webhooks: webhooks.WebhookService
    wakeup: wakeup.Wakeup
    node_id: str
    loops: list[Loop] = dataclasses.field(default_factory=list)


def node_id() -> str:
    """This process's name in leases: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def resolve_secret_key(settings: Settings) -> str:
    """The secret key: from the settings; on SQLite, else kept in ``<data dir>/.secret-key``."""
    if settings.secret_key:
        return settings.secret_key
    if settings.is_sqlite:
        return secrets.load_or_create_key_file(settings.data_dir)
    raise ConfigurationError(
        "HEADWATER_SECRET_KEY is required with PostgreSQL: every node must use the same key"
    )


def http_session(settings: Settings) -> aiohttp.ClientSession:
    """The process's one outbound HTTP session, with explicit timeouts and connection limits."""
    connector = aiohttp.TCPConnector(
        limit=HTTP_CONNECTIONS, limit_per_host=HTTP_CONNECTIONS_PER_HOST, ttl_dns_cache=60
    )
    timeout = aiohttp.ClientTimeout(
        total=settings.provider_timeout_seconds,
        connect=HTTP_CONNECT_TIMEOUT,
        sock_read=settings.provider_timeout_seconds,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        headers={"User-Agent": f"Headwater/{__version__}"},
        raise_for_status=False,
    )


def background_loops() -> list[Loop]:
    """The loops ``serve`` and ``worker`` run: the poller scheduler and the delivery worker."""
    loops: list[Loop] = []
    for module in ("headwater.poller.scheduler", "headwater.delivery.worker"):
        try:
            imported = __import__(module, fromlist=["run"])
        except ModuleNotFoundError as error:
            if error.name is None or not module.startswith(error.name):
                raise
            log.warning("background loop %s is not available", module)
            continue
        loops.append(imported.run)
    return loops


@contextlib.asynccontextmanager
async def container(settings: Settings, *, loops: bool = True) -> AsyncIterator[Container]:
    """Build the container for ``settings``; the database must be migrated already.

    ``loops=False`` (an API-only node, most tests) leaves ``Container.loops`` empty.
    """
    key = resolve_secret_key(settings)
    # a connection for every poll and delivery the process runs at once
    engine = db.make_engine(
        settings.database_url,
        pool_size=settings.poll_concurrency + settings.delivery_concurrency,
    )
    try:
        box = await keyring.open_box(engine, key, settings.previous_secret_key)
        async with http_session(settings) as http:
            registry = registry_module.build(
                settings.element_settings, extra_paths=settings.elements_path
            )
            ident = node_id()
            wakes = wakeup.Wakeup()
            reaching = connections.Connections(
                settings=settings,
                engine=engine,
                http=http,
                secrets=box,
                registry=registry,
                node_id=ident,
            )
            yield Container(
                settings=settings,
                engine=engine,
                http=http,
                secrets=box,
                registry=registry,
                connections=reaching,
                instances=instance_service.InstanceService(
                    settings=settings,
                    engine=engine,
                    http=http,
                    secrets=box,
                    registry=registry,
                    node_id=ident,
                    webhooks=webhook_registration.WebhookRegistrar(
                        settings=settings, secrets=box, registry=registry, connections=reaching
                    ),
                ),
                events=event_log.EventService(engine=engine),
                deliveries=delivery_service.DeliveryService(
                    settings=settings, engine=engine, http=http, secrets=box
                ),
                dispatcher=dispatch.Dispatcher(
                    settings=settings, engine=engine, http=http, secrets=box, owner=ident
                ),
                pollers=control.PollerControl(engine=engine),
                operations=operations.OperationsService(
                    settings=settings, engine=engine, secrets=box
                ),
                alerts=alerts.AlertWatch(settings=settings, engine=engine),
                signature_keys=signature_keys.SignatureKeys(
                    settings=settings, engine=engine, secrets=box
                ),
                rotation=rotation.Rotation(
                    engine=engine, overlap_seconds=settings.credential_overlap_seconds
                ),
                webhooks=webhooks.WebhookService(
                    engine=engine, secrets=box, registry=registry, wakeup=wakes
                ),
                wakeup=wakes,
                node_id=ident,
                loops=background_loops() if loops else [],
            )
    finally:
        await engine.dispose()


async def run_loops(c: Container, stop: asyncio.Event) -> None:
    """Run every background loop until ``stop`` is set; a loop that crashes stops the others."""
    if not c.loops:
        await stop.wait()
        return

    async def run(loop: Loop) -> None:
        await loop(c, stop)

    tasks = [
        asyncio.create_task(run(loop), name=getattr(loop, "__module__", "loop")) for loop in c.loops
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        stop.set()
        for task in tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

"""Helpers of the delivery tests: an instance row with a callback, events and their outbox, a
running delivery worker, and an independent (stdlib) check of the signatures."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import secrets
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from headwater import bootstrap
from headwater.delivery import outbox, worker
from headwater.settings import Settings
from headwater.storage import db, events, instances, tables, tenants

SECRET_KEY = "delivery-tests-secret-key"


def settings_for(db_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """Fast settings: short retries, a short timeout, a quick tick, private callbacks allowed."""
    values: dict[str, Any] = {
        "database_url": db_url,
        "data_dir": data_dir,
        "secret_key": SECRET_KEY,
        "allow_private_callbacks": True,
        "retry_schedule": (0.1, 0.2),
        "delivery_timeout_seconds": 2.0,
        "delivery_lease_seconds": 3.0,
        "tick_seconds": 0.02,
    }
    values.update(overrides)
    return Settings(**values)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def make_instance(
    c: bootstrap.Container,
    *,
    callback_url: str,
    key: str,
    schedule: Sequence[float] | None = None,
    organization_id: int | None = None,
    enabled: bool = True,
) -> int:
    """An Act-On instance row whose notifications go to ``callback_url`` signed with ``key``."""
    configuration: dict[str, Any] = {
        "event.notification.enabled": enabled,
        "event.vendor.type": "polling",
        "event.notification.callback.url": callback_url,
    }
    if schedule is not None:
        configuration["event.notification.retry.schedule"] = list(schedule)
    at = now()
    async with db.transaction(c.engine) as conn:
        if organization_id is None:
            tenant = await tenants.create(conn, organization_name="Deliveries", now=at)
            organization_id, user_id = tenant.organization_id, tenant.user_id
        else:
            found = await conn.scalar(
                sa.select(tables.users.c.id).where(
                    tables.users.c.organization_id == organization_id
                )
            )
            assert found is not None
            user_id = int(found)
        return await instances.insert(
            conn,
            instances.NewInstance(
                organization_id=organization_id,
                user_id=user_id,
                element_key="acton",
                name="deliveries",
                tags=[],
                token_hash=secrets.token_hex(32),
                configuration=configuration,
                secrets=c.secrets.seal({"event.notification.signature.key": key}),
                provider_tokens=None,
                token_expires_at=None,
                valid=True,
                invalid_reason=None,
                disabled=False,
                events_enabled=enabled,
                subscription_active=True,
                created_at=at,
                updated_at=at,
            ),
        )


def contact(instance_id: int, n: int) -> events.NewEvent:
    """An UPDATED contact event whose record says which it is."""
    record = {
        "_contact_id_": f"l-0001:{n}",
        "First Name": f"Contact {n} of {instance_id}",
        "E-mail Address": f"c{n}@example.com",
        "__modified_date": 1_780_000_000_000 + n,
    }
    date = dt.datetime(2026, 11, 29, 10, 0, tzinfo=dt.UTC) + dt.timedelta(seconds=n)
    return events.NewEvent("contacts", f"l-0001:{n}", "UPDATED", date, record)


async def add_events(
    c: bootstrap.Container,
    instance_id: int,
    found: Sequence[events.NewEvent],
) -> tuple[list[int], list[int]]:
    """Store events and their notifications in one transaction, as a poll does; (event ids,
    delivery ids)."""
    at = now()
    async with db.transaction(c.engine) as conn:
        event_ids = await events.insert(
            conn,
            instance_id=instance_id,
            element_key="acton",
            hub_key="marketing",
            poll_date=at,
            found=found,
        )
        stored = [
            outbox.Event.inserted(
                event_id, new, poll_date=at, element_key="acton", hub_key="marketing"
            )
            for event_id, new in zip(event_ids, found, strict=True)
        ]
        delivery_ids = await outbox.enqueue_events(
            conn, instance_id=instance_id, found=stored, now=at
        )
    return event_ids, delivery_ids


@contextlib.asynccontextmanager
async def container(settings: Settings) -> AsyncIterator[bootstrap.Container]:
    async with bootstrap.container(settings, loops=False) as c:
        yield c


@contextlib.asynccontextmanager
async def running_worker(c: bootstrap.Container) -> AsyncIterator[None]:
    """The delivery loop of ``c`` until the block ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(c, stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def eventually(
    check: Callable[[], Awaitable[bool]],
    *,
    timeout: float = 15.0,  # noqa: ASYNC109 - a deadline for polling, not a cancel scope
    what: str = "condition",
) -> None:
    """Poll ``check`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout} s")
        await asyncio.sleep(0.02)


async def rows(c: bootstrap.Container, table: sa.Table, *where: Any) -> list[sa.Row[Any]]:
    async with db.reading(c.engine) as conn:
        query = sa.select(table).where(*where).order_by(table.c.id)
        return list((await conn.execute(query)).all())


async def statuses(c: bootstrap.Container, delivery_ids: Sequence[int]) -> list[str]:
    found = await rows(c, tables.deliveries, tables.deliveries.c.id.in_(delivery_ids))
    return [row.status for row in found]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- signatures, checked without Headwater's code ----------------------------------------------


@dataclasses.dataclass(frozen=True)
class Checked:
    elements: bool
    standard: bool


def check_signatures(key: str, headers: Mapping[str, str], body: bytes) -> Checked:
    """Both signatures of a notification, verified with ``hmac`` alone (as a receiver would)."""
    lower = {k.lower(): v for k, v in headers.items()}
    expected = (
        "sha256=" + base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()
    )
    elements = hmac.compare_digest(expected, lower.get("elements-webhook-signature", ""))
    secret = (
        base64.b64decode(key.removeprefix("whsec_")) if key.startswith("whsec_") else key.encode()
    )
    signed = f"{lower.get('webhook-id', '')}.{lower.get('webhook-timestamp', '')}.".encode() + body
    standard_expected = (
        "v1," + base64.b64encode(hmac.new(secret, signed, hashlib.sha256).digest()).decode()
    )
    standard = any(
        hmac.compare_digest(standard_expected, part)
        for part in lower.get("webhook-signature", "").split()
    )
    return Checked(elements=elements, standard=standard)


def message(arrival: Mapping[str, Any]) -> dict[str, Any]:
    body = json.loads(arrival["body"])
    assert isinstance(body, dict)
    result = body["message"]
    assert isinstance(result, dict)
    return result

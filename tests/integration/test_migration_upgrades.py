"""Upgrades keep the data: from every revision, with representative rows in it, to the head.

For each revision, an empty database is migrated to it, one row of every kind is written with
the columns that revision has (an organization, a user, an instance, a poller and its versions,
a delivery and its attempt, an event, a rate limit), the database is upgraded to the head, and
the rows are read back through the storage functions the server uses.

A migration that adds a required column without a default fails here, naming it: give the
column a value in ``_ROWS`` (and the migration a default for the rows that exist already).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from headwater import status
from headwater.storage import (
    db,
    delivery_log,
    events,
    instances,
    migrate,
    pollers,
    tables,
    tenants,
    versions,
)
from tests import databases

T0 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
MS0 = int(T0.timestamp() * 1000)
ORG_SECRET, USER_SECRET = "org-secret-" + "o" * 32, "user-secret-" + "u" * 32
NOTIFICATION_ID = "msg_" + "a" * 32
CONFIGURATION = {
    "event.notification.enabled": True,
    "event.vendor.type": "polling",
    "event.notification.callback.url": "https://app.example.com/events",
    "event.poller.refresh_interval": 15,
    "event.poller.configuration": {
        "contacts": {
            "url": "/hubs/marketing/lists/{listId}/contacts?where=modafter='${epoch}'",
            "idField": "_contact_id_",
        }
    },
}
RAW = {"objectType": "contacts", "contacts": [{"_contact_id_": "l-0001:7", "First Name": "Zed"}]}

Ids = dict[str, int]

# table → its row, from the ids of the rows written before it; a column the revision lacks is
# left out, a table it lacks is skipped
_ROWS: list[tuple[str, Callable[[Ids], dict[str, Any]]]] = [
    ("organizations", lambda ids: {
        "name": "Acme", "secret_hash": tenants.hash_secret(ORG_SECRET), "created_at": T0,
    }),
    ("users", lambda ids: {
        "organization_id": ids["organizations"],
        "secret_hash": tenants.hash_secret(USER_SECRET),
        "created_at": T0,
    }),
    ("instances", lambda ids: {
        "organization_id": ids["organizations"], "user_id": ids["users"],
        "element_key": "acton", "name": "API Instance with Polling", "tags": ["Docs"],
        "token_hash": tenants.hash_secret("instance-token"), "configuration": CONFIGURATION,
        "secrets": "sealed", "provider_tokens": None, "token_expires_at": T0,
        "refresh_lease_owner": None, "refresh_lease_until": None, "valid": True,
        "invalid_reason": None, "disabled": False, "events_enabled": True,
        "subscription_active": True, "created_at": T0, "updated_at": T0,
    }),
    ("pollers", lambda ids: {
        "instance_id": ids["instances"], "resource": "contacts", "enabled": True,
        "disabled_reason": None, "query_fingerprint": "f" * 64, "cursor_ms": MS0,
        "start_ms": MS0 - 3_600_000, "next_run_at": T0 + dt.timedelta(minutes=15),
        "last_run_at": T0, "next_reconcile_at": T0 + dt.timedelta(hours=1),
        "last_error": "provider unavailable", "consecutive_failures": 2,
        "last_event_count": 1, "run_requested": False, "lease_owner": None,
        "lease_until": None,
    }),
    ("record_versions", lambda ids: {
        "poller_id": ids["pollers"], "object_id": "l-0001:7", "updated_ms": MS0,
        "content_hash": "c" * 64, "deleted": False,
    }),
    ("deliveries", lambda ids: {
        "notification_id": NOTIFICATION_ID, "instance_id": ids["instances"], "kind": "events",
        "url": "https://app.example.com/events", "body": '{"message": {}}', "status": "retry",
        "attempt_count": 1, "next_attempt_at": T0 + dt.timedelta(seconds=16),
        "last_error": "HTTP 500", "lease_owner": None, "lease_until": None,
        "created_at": T0, "updated_at": T0,
    }),
    ("attempts", lambda ids: {
        "delivery_id": ids["deliveries"], "date": T0, "status_code": 500, "latency_ms": 12.5,
        "error": "HTTP 500", "response": "try later",
    }),
    ("events", lambda ids: {
        "instance_id": ids["instances"], "element_key": "acton", "hub_key": "marketing",
        "object_type": "contacts", "object_id": "l-0001:7", "event_type": "UPDATED",
        "date": T0, "poll_date": T0, "status": "DISPATCHED", "delivery_id": ids["deliveries"],
        "raw": RAW,
    }),
    ("rate_limits", lambda ids: {"instance_id": ids["instances"], "next_ms": MS0}),
    ("inbound_webhooks", lambda ids: {
        "received_at": T0, "element_key": "acton", "instance_id": ids["instances"],
        "message_id": "msg_1", "outcome": "accepted", "problem": None, "event_count": 1,
        "content_type": "application/json", "headers": {"svix-id": "msg_1"}, "body": b"{}",
    }),
]  # fmt: skip


def _columns(sync: sa.Connection) -> dict[str, dict[str, dict[str, Any]]]:
    inspector = sa.inspect(sync)
    return {
        name: {column["name"]: column for column in inspector.get_columns(name)}
        for name in inspector.get_table_names()
    }


def _write_rows(sync: sa.Connection, revision: str) -> Ids:
    """One row of each kind, written with the columns ``revision`` has."""
    present = _columns(sync)
    ids: Ids = {}
    for name, make in _ROWS:
        if name not in present:
            continue
        row = make(ids)
        columns = present[name]
        missing = sorted(
            column
            for column, info in columns.items()
            if column not in row
            and not info["nullable"]
            and info.get("default") is None
            and not (column == "id" and info.get("autoincrement", True))
        )
        assert missing == [], (
            f"revision {revision}: {name}.{missing} is required; give it a value in _ROWS"
        )
        known = tables.metadata.tables.get(name)
        # the server's column types, so that values are stored exactly as it stores them
        typed = [
            sa.column(column, known.c[column].type if known is not None else None)
            for column in row
            if column in columns and (known is None or column in known.c)
        ]
        clause = sa.table(name, *typed, *([sa.column("id", sa.Integer)] if "id" in columns else []))
        insert = sa.insert(clause).values({c.name: row[c.name] for c in typed})
        if "id" in columns:
            ids[name] = int(sync.execute(insert.returning(clause.c.id)).scalar_one())
        else:
            sync.execute(insert)
    return ids


@pytest.fixture
async def empty_url(db_kind: str, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database: no tables at all."""
    if db_kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"hw_m_{uuid.uuid4().hex[:12]}"
    await databases._admin(f'CREATE DATABASE "{name}"')
    url = f"{databases.PG_BASE}/{name}"
    try:
        yield url
    finally:
        await databases.drop_postgres(url)


@pytest.mark.parametrize("revision", migrate.revisions())
async def test_upgrade_keeps_the_rows_of(revision: str, empty_url: str) -> None:
    await migrate.upgrade(empty_url, to=revision)
    engine = db.make_engine(empty_url)
    try:
        async with engine.begin() as conn:
            ids = await conn.run_sync(lambda sync: _write_rows(sync, revision))
        await migrate.upgrade_engine(engine)
        assert await migrate.is_current(engine)
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), tables.metadata
                )
            )
        assert diff == []
        await _read_back(engine, ids, revision)
    finally:
        await engine.dispose()


async def _read_back(engine: Any, ids: Ids, revision: str) -> None:
    async with db.reading(engine) as conn:
        principal = await tenants.authenticate(conn, user_secret=USER_SECRET, org_secret=ORG_SECRET)
        assert principal.organization_id == ids["organizations"]
        instance = await instances.get(
            conn, ids["instances"], organization_id=principal.organization_id
        )
        assert instance is not None and instance.name == "API Instance with Polling"
        assert instance.tags == ["Docs"] and instance.configuration == CONFIGURATION
        assert instance.valid and instance.events_enabled and instance.created_at == T0
        assert list(instance.config.resources) == ["contacts"]
        [poller] = await pollers.for_instance(conn, ids["instances"])
        assert (poller.resource, poller.cursor_ms, poller.consecutive_failures) == (
            "contacts",
            MS0,
            2,
        )
        had_start = revision >= "0002"
        assert poller.start_ms == (MS0 - 3_600_000 if had_start else None)
        known = await versions.versions(conn, poller.id)
        assert known["l-0001:7"].updated_ms == MS0
        [delivery] = await delivery_log.by_ids(conn, [ids["deliveries"]])
        assert (delivery.notification_id, delivery.status) == (NOTIFICATION_ID, "retry")
        [attempt] = (await delivery_log.attempts_of(conn, [delivery.id]))[delivery.id]
        assert (attempt.status_code, attempt.latency_ms, attempt.date) == (500, 12.5, T0)
        event = await events.get(
            conn, organization_id=principal.organization_id, event_id=ids["events"]
        )
        assert event is not None and event.notification_id == NOTIFICATION_ID
        assert event.raw == RAW and event.date == T0
    [health] = await status.gather(engine, now=T0 + dt.timedelta(hours=1))
    assert health.instance.organization == "Acme"
    assert health.backlog.by_status["retry"] == 1 and health.backlog.oldest == T0
    assert health.pollers[0].lag_seconds == 45 * 60
    # and the upgraded database takes new rows (its id sequences went on)
    async with db.transaction(engine) as conn:
        made = await tenants.create(conn, organization_name="Beta", now=T0)
    assert made.organization_id > ids["organizations"]

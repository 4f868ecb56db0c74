"""Element instance rows: reads scoped to an organization, writes, and the token-refresh lease."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from headwater.domain import instance_config
from headwater.storage import tables

MAX_ID = 2**31 - 1  # ids are INTEGER on both databases; a larger one names no row
_t = tables.instances


@dataclasses.dataclass(frozen=True)
class NewInstance:
    """An instance to insert: every column but its id and the refresh lease."""

    organization_id: int
    user_id: int
    element_key: str
    name: str
    tags: list[str]
    token_hash: str
    configuration: dict[str, Any]  # the plain part; secrets are sealed in ``secrets``
    secrets: str
    provider_tokens: str | None
    token_expires_at: dt.datetime | None
    valid: bool
    invalid_reason: str | None
    disabled: bool
    events_enabled: bool
    subscription_active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class Instance(NewInstance):
    """An element instance as stored."""

    id: int
    refresh_lease_owner: str | None
    refresh_lease_until: dt.datetime | None
    # a signature-key rotation (see headwater.instances.signature_keys)
    previous_signature_key: str | None = None
    signature_overlap_until: dt.datetime | None = None
    signature_rotated_at: dt.datetime | None = None
    # the token before the last rotation and until when it is still accepted
    previous_token_hash: str | None = None
    previous_token_until: dt.datetime | None = None

    @functools.cached_property
    def config(self) -> instance_config.InstanceConfig:
        """The configuration, read once into a typed value."""
        return instance_config.InstanceConfig.read(self.configuration)


class Keep(enum.Enum):
    """A field of :class:`Change` left as it is."""

    KEEP = "keep"


KEEP = Keep.KEEP


@dataclasses.dataclass(frozen=True)
class Change:
    """The columns an update sets; :data:`KEEP` leaves one as it is."""

    name: str | Keep = KEEP
    tags: list[str] | Keep = KEEP
    configuration: dict[str, Any] | Keep = KEEP
    secrets: str | Keep = KEEP
    events_enabled: bool | Keep = KEEP
    provider_tokens: str | Keep = KEEP
    token_expires_at: dt.datetime | Keep | None = KEEP
    valid: bool | Keep = KEEP
    invalid_reason: str | Keep | None = KEEP
    disabled: bool | Keep = KEEP
    subscription_active: bool | Keep = KEEP
    previous_signature_key: str | Keep | None = KEEP
    signature_overlap_until: dt.datetime | Keep | None = KEEP
    signature_rotated_at: dt.datetime | Keep | None = KEEP
    updated_at: dt.datetime | Keep = KEEP

    def columns(self) -> dict[str, Any]:
        return {
            field.name: getattr(self, field.name)
            for field in dataclasses.fields(self)
            if getattr(self, field.name) is not KEEP
        }


def _instance(row: sa.Row[Any]) -> Instance:
    return Instance(**row._mapping)


async def insert(conn: AsyncConnection, new: NewInstance) -> int:
    """Insert an instance row; returns its id."""
    values = {field.name: getattr(new, field.name) for field in dataclasses.fields(new)}
    instance_id: int | None = await conn.scalar(sa.insert(_t).values(**values).returning(_t.c.id))
    assert instance_id is not None
    return instance_id


async def get(
    conn: AsyncConnection,
    instance_id: int,
    *,
    organization_id: int | None,
    for_update: bool = False,
) -> Instance | None:
    """The instance, when it exists and (unless ``organization_id`` is None) belongs to that org.

    ``for_update`` locks the row ``FOR NO KEY UPDATE`` until the transaction ends, to change it
    (PostgreSQL; SQLite's writers are serialized by ``BEGIN IMMEDIATE`` already). That lock does
    not block the inserts of rows beneath the instance (see the lock order in
    :mod:`headwater.storage.db`); to delete the instance, :func:`lock` it ``for_delete``.
    """
    if not 0 < instance_id <= MAX_ID:
        return None
    query = sa.select(_t).where(_t.c.id == instance_id)
    if organization_id is not None:
        query = query.where(_t.c.organization_id == organization_id)
    if for_update:
        query = query.with_for_update(key_share=True)
    row = (await conn.execute(query)).first()
    return None if row is None else _instance(row)


async def lock(
    conn: AsyncConnection,
    instance_ids: int | Iterable[int],
    *,
    change: bool = False,
    for_delete: bool = False,
) -> list[int]:
    """Lock instance rows, in id order, as the first step of a writing transaction (the lock
    order is in :mod:`headwater.storage.db`); returns the ids that exist.

    By default ``FOR KEY SHARE``: the instance is not deleted meanwhile, and nothing else is held
    up. ``change``: ``FOR NO KEY UPDATE``, to change the rows. ``for_delete``: ``FOR UPDATE``.
    SQLite has no row locks; its writers are serialized as a whole.
    """
    ids = sorted({instance_ids} if isinstance(instance_ids, int) else set(instance_ids))
    ids = [one for one in ids if 0 < one <= MAX_ID]
    if not ids:
        return []
    query = sa.select(_t.c.id).where(_t.c.id.in_(ids)).order_by(_t.c.id)
    if for_delete:
        query = query.with_for_update()
    elif change:
        query = query.with_for_update(key_share=True)
    else:
        query = query.with_for_update(read=True, key_share=True)
    return list((await conn.execute(query)).scalars().all())


async def of_element_having(
    conn: AsyncConnection, element_key: str, configuration_key: str
) -> list[Instance]:
    """The instances of an element whose configuration sets ``configuration_key``, in id order
    (those with an instance finder, for a webhook that names no instance): a webhook anybody may
    send reads those rows only, not every instance of the element."""
    query = (
        sa.select(_t)
        .where(
            _t.c.element_key == element_key,
            _t.c.configuration[configuration_key].as_string().is_not(None),
        )
        .order_by(_t.c.id)
    )
    return [_instance(row) for row in (await conn.execute(query)).all()]


async def by_token_hash(
    conn: AsyncConnection, token_hash: str, *, organization_id: int, now: dt.datetime
) -> Instance | None:
    """The organization's instance whose token, or whose previous token while its overlap lasts
    (until ``previous_token_until``, compared with ``now``), hashes to ``token_hash``."""
    current = _t.c.token_hash == token_hash
    previous = sa.and_(_t.c.previous_token_hash == token_hash, _t.c.previous_token_until > now)
    query = sa.select(_t).where(sa.or_(current, previous), _t.c.organization_id == organization_id)
    row = (await conn.execute(query)).first()
    return None if row is None else _instance(row)


async def rotate_token(
    conn: AsyncConnection, instance_id: int, *, token_hash: str, until: dt.datetime
) -> None:
    """Make ``token_hash`` the instance's token; the one it replaces is accepted until ``until``
    (a token of an earlier rotation stops at once)."""
    await conn.execute(
        sa.update(_t)
        .where(_t.c.id == instance_id)
        .values(
            previous_token_hash=_t.c.token_hash, previous_token_until=until, token_hash=token_hash
        )
    )


async def page(
    conn: AsyncConnection, *, organization_id: int, after_id: int | None, limit: int
) -> list[Instance]:
    """The organization's instances in id order, starting after ``after_id``."""
    query = sa.select(_t).where(_t.c.organization_id == organization_id).order_by(_t.c.id)
    if after_id is not None:
        query = query.where(_t.c.id > after_id)
    return [_instance(row) for row in await conn.execute(query.limit(limit))]


async def update(conn: AsyncConnection, instance_id: int, change: Change) -> None:
    """Set the columns ``change`` names."""
    values = change.columns()
    if values:
        await conn.execute(sa.update(_t).where(_t.c.id == instance_id).values(**values))


async def delete(conn: AsyncConnection, instance_id: int) -> bool:
    """Delete the instance; its pollers, events and deliveries go with it (foreign keys cascade)."""
    result = await conn.execute(sa.delete(_t).where(_t.c.id == instance_id))
    return result.rowcount > 0


async def claim_refresh_lease(
    conn: AsyncConnection, instance_id: int, *, owner: str, now: dt.datetime, until: dt.datetime
) -> bool:
    """Take the refresh lease when it is free or expired; True when ``owner`` now holds it."""
    result = await conn.execute(
        sa.update(_t)
        .where(
            _t.c.id == instance_id,
            sa.or_(_t.c.refresh_lease_owner.is_(None), _t.c.refresh_lease_until < now),
        )
        .values(refresh_lease_owner=owner, refresh_lease_until=until)
    )
    return result.rowcount == 1


async def release_refresh_lease(
    conn: AsyncConnection, instance_id: int, *, owner: str, change: Change | None = None
) -> bool:
    """Release the lease held by ``owner``, writing ``change`` in the same statement.

    The new token pair is persisted here, so that no other process can see the lease free and
    the old (already spent) refresh token at once. False when the lease was lost.
    """
    result = await conn.execute(
        sa.update(_t)
        .where(_t.c.id == instance_id, _t.c.refresh_lease_owner == owner)
        .values(
            refresh_lease_owner=None,
            refresh_lease_until=None,
            **(change.columns() if change is not None else {}),
        )
    )
    return result.rowcount == 1

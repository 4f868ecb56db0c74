"""Which keys open a database's secrets: the start-up check of ``HEADWATER_SECRET_KEY`` against
the derivation recorded in ``server_meta``, and the records of a key rotation.

A rotation starts when a process comes up with a new ``HEADWATER_SECRET_KEY`` and the recorded key
as ``HEADWATER_PREVIOUS_SECRET_KEY``: the new key's derivation becomes the database's, the old one
is kept as the previous derivation, and that process seals with the new key while it still opens
what the old one sealed. ``headwater secret-key rotate`` (:mod:`headwater.storage.rekey`) seals
every stored secret again under the new key and then drops the previous derivation: from then on
the old key opens nothing and is refused.
"""

from __future__ import annotations

import asyncio
import hmac

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from headwater.errors import ConfigurationError, StorageError
from headwater.storage import db, secrets, tables

_meta = tables.server_meta
_RECORDS = [
    secrets.DERIVATION_KEY,
    secrets.LEGACY_FINGERPRINT_KEY,
    secrets.PREVIOUS_DERIVATION_KEY,
]


_DIFFERS = (
    "HEADWATER_SECRET_KEY differs from the key this database was set up with; "
    "start with the same key as the other nodes"
)


_PREVIOUS_NEEDED = (
    "this database's secrets are being moved to a new key (`headwater secret-key rotate`): set "
    "HEADWATER_PREVIOUS_SECRET_KEY to the key they are moved from until the rotation has finished"
)
_PREVIOUS_WRONG = (
    "HEADWATER_PREVIOUS_SECRET_KEY is not the key this database's secrets are being moved from"
)
_NEITHER = (
    "neither HEADWATER_SECRET_KEY nor HEADWATER_PREVIOUS_SECRET_KEY is the key this database was "
    "set up with; to rotate, set HEADWATER_PREVIOUS_SECRET_KEY to that key"
)
_UNFINISHED = (
    "an earlier key rotation has not finished: run `headwater secret-key rotate` with the keys it "
    "was started with, then start the next one"
)
_MOVED = (
    "HEADWATER_SECRET_KEY is the key this database's secrets are being moved from; start with the "
    "new key as HEADWATER_SECRET_KEY and this one as HEADWATER_PREVIOUS_SECRET_KEY"
)


async def _derive(key: str, derivation: secrets.Derivation) -> secrets.SecretBox:
    return await asyncio.to_thread(secrets.SecretBox.derived, key, derivation)


async def _opens(key: str, record: str) -> secrets.SecretBox | None:
    """The box of ``key`` when it is the key of ``record``; None when it is another."""
    derivation, check = secrets.Derivation.read(record)
    box = await _derive(key, derivation)
    return box if hmac.compare_digest(box.fingerprint, check) else None


async def open_box(engine: AsyncEngine, key: str, previous: str | None = None) -> secrets.SecretBox:
    """The box of ``key`` for this database, refusing a key that differs from the one it was set
    up with. The first start records the derivation; a database of the SHA-256 era is upgraded.

    ``previous`` (``HEADWATER_PREVIOUS_SECRET_KEY``): when ``key`` is new and ``previous`` is the
    recorded key, ``key`` becomes the database's key and a rotation starts; while one is under
    way, the box also opens what ``previous`` sealed (and a process without it is refused).
    """
    secrets._require(key)
    for _ in range(3):  # another process may set the database up between our read and write
        stored = await _stored(engine)
        record = stored.get(secrets.DERIVATION_KEY)
        earlier = stored.get(secrets.PREVIOUS_DERIVATION_KEY)
        if record is not None:
            box = await _opens(key, record)
            if box is not None:
                return await _with_previous(box, earlier, previous)
            if earlier is not None and await _opens(key, earlier) is not None:
                raise ConfigurationError(_MOVED)
            old = None if previous is None else await _opens(previous, record)
            if old is None:
                raise ConfigurationError(_NEITHER if previous is not None else _DIFFERS)
            if earlier is not None:
                raise ConfigurationError(_UNFINISHED)
            derivation = secrets.Derivation.new()
            box = await _derive(key, derivation)
            if await _start_rotation(engine, record, derivation.record(box.fingerprint)):
                return box.reading(old)
            continue
        old_fingerprint = stored.get(secrets.LEGACY_FINGERPRINT_KEY)
        if old_fingerprint is not None and not hmac.compare_digest(
            secrets.legacy_fingerprint(key), old_fingerprint
        ):
            raise ConfigurationError(_DIFFERS)
        derivation = secrets.Derivation.new()
        box = await _derive(key, derivation)
        legacy = secrets.SecretBox.legacy(key) if old_fingerprint is not None else None
        if await _record(engine, derivation, box, legacy=legacy, legacy_seen=old_fingerprint):
            return box
    raise ConfigurationError("the secret key could not be recorded: the database kept changing")


async def _with_previous(
    box: secrets.SecretBox, earlier: str | None, previous: str | None
) -> secrets.SecretBox:
    """``box``, also opening what the key of a rotation under way sealed."""
    if earlier is None:
        return box  # no rotation under way: nothing is sealed by ``previous`` any more
    if previous is None:
        raise ConfigurationError(_PREVIOUS_NEEDED)
    old = await _opens(previous, earlier)
    if old is None:
        raise ConfigurationError(_PREVIOUS_WRONG)
    return box.reading(old)


async def previous_record(engine: AsyncEngine) -> str | None:
    """The derivation of the key a rotation under way moves secrets from; None when none is."""
    return (await _stored(engine)).get(secrets.PREVIOUS_DERIVATION_KEY)


async def finish_rotation(engine: AsyncEngine, earlier: str) -> bool:
    """Drop the previous key's derivation (the one read as ``earlier``): the old key opens
    nothing any more. False when another rotation's record is there instead."""
    async with db.transaction(engine) as conn:
        gone = await conn.execute(
            sa.delete(_meta).where(
                _meta.c.key == secrets.PREVIOUS_DERIVATION_KEY, _meta.c.value == earlier
            )
        )
        return gone.rowcount == 1


async def _start_rotation(engine: AsyncEngine, seen: str, new: str) -> bool:
    """Make ``new`` the database's derivation, keeping ``seen`` as the previous one; False when
    another process changed the records since they were read."""
    try:
        async with db.transaction(engine) as conn:
            rows = await conn.execute(
                sa.select(_meta.c.key, _meta.c.value)
                .where(_meta.c.key.in_(_RECORDS))
                .with_for_update()
            )
            now = {row.key: row.value for row in rows}
            if now.get(secrets.DERIVATION_KEY) != seen or secrets.PREVIOUS_DERIVATION_KEY in now:
                return False
            await conn.execute(
                sa.update(_meta).where(_meta.c.key == secrets.DERIVATION_KEY).values(value=new)
            )
            await conn.execute(
                sa.insert(_meta).values(key=secrets.PREVIOUS_DERIVATION_KEY, value=seen)
            )
            return True
    except StorageError as error:
        raise ConfigurationError(f"the key rotation could not be recorded: {error}") from error


async def _stored(engine: AsyncEngine) -> dict[str, str]:
    try:
        async with db.reading(engine) as conn:
            rows = await conn.execute(
                sa.select(_meta.c.key, _meta.c.value).where(_meta.c.key.in_(_RECORDS))
            )
            return {row.key: row.value for row in rows}
    except StorageError as error:
        raise ConfigurationError(
            f"the database is not ready ({error}); run `headwater db upgrade`"
        ) from error


async def _record(
    engine: AsyncEngine,
    derivation: secrets.Derivation,
    box: secrets.SecretBox,
    *,
    legacy: secrets.SecretBox | None,
    legacy_seen: str | None,
) -> bool:
    """Store the derivation (re-sealing a legacy database's secrets); False when another process
    changed the key records since they were read."""
    try:
        async with db.transaction(engine) as conn:
            rows = await conn.execute(
                sa.select(_meta.c.key, _meta.c.value)
                .where(_meta.c.key.in_([secrets.DERIVATION_KEY, secrets.LEGACY_FINGERPRINT_KEY]))
                .with_for_update()
            )
            now = {row.key: row.value for row in rows}
            if (
                secrets.DERIVATION_KEY in now
                or now.get(secrets.LEGACY_FINGERPRINT_KEY) != legacy_seen
            ):
                return False
            if legacy is not None:
                await _reseal_instances(conn, box, legacy)
                await conn.execute(
                    sa.delete(_meta).where(_meta.c.key == secrets.LEGACY_FINGERPRINT_KEY)
                )
            insert = (
                pg_dialect.insert(_meta)
                if conn.dialect.name == "postgresql"
                else sqlite_dialect.insert(_meta)
            )
            added = await conn.scalar(
                insert.values(key=secrets.DERIVATION_KEY, value=derivation.record(box.fingerprint))
                .on_conflict_do_nothing()
                .returning(_meta.c.key)
            )
            return added is not None
    except StorageError as error:
        raise ConfigurationError(f"the secret key could not be recorded: {error}") from error


async def _reseal_instances(
    conn: AsyncConnection, box: secrets.SecretBox, legacy: secrets.SecretBox
) -> None:
    t = tables.instances
    rows = await conn.execute(sa.select(t.c.id, t.c.secrets, t.c.provider_tokens))
    for row in rows.all():
        tokens = None if row.provider_tokens is None else box.reseal(row.provider_tokens, legacy)
        await conn.execute(
            sa.update(t)
            .where(t.c.id == row.id)
            .values(secrets=box.reseal(row.secrets, legacy), provider_tokens=tokens)
        )

"""Record versions: what each poller last knew of each record it has seen.

A version is the record's updated date and content hash (``updated_ms`` None when only its id was
listed), and whether the record is known to be deleted. :func:`headwater.storage.pollers.sync`
forgets a poller's versions when its query changes or its resource is removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from headwater.domain import changes
from headwater.storage import tables

_v = tables.record_versions


async def versions(
    conn: AsyncConnection, poller_id: int, object_ids: Iterable[str] | None = None
) -> dict[str, changes.Known]:
    """The remembered versions of ``object_ids`` (default: of every record the poller knows)."""
    query = sa.select(_v.c.object_id, _v.c.updated_ms, _v.c.content_hash, _v.c.deleted).where(
        _v.c.poller_id == poller_id
    )
    found: dict[str, changes.Known] = {}
    if object_ids is None:
        batches: list[list[str] | None] = [None]
    else:
        wanted = sorted(set(object_ids))
        batches = [wanted[i : i + 500] for i in range(0, len(wanted), 500)]
    for batch in batches:
        scoped = query if batch is None else query.where(_v.c.object_id.in_(batch))
        for row in (await conn.execute(scoped)).all():
            found[row.object_id] = changes.Known(row.updated_ms, row.content_hash, row.deleted)
    return found


async def remember(
    conn: AsyncConnection, poller_id: int, known: Mapping[str, changes.Known]
) -> None:
    """Store these versions, replacing what the poller knew of those records."""
    if not known:
        return
    rows = [
        {
            "poller_id": poller_id,
            "object_id": object_id,
            "updated_ms": version.updated_ms,
            "content_hash": version.content_hash,
            "deleted": version.deleted,
        }
        for object_id, version in sorted(known.items())
    ]
    insert: Any
    if conn.dialect.name == "postgresql":
        insert = pg_dialect.insert(_v)
    else:
        insert = sqlite_dialect.insert(_v)
    statement = insert.on_conflict_do_update(
        index_elements=[_v.c.poller_id, _v.c.object_id],
        set_={
            "updated_ms": insert.excluded.updated_ms,
            "content_hash": insert.excluded.content_hash,
            "deleted": insert.excluded.deleted,
        },
    )
    for start in range(0, len(rows), 500):
        await conn.execute(statement, rows[start : start + 500])

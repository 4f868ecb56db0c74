"""Operations endpoint rows: where an organization's operations notifications go."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from headwater.storage import tables

_o = tables.operations_endpoints
_i = tables.instances


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """An organization's operations URL and its sealed signature key."""

    organization_id: int
    url: str
    signature_key: str  # a Fernet token
    created_at: dt.datetime
    updated_at: dt.datetime


async def get(conn: AsyncConnection, organization_id: int) -> Endpoint | None:
    """The organization's endpoint, if it set one."""
    row = (await conn.execute(sa.select(_o).where(_o.c.organization_id == organization_id))).first()
    return None if row is None else Endpoint(**row._mapping)


async def of_instance(conn: AsyncConnection, instance_id: int) -> Endpoint | None:
    """The endpoint of the organization that owns the instance."""
    query = (
        sa.select(_o)
        .join(_i, _i.c.organization_id == _o.c.organization_id)
        .where(_i.c.id == instance_id)
    )
    row = (await conn.execute(query)).first()
    return None if row is None else Endpoint(**row._mapping)


async def put(
    conn: AsyncConnection, *, organization_id: int, url: str, signature_key: str, now: dt.datetime
) -> Endpoint:
    """Create or replace the organization's endpoint."""
    insert: Any = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(_o)
    await conn.execute(
        insert.values(
            organization_id=organization_id,
            url=url,
            signature_key=signature_key,
            created_at=now,
            updated_at=now,
        ).on_conflict_do_update(
            index_elements=[_o.c.organization_id],
            set_={"url": url, "signature_key": signature_key, "updated_at": now},
        )
    )
    found = await get(conn, organization_id)
    assert found is not None
    return found


async def delete(conn: AsyncConnection, organization_id: int) -> bool:
    """Remove the organization's endpoint; False when it had none."""
    result = await conn.execute(sa.delete(_o).where(_o.c.organization_id == organization_id))
    return result.rowcount == 1

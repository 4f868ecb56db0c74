"""Sealing every stored secret again under the database's current key (a key rotation).

Each secret is renewed in its own compare-and-set update (``WHERE value = <what was read>``): a
process that wrote the row meanwhile sealed it under the new key already and wins. A row is
renewed only when the new key alone cannot open it, so a pass interrupted anywhere (even
killed) leaves every row readable with the new key or the old one, none sealed twice, and the next
pass goes on where it stopped. When a pass finds every secret under the new key, the old key's
record is dropped and the old key opens nothing any more.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from headwater.errors import StorageError
from headwater.storage import db, keyring, secrets, tables

# every column that holds what SecretBox.seal made, as (table, column); a new one goes here
SEALED: tuple[tuple[sa.Table, str], ...] = (
    (tables.instances, "secrets"),
    (tables.instances, "provider_tokens"),
    (tables.instances, "previous_signature_key"),
    (tables.operations_endpoints, "signature_key"),
)
BATCH = 100
PASSES = 5

Progress = Callable[[int, int], None]  # (secrets looked at, secrets in all)


@dataclasses.dataclass(frozen=True)
class Rekeyed:
    """What a rotation did: secrets found, secrets it sealed again, and whether the old key is
    retired (its record dropped) or had been already."""

    total: int
    renewed: int
    retired: bool


async def count(engine: AsyncEngine) -> int:
    """How many sealed secrets the database holds."""
    found = 0
    async with db.reading(engine) as conn:
        for table, name in SEALED:
            column = table.c[name]
            found += int(
                await conn.scalar(sa.select(sa.func.count()).where(column.is_not(None))) or 0
            )
    return found


async def rotate(
    engine: AsyncEngine,
    box: secrets.SecretBox,
    *,
    progress: Progress = lambda done, total: None,
    batch: int = BATCH,
) -> Rekeyed:
    """Seal every secret that the current key of ``box`` cannot open under that key (``box``
    opens the others with the previous key), then retire the previous key."""
    earlier = await keyring.previous_record(engine)
    total, renewed, first = await count(engine), 0, True
    for _ in range(PASSES):
        done, changed = 0, 0
        for table, name in SEALED:
            async for looked, sealed_again in _column(engine, box, table, name, batch):
                done += looked
                changed += sealed_again
                if first:
                    progress(min(done, total), total)
        renewed += changed
        first = False
        if changed == 0:
            break
    else:
        raise StorageError(
            "secrets kept being sealed under the old key while they were renewed: is a process "
            "still running with the old key alone?"
        )
    retired = earlier is not None and await keyring.finish_rotation(engine, earlier)
    return Rekeyed(total=total, renewed=renewed, retired=retired)


async def _column(
    engine: AsyncEngine, box: secrets.SecretBox, table: sa.Table, name: str, batch: int
) -> AsyncIterator[tuple[int, int]]:
    """Renew one column's secrets, ``batch`` rows per transaction, in id order; yields, after each
    transaction, how many secrets it looked at and how many it sealed again."""
    (key,) = table.primary_key.columns  # every sealed column's table has a one-column key
    column = table.c[name]
    after = 0
    while True:
        async with db.transaction(engine) as conn:
            rows = (
                await conn.execute(
                    sa.select(key, column)
                    .where(key > after, column.is_not(None))
                    .order_by(key)
                    .limit(batch)
                )
            ).all()
            changed = 0
            for row_id, sealed in rows:
                if box.sealed_by_me(sealed):
                    continue
                result = await conn.execute(
                    sa.update(table)
                    .where(key == row_id, column == sealed)
                    .values({name: box.renew(sealed)})
                )
                changed += result.rowcount
        if not rows:
            return
        after = rows[-1][0]
        yield len(rows), changed

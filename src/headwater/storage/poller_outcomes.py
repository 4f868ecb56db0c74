"""A poll's outcome on its poller row: :class:`Finish` (the columns it changes), written only while
the poll's worker still holds the lease, one poller at a time (:func:`finish`) or many in a few
statements (:func:`finish_many`, for outcomes committed together)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from headwater.storage import tables

_p = tables.pollers


class Keep(enum.Enum):
    """A field of :class:`Finish` left as it is."""

    KEEP = "keep"


KEEP = Keep.KEEP


@dataclasses.dataclass(frozen=True)
class Finish:
    """A poll's (or reconciliation's) outcome as its poller row keeps it; :data:`KEEP` leaves a
    column as it is. ``release`` gives up the lease."""

    next_run_at: dt.datetime | Keep | None = KEEP
    release: bool = True
    cursor_ms: int | Keep = KEEP
    last_run_at: dt.datetime | Keep = KEEP
    last_error: str | Keep | None = KEEP
    consecutive_failures: int | Keep = KEEP
    last_event_count: int | Keep = KEEP
    next_reconcile_at: dt.datetime | Keep = KEEP
    enabled: bool | Keep = KEEP
    disabled_reason: str | Keep | None = KEEP

    def columns(self) -> dict[str, object]:
        """The columns it sets, besides ``next_run_at`` and the lease."""
        names = (
            "cursor_ms",
            "last_run_at",
            "last_error",
            "consecutive_failures",
            "last_event_count",
            "next_reconcile_at",
            "enabled",
            "disabled_reason",
        )
        return {name: getattr(self, name) for name in names if getattr(self, name) is not KEEP}


async def finish(
    conn: AsyncConnection, poller_id: int, *, owner: str, now: dt.datetime, outcome: Finish
) -> bool:
    """Write ``outcome`` and, with ``outcome.release``, give up the lease; False when ``owner``
    no longer holds it.

    A run requested while the poll ran makes the poller due again at ``now``.
    """
    values = outcome.columns()
    next_run_at, release = outcome.next_run_at, outcome.release
    planned: Any = _p.c.next_run_at if next_run_at is KEEP else next_run_at
    if planned is None:
        planned = sa.null()
    elif isinstance(planned, dt.datetime):
        planned = sa.literal(planned, tables.Time)
    values.update(
        next_run_at=sa.case(
            (_p.c.run_requested.is_(True), sa.literal(now, tables.Time)), else_=planned
        ),
        run_requested=False,
    )
    if release:
        values.update(lease_owner=None, lease_until=None)
    result = await conn.execute(
        sa.update(_p).where(_p.c.id == poller_id, _p.c.lease_owner == owner).values(**values)
    )
    return result.rowcount == 1


@dataclasses.dataclass(frozen=True)
class Finishing:
    """One poller's outcome among several written together (:func:`finish_many`)."""

    poller_id: int
    owner: str
    outcome: Finish


async def finish_many(
    conn: AsyncConnection, items: Sequence[Finishing], *, now: dt.datetime
) -> list[bool]:
    """:func:`finish` for several pollers in a few statements whatever their number: which of
    them their owner still holds is read first (their rows locked in id order on PostgreSQL),
    then the outcomes of those are written, one ``executemany`` per shape of outcome, each row
    still ``WHERE lease_owner = :owner``. Returns, item by item, whether it was written."""
    if not items:
        return []
    if len(items) == 1:  # alone: one statement, its lease check its own condition
        one = items[0]
        return [await finish(conn, one.poller_id, owner=one.owner, now=now, outcome=one.outcome)]
    query = sa.select(_p.c.id, _p.c.lease_owner).where(
        _p.c.id.in_(sorted({item.poller_id for item in items}))
    )
    if conn.dialect.name == "postgresql":
        query = query.order_by(_p.c.id).with_for_update(key_share=True)
    owners = {row.id: row.lease_owner for row in (await conn.execute(query)).all()}
    held = [owners.get(item.poller_id) == item.owner for item in items]
    shapes: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for item, holds in zip(items, held, strict=True):
        if holds:
            shape, params = _finish_params(item, now)
            shapes.setdefault(shape, []).append(params)
    for shape, rows in shapes.items():
        await conn.execute(_finish_statement(shape), rows)
    return held


def _finish_params(item: Finishing, now: dt.datetime) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The shape of an outcome's statement (what :func:`_finish_statement` builds) and its
    parameters."""
    outcome = item.outcome
    columns = outcome.columns()
    planned = outcome.next_run_at
    kind = "keep" if planned is KEEP else "null" if planned is None else "set"
    params = {f"p_{name}": value for name, value in columns.items()}
    params.update(p_id=item.poller_id, p_owner=item.owner, p_now=now)
    if kind == "set":
        params["p_next_run_at"] = planned
    return (tuple(sorted(columns)), kind, outcome.release), params


_FINISH_STATEMENTS: dict[tuple[Any, ...], Any] = {}


def _finish_statement(shape: tuple[Any, ...]) -> Any:
    """One statement per shape, built once: its parameters are bound, not literal."""
    found = _FINISH_STATEMENTS.get(shape)
    if found is not None:
        return found
    names, kind, release_lease = shape
    values: dict[str, Any] = {
        name: sa.bindparam(f"p_{name}", type_=_p.c[name].type) for name in names
    }
    planned: Any = {
        "keep": _p.c.next_run_at,
        "null": sa.null(),
        "set": sa.bindparam("p_next_run_at", type_=tables.Time),
    }[kind]
    values.update(
        next_run_at=sa.case(
            (_p.c.run_requested.is_(True), sa.bindparam("p_now", type_=tables.Time)),
            else_=planned,
        ),
        run_requested=False,
    )
    if release_lease:
        values.update(lease_owner=None, lease_until=None)
    statement = (
        sa.update(_p)
        .where(_p.c.id == sa.bindparam("p_id"), _p.c.lease_owner == sa.bindparam("p_owner"))
        .values(**values)
    )
    _FINISH_STATEMENTS[shape] = statement
    return statement

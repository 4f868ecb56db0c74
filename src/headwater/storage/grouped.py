"""Group commit: units of work submitted at about the same time commit in one transaction.

A poll's outcome is a few statements; the transaction around it (taking SQLite's writer lock or
a pooled connection, ``BEGIN``, ``COMMIT``, the pool's reset) costs more than they do, and on
SQLite every one of those steps is a round trip to the driver's thread while all other writers
wait. :func:`write` queues a unit of work instead: one flush at a time per engine takes every
unit queued so far and runs them one after another in a single transaction
(:func:`headwater.storage.db.write`, so a PostgreSQL deadlock runs the whole group again). Units
that arrive meanwhile form the next group, so a group is as large as the load makes it and a
lone unit waits for nothing but the transaction in progress.

Each unit keeps its own checks (a poller's outcome is still written ``WHERE lease_owner =
:owner``, and its result says whether it was): grouping changes when a unit commits, not what
it checks. A unit that raises rolls back its whole group; every unit of that group then runs
again alone, so that the failure is its own unit's and the others commit as they would have.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from headwater.storage import db

log = logging.getLogger(__name__)

T = TypeVar("T")
ItemT = TypeVar("ItemT")

Unit = Callable[[AsyncConnection], Awaitable[Any]]


Many = Callable[[AsyncConnection, list[Any]], Awaitable[list[Any]]]
"""Writes several items of one kind at once and returns their results, item by item."""


@dataclasses.dataclass
class _Queued:
    unit: Unit | None
    future: asyncio.Future[Any]
    many: Many | None = None
    item: Any = None


class _Started(Exception):
    """A unit of a group raised: the group rolls back and its units run again alone."""


class Committer:
    """The queue of one engine's grouped units, and its one flush in progress."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._queued: list[_Queued] = []
        self._flush: asyncio.Task[None] | None = None
        self.groups = 0  # committed groups, for the tests and the curious
        self.units = 0

    async def submit(self, unit: Unit | None, many: Many | None = None, item: Any = None) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queued.append(_Queued(unit, future, many, item))
        if self._flush is None or self._flush.done():
            self._flush = asyncio.create_task(self._run(), name="group-commit")
        return await future

    async def _run(self) -> None:
        while self._queued:
            await self._group()

    async def _group(self) -> None:
        """Commit the units queued so far (and those that arrive while it waits) in one go."""
        taken: list[_Queued] = []
        took = False

        async def group(conn: AsyncConnection) -> list[Any]:
            nonlocal took
            # taken once the transaction holds its connection (on SQLite: the writer lock), so
            # that the units queued while it waited join this group; a rerun keeps the group
            if not took:
                took = True
                taken.extend(q for q in self._queued if not q.future.done())
                self._queued.clear()
            try:
                return await _run_all(conn, taken)
            except Exception as error:
                if db.retry_reason(error) is not None:
                    raise  # the whole group runs again (db.write)
                raise _Started() from error

        try:
            results = await db.write(self.engine, group)
        except _Started:
            await self._alone(taken)
            return
        except BaseException as error:
            # the transaction itself failed (no connection, the writer lock timed out): every
            # unit of the group shares that fate
            if not took:
                taken, self._queued = list(self._queued), []
            for queued in taken:
                _settle(queued.future, error=error)
            if isinstance(error, asyncio.CancelledError):
                raise
            return
        self.groups += 1
        self.units += len(taken)
        for queued, result in zip(taken, results, strict=True):
            _settle(queued.future, result=result)

    async def _alone(self, taken: list[_Queued]) -> None:
        for queued in taken:
            if queued.future.done():
                continue
            try:
                result = (await db.write(self.engine, functools.partial(_run_all, taken=[queued])))[
                    0
                ]
            except Exception as error:
                _settle(queued.future, error=error)
            else:
                _settle(queued.future, result=result)


async def _run_all(conn: AsyncConnection, taken: list[_Queued]) -> list[Any]:
    """Run a group's units, and each kind of item in one go; their results in queue order."""
    results: dict[int, Any] = {}
    kinds: dict[Many, list[int]] = {}
    for n, queued in enumerate(taken):
        if queued.many is not None:
            kinds.setdefault(queued.many, []).append(n)
    for many, numbers in kinds.items():
        found = await many(conn, [taken[n].item for n in numbers])
        results.update(zip(numbers, found, strict=True))
    for n, queued in enumerate(taken):
        if queued.unit is not None:
            results[n] = await queued.unit(conn)
    return [results[n] for n in range(len(taken))]


def _settle(
    future: asyncio.Future[Any], *, result: Any = None, error: BaseException | None = None
) -> None:
    if future.done():  # its caller was cancelled meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


_COMMITTERS: weakref.WeakKeyDictionary[AsyncEngine, Committer] = weakref.WeakKeyDictionary()


def committer(engine: AsyncEngine) -> Committer:
    """The engine's committer (one per engine and process)."""
    found = _COMMITTERS.get(engine)
    if found is None:
        found = _COMMITTERS[engine] = Committer(engine)
    return found


async def write(engine: AsyncEngine, unit: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """Run ``unit`` in a transaction shared with the other units queued meanwhile, and return
    what it returns (or raise what it raises). Like :func:`headwater.storage.db.write`'s,
    ``unit`` must be safe to run again: database statements only."""
    result: T = await committer(engine).submit(unit)
    return result


async def write_one(
    engine: AsyncEngine,
    many: Callable[[AsyncConnection, list[ItemT]], Awaitable[list[T]]],
    item: ItemT,
) -> T:
    """Write ``item`` with the other items of its kind queued meanwhile: ``many`` writes them
    all in one go, in the group's transaction, and returns each one's result."""
    result: T = await committer(engine).submit(None, many, item)
    return result

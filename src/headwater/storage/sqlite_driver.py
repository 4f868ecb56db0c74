"""SQLite for the async engine with one trip to the driver's thread per statement.

aiosqlite runs each call of a connection on that connection's own thread, and SQLAlchemy makes
four calls per statement (open a cursor, execute, fetch every row, close). Each call hands the
GIL to the thread and back, which costs more than a short statement itself. Here a cursor's
``execute`` does all four in the one trip and keeps the rows, which SQLAlchemy reads at once
anyway (it fetches every row of a statement before returning it); the rest of the connection
(transactions, functions, closing) is aiosqlite's own.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Awaitable, Callable, Generator, Iterable, Sequence
from typing import Any

import aiosqlite
import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import aiosqlite as sa_aiosqlite

Description = tuple[tuple[Any, ...], ...] | None
Ran = tuple[Description, int, int | None, list[Any]]


def _run(
    conn: sqlite3.Connection, many: bool, sql: str, parameters: Any
) -> Ran:  # on the connection's thread
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class Cursor:
    """What SQLAlchemy's adapter uses of an aiosqlite cursor, with the rows fetched in the one
    trip that executes the statement."""

    arraysize = 1

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.description: Description = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def __aenter__(self) -> Cursor:
        return self

    def __await__(self) -> Generator[Any, None, Cursor]:  # SQLAlchemy 2.0 awaits ``cursor()``
        return self.__aenter__().__await__()

    async def __aexit__(self, *_: object) -> None:
        return None

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Cursor:
        return await self._ran(self._connection.run(_run, False, sql, parameters))

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> Cursor:
        return await self._ran(self._connection.run(_run, True, sql, list(parameters)))

    async def _ran(self, trip: Awaitable[Ran]) -> Cursor:
        self.description, self.rowcount, self.lastrowid, self._rows = await trip
        return self

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        size = size or self.arraysize
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    async def close(self) -> None:
        self._rows = []


class Connection(aiosqlite.Connection):
    """An aiosqlite connection whose cursors make one trip per statement."""

    def cursor(self) -> Cursor:  # type: ignore[override]
        return Cursor(self)

    async def run(self, fn: Callable[..., Ran], *args: Any) -> Ran:
        ran: Ran = await self._execute(fn, self._conn, *args)  # type: ignore[no-untyped-call]
        return ran


def creator(url: str, **connect_args: Any) -> Callable[[], Awaitable[Connection]]:
    """The ``async_creator`` of an engine for ``url`` (a ``sqlite+aiosqlite`` URL): the driver's
    connection arguments as SQLAlchemy would derive them, and ``connect_args``."""
    args, kwargs = sa_aiosqlite.dialect().create_connect_args(sa.engine.make_url(url))
    kwargs.update(connect_args)
    connector = functools.partial(sqlite3.connect, *args, **kwargs)

    async def connect() -> Connection:
        connection = Connection(connector, iter_chunk_size=64)
        connection._thread.daemon = True  # as SQLAlchemy does: an unclosed one never blocks exit
        await connection
        return connection

    return connect

"""The database: URL handling, the async engine, transactions and SQLAlchemy error translation.

Writers go through :func:`write`, which runs a unit of work in one transaction and runs it again,
a bounded number of times, when PostgreSQL aborts it as a deadlock (SQLSTATE 40P01) or a
serialization failure (40001). A unit of work therefore only touches the database: no HTTP call,
no change outside the transaction that a second run would repeat.

Lock order. On PostgreSQL every transaction that writes takes its row locks in this one order,
so that no two of them ever wait on each other in a circle (rows a transaction inserts itself do
not count: nobody else sees them):

1. ``instances``: the instance row first (:func:`headwater.storage.instances.lock`). A change to
   the instance locks it ``FOR NO KEY UPDATE``, never ``FOR UPDATE``, which would also block the
   ``KEY SHARE`` lock that every insert of an event, delivery or poller of the instance takes on
   it through its foreign key; only deleting the instance takes ``FOR UPDATE``. A transaction
   that writes only rows beneath the instance and inserts some (a poll's outcome, a delivery's
   attempt) takes ``FOR KEY SHARE`` first, so that it never waits for a deletion of the
   instance while holding rows the deletion must wait for.
   A provider's webhook locks its instance ``FOR NO KEY UPDATE`` too (one webhook of an
   instance recorded at a time, so a message delivered twice at once is stored once).
2. ``pollers``: the instance's poller rows, in id order (a webhook's records lock their
   pollers' rows before reading the versions, as a poll's outcome does).
3. ``record_versions``: a poller's versions, after its row.
4. ``deliveries``: in id order, locked ``FOR NO KEY UPDATE`` before an attempt is inserted
   beneath one (whose foreign key takes a ``KEY SHARE`` lock on it that would otherwise have to
   be upgraded later).
5. ``attempts`` and ``events``: beneath their delivery.

Claims (``FOR NO KEY UPDATE SKIP LOCKED``) never wait for a lock, so they cannot close a circle.
SQLite serializes writers (``BEGIN IMMEDIATE``) and has no row locks to order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from headwater import metrics
from headwater.errors import ConfigurationError, StorageError
from headwater.storage import files, sqlite_driver

log = logging.getLogger(__name__)

T = TypeVar("T")

WRITE_ATTEMPTS = 5
"""How many times :func:`write` runs a unit of work that PostgreSQL keeps aborting."""
RETRY_BASE_SECONDS = 0.02
"""The first back-off before a unit of work runs again; it doubles, with full jitter."""

RETRYABLE = {"40P01": "deadlock", "40001": "serialization"}
"""SQLSTATEs after which a unit of work runs again, and their ``reason`` in the metrics."""

POOL_SIZE = 16
"""PostgreSQL connections kept open by default; :func:`make_engine` takes a larger one."""
POOL_OVERFLOW = 8
"""PostgreSQL connections opened beyond the pool at a peak, and closed after it."""
SQLITE_WRITER_WAIT = 30.0
"""How long a SQLite writer waits for the others of its process before it fails."""

# SQLite writers of one process queue here, in arrival order, rather than in SQLite's busy
# handler, which sleeps in growing steps while the lock is free again long before it wakes
_SQLITE_WRITERS: weakref.WeakKeyDictionary[AsyncEngine, asyncio.Lock] = weakref.WeakKeyDictionary()


def written_limit(limit: int) -> Any:
    """A ``LIMIT`` written into the statement's text instead of bound as a parameter.

    PostgreSQL plans a prepared statement once for any parameters (its generic plan): with the
    limit of ``UPDATE … WHERE id IN (SELECT … LIMIT :n)`` unknown it expects every row to match
    and scans the whole table for each claim. Written out, the plan probes by id."""
    return sa.literal(int(limit), literal_execute=True)


def written_limit_param(key: str) -> sa.BindParameter[int]:
    """:func:`written_limit` for a statement built once: the limit is given at each execution
    as the parameter ``key``, and still written into the text."""
    return sa.bindparam(key, type_=sa.Integer, literal_execute=True)


def async_url(url: str) -> str:
    """Map ``sqlite:///p`` and ``postgresql://…`` to their async drivers; accept those as given."""
    if url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        return url
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ConfigurationError(
        f"unsupported database URL {url!r}: use sqlite:///path or postgresql://user@host/db"
    )


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_path(url: str) -> Path | None:
    path = sa.engine.make_url(url).database
    return Path(path) if path and path != ":memory:" else None


def _on_sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # let SQLAlchemy, not the driver, emit BEGIN (see _on_sqlite_begin)
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _on_sqlite_begin(conn: sa.Connection) -> None:
    # writers take the lock up front so that concurrent writers queue on busy_timeout
    # instead of failing to upgrade a read lock
    immediate = conn.get_execution_options().get("immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str, *, pool_size: int = POOL_SIZE, **options: Any) -> AsyncEngine:
    """Create the engine for ``url``; creates the SQLite file (0600) and its folder (0700).
    Connects lazily.

    On PostgreSQL ``pool_size`` connections stay open (as many as the process runs units of work
    at once, so that none is opened and dropped per operation, losing its prepared statements),
    and a checked-out connection is not pinged first: a dead one fails its statement, which
    :class:`StorageError` reports and the next attempt, on a fresh connection, survives.
    """
    real = async_url(url)
    if is_sqlite(real):
        path = _sqlite_path(real)
        if path is not None:
            # SQLite gives its -wal and -shm files the mode of the database file
            files.private_file(path)
        connect = sqlite_driver.creator(real, timeout=30)
        engine = create_async_engine(real, async_creator=connect, **options)
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
        event.listen(engine.sync_engine, "begin", _on_sqlite_begin)
        return engine
    options.setdefault("pool_size", pool_size)
    options.setdefault("max_overflow", POOL_OVERFLOW)
    options.setdefault("pool_recycle", 3600)
    return create_async_engine(real, **options)


@contextlib.asynccontextmanager
async def translated() -> AsyncIterator[None]:
    """Translate SQLAlchemy and driver errors into :class:`StorageError`."""
    try:
        yield
    except exc.SQLAlchemyError as error:
        # the first line only: the rest is the SQL statement and a link to SQLAlchemy's docs
        first = str(error).strip().partition("\n")[0]
        raise StorageError(f"database error: {type(error).__name__}: {first}") from error
    except OSError as error:
        raise StorageError(f"database unreachable: {error}") from error


@contextlib.asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One transaction; commits on success, rolls back on error; storage errors translated.

    On SQLite the transaction starts with ``BEGIN IMMEDIATE``. Writers that take row locks use
    :func:`write`, which runs the unit of work again when PostgreSQL aborts it.
    """
    if engine.dialect.name == "sqlite":
        writers = _SQLITE_WRITERS.get(engine)
        if writers is None:
            writers = _SQLITE_WRITERS[engine] = asyncio.Lock()
        try:
            async with asyncio.timeout(SQLITE_WRITER_WAIT):
                await writers.acquire()
        except TimeoutError:
            raise StorageError(
                f"database is locked: other writers held it for {SQLITE_WRITER_WAIT:g} s"
            ) from None
        try:
            async with translated(), engine.connect() as conn:
                await conn.execution_options(immediate=True)
                async with conn.begin():
                    yield conn
        finally:
            writers.release()
        return
    async with translated(), engine.connect() as conn, conn.begin():
        yield conn


def retry_reason(error: BaseException) -> str | None:
    """``deadlock`` or ``serialization`` when ``error`` (or an error it came from) is PostgreSQL
    aborting a transaction that may simply run again; None otherwise."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for candidate in (current, getattr(current, "orig", None)):
            code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
            if isinstance(code, str) and code in RETRYABLE:
                return RETRYABLE[code]
        current = current.__cause__ or current.__context__
    return None


async def write(
    engine: AsyncEngine,
    work: Callable[[AsyncConnection], Awaitable[T]],
    *,
    attempts: int = WRITE_ATTEMPTS,
) -> T:
    """Run ``work`` in one transaction (see :func:`transaction`) and return what it returns.

    A run that PostgreSQL aborts as a deadlock or a serialization failure is rolled back and
    ``work`` runs again after a short jittered back-off, up to ``attempts`` runs in all; then
    :class:`StorageError`. Every other error propagates at once. ``work`` must be safe to run
    again: database statements only (see the module docstring).
    """
    for attempt in range(1, attempts + 1):
        try:
            async with transaction(engine) as conn:
                return await work(conn)
        except Exception as error:
            reason = retry_reason(error)
            if reason is None:
                raise
            metrics.TRANSACTION_RETRIES.labels(reason).inc()
            if attempt >= attempts:
                raise StorageError(
                    f"the database aborted a transaction {attempts} times in a row ({reason}); "
                    "try again"
                ) from error
            delay = random.uniform(0, RETRY_BASE_SECONDS * 2 ** (attempt - 1))
            log.info(
                "transaction aborted (%s), run %d of %d; again in %.3f s",
                reason,
                attempt,
                attempts,
                delay,
            )
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


@contextlib.asynccontextmanager
async def autocommit(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A PostgreSQL connection where each statement commits by itself: for a single-statement
    write off the hot path's transactions (one round trip, no BEGIN or COMMIT)."""
    async with translated(), engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


@contextlib.asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A read-only connection; storage errors translated. On PostgreSQL it reads in autocommit
    (each statement its own snapshot, no BEGIN and ROLLBACK round trips); on SQLite in a
    deferred transaction (one snapshot)."""
    async with translated(), engine.connect() as conn:
        if engine.dialect.name != "sqlite":
            await conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn

"""The database: URL handling, the async engine, and SQLAlchemy error translation."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from headwater.errors import ConfigurationError, StorageError


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


def make_engine(url: str, **options: Any) -> AsyncEngine:
    """Create the engine for ``url``; creates the SQLite file's folder. Connects lazily."""
    real = async_url(url)
    if is_sqlite(real):
        path = _sqlite_path(real)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(real, connect_args={"timeout": 30}, **options)
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
        event.listen(engine.sync_engine, "begin", _on_sqlite_begin)
        return engine
    options.setdefault("pool_size", 10)
    options.setdefault("max_overflow", 20)
    options.setdefault("pool_pre_ping", True)
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

    On SQLite the transaction starts with ``BEGIN IMMEDIATE``.
    """
    async with translated(), engine.connect() as conn:
        await conn.execution_options(immediate=True)
        async with conn.begin():
            yield conn


@contextlib.asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A read-only connection (a deferred transaction); storage errors translated."""
    async with translated(), engine.connect() as conn:
        yield conn

"""Fresh databases for tests: a SQLite file, or a PostgreSQL database cloned from a template.

PostgreSQL is used when reachable on 127.0.0.1:5432 (user postgres, trust auth) and required when
``CI=true``. The template is migrated once per test session; each test clones it.
"""

from __future__ import annotations

import itertools
import os
import uuid
from pathlib import Path

import asyncpg

PG_ADMIN = os.environ.get("HEADWATER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_BASE = PG_ADMIN.rsplit("/", 1)[0]
_TEMPLATE = f"hw_tpl_{uuid.uuid4().hex[:8]}"
_counter = itertools.count()
_template_ready = False
REQUIRED = os.environ.get("CI") == "true"


async def pg_available() -> bool:
    try:
        conn = await asyncpg.connect(PG_ADMIN, timeout=3)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def migrate(url: str) -> None:
    """Bring an empty database to the current schema (the migrations, as the server would)."""
    from headwater.storage import migrate as migrations

    await migrations.upgrade(url)


async def fresh_postgres() -> str:
    """A new, migrated PostgreSQL database; returns its URL."""
    global _template_ready
    if not _template_ready:
        await _admin(f'DROP DATABASE IF EXISTS "{_TEMPLATE}"')
        await _admin(f'CREATE DATABASE "{_TEMPLATE}"')
        await migrate(f"{PG_BASE}/{_TEMPLATE}")
        _template_ready = True
    name = f"hw_t_{os.getpid()}_{next(_counter)}"
    await _admin(f'DROP DATABASE IF EXISTS "{name}"')
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{_TEMPLATE}"')
    return f"{PG_BASE}/{name}"


async def drop_postgres(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def drop_template() -> None:
    if _template_ready:
        await _admin(f'DROP DATABASE IF EXISTS "{_TEMPLATE}" WITH (FORCE)')


async def fresh_sqlite(folder: Path) -> str:
    url = f"sqlite:///{folder / 'headwater.db'}"
    await migrate(url)
    return url

"""Schema migrations (Alembic), run on an async engine: upgrade, and "is it current?"."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from headwater.storage import db

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision the code knows."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None
    return revision


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade_engine(engine: AsyncEngine) -> None:
    """Apply every pending migration."""
    async with db.translated(), engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(_config(sync), "head"))


async def upgrade(url: str) -> None:
    """Apply every pending migration to the database at ``url``."""
    engine = db.make_engine(url)
    try:
        await upgrade_engine(engine)
    finally:
        await engine.dispose()


async def current(engine: AsyncEngine) -> str | None:
    """The database's revision, or None when it was never migrated."""
    async with db.reading(engine) as conn:
        return await conn.run_sync(_current)


async def is_current(engine: AsyncEngine) -> bool:
    return await current(engine) == head()

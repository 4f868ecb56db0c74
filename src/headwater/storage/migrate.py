"""Schema migrations (Alembic), run on an async engine: upgrade, and "is it current?"."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from headwater.storage import db

MIGRATIONS = Path(__file__).parent / "migrations"


Applied = Callable[[str, str], None]
"""Told of each migration as it is applied: its revision and its one-line description."""


def _config(connection: Connection | None = None, applied: Applied | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    if applied is not None:

        def on_version_apply(*, step: Any, **_: Any) -> None:
            applied(str(step.up_revision_id), (step.up_revision.doc or "").strip())

        config.attributes["on_version_apply"] = on_version_apply
    return config


def head() -> str:
    """The newest revision the code knows."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None
    return revision


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade_engine(
    engine: AsyncEngine, *, to: str = "head", applied: Applied | None = None
) -> None:
    """Apply every pending migration (up to revision ``to``); ``applied`` hears of each."""
    async with db.translated(), engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(_config(sync, applied), to))


async def upgrade(url: str, *, to: str = "head", applied: Applied | None = None) -> None:
    """Apply every pending migration to the database at ``url`` (up to revision ``to``);
    ``applied`` hears of each as it is applied."""
    engine = db.make_engine(url)
    try:
        await upgrade_engine(engine, to=to, applied=applied)
    finally:
        await engine.dispose()


def revisions() -> list[str]:
    """Every revision the code knows, oldest first."""
    script = ScriptDirectory.from_config(_config())
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


async def current(engine: AsyncEngine) -> str | None:
    """The database's revision, or None when it was never migrated."""
    async with db.reading(engine) as conn:
        return await conn.run_sync(_current)


async def is_current(engine: AsyncEngine) -> bool:
    return await current(engine) == head()

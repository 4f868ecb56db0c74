"""Alembic environment: runs migrations on the async engine given by ``migrate.upgrade``."""

from __future__ import annotations

from alembic import context

from headwater.storage import tables

config = context.config
target_metadata = tables.metadata


def run_migrations_online() -> None:
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        on_version_apply=config.attributes.get("on_version_apply"),
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `headwater db upgrade`")
run_migrations_online()

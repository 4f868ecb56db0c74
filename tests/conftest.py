"""Shared fixtures: a clean database per test, on SQLite and (when reachable) PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests import databases

pytest_plugins = [
    "tests.sandbox_fixtures",
    "tests.api_fixtures",
    "tests.mailchimp_fixtures",
    "tests.trace_support",
]

_pg_state: dict[str, bool] = {}


def _pg_ok() -> bool:
    if "ok" not in _pg_state:
        _pg_state["ok"] = asyncio.run(databases.pg_available())
    return _pg_state["ok"]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_kind(request: pytest.FixtureRequest) -> str:
    """Which database a storage or API test runs on; PostgreSQL is skipped only outside CI."""
    kind: str = request.param
    if kind == "postgresql" and not _pg_ok():
        if databases.REQUIRED:
            pytest.fail("PostgreSQL is required when CI=true but 127.0.0.1:5432 is unreachable")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    return kind


@pytest.fixture
async def db_url(db_kind: str, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a clean, migrated database."""
    if db_kind == "sqlite":
        yield await databases.fresh_sqlite(tmp_path)
        return
    url = await databases.fresh_postgres()
    try:
        yield url
    finally:
        await databases.drop_postgres(url)


@pytest.fixture(scope="session", autouse=True)
def _drop_pg_template() -> Iterator[None]:
    yield
    if _pg_state.get("ok"):
        asyncio.run(databases.drop_template())

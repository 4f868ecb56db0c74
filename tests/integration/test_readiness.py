"""/readyz tells the truth: 503 when the database cannot be written (read-only, locked past the
deadline, unreachable, hanging), 200 again once it can; never an error text, host or port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from headwater.storage import db
from tests import databases
from tests.api_fixtures import RunningApi

_VERSION = sa.table("alembic_version", sa.column("version_num"))
DEADLINE = 1.0  # the ready_timeout_seconds these tests run with


@contextlib.asynccontextmanager
async def _pointed_at(api: RunningApi, engine: AsyncEngine) -> AsyncIterator[None]:
    """The running API's container uses ``engine`` for the block."""
    original = api.container.engine
    api.container.engine = engine
    try:
        yield
    finally:
        api.container.engine = original
        await engine.dispose()


@contextlib.contextmanager
def _closed_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    yield port


async def _ready(api: RunningApi) -> tuple[int, dict[str, object], str]:
    started = time.monotonic()
    reply = await api.call("GET", "/readyz")
    assert time.monotonic() - started < DEADLINE + 3, "readiness took longer than its deadline"
    return reply.status, reply.json, reply.text


async def _until_ready(api: RunningApi) -> None:
    deadline = time.monotonic() + 40
    while (await api.call("GET", "/readyz")).status != 200:
        assert time.monotonic() < deadline, "never ready again"
        await asyncio.sleep(0.05)


@pytest.mark.api(ready_timeout_seconds=DEADLINE)
async def test_a_read_only_sqlite_database_is_not_ready(api: RunningApi, tmp_path: Path) -> None:
    path = tmp_path / "readonly.db"
    await databases.migrate(f"sqlite:///{path}")
    read_only = create_async_engine(f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true")
    async with _pointed_at(api, read_only):
        status, body, _ = await _ready(api)
    assert status == 503
    assert body == {"status": "unavailable", "database": "not writable"}
    if os.geteuid() != 0:  # file modes do not bind root
        path.chmod(0o444)
        async with _pointed_at(api, db.make_engine(f"sqlite:///{path}")):
            status, body, _ = await _ready(api)
        assert (status, body["database"]) == (503, "not writable")
    assert (await api.call("GET", "/readyz")).status == 200  # the API's own database


@pytest.mark.api(ready_timeout_seconds=DEADLINE)
async def test_a_database_locked_past_the_deadline_is_not_ready_until_released(
    api: RunningApi,
) -> None:
    assert (await api.call("GET", "/readyz")).status == 200
    async with api.container.engine.connect() as holder:
        await holder.execution_options(immediate=True)
        async with holder.begin():
            await holder.execute(sa.update(_VERSION).values(version_num=_VERSION.c.version_num))
            status, body, _ = await _ready(api)
            assert status == 503
            assert body == {"status": "unavailable", "database": "not writable"}
            await holder.rollback()
    await _until_ready(api)


@pytest.mark.api(ready_timeout_seconds=DEADLINE)
async def test_an_unreachable_postgresql_is_503_without_host_port_or_error_text(
    api: RunningApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="headwater.api.routes.health")
    with _closed_port() as port:
        engine = db.make_engine(f"postgresql://postgres@127.0.0.1:{port}/headwater")
        async with _pointed_at(api, engine):
            status, body, text = await _ready(api)
    assert status == 503
    assert body == {"status": "unavailable", "database": "unreachable"}
    for secret in ("127.0.0.1", str(port), "postgres", "refused", "Errno"):
        assert secret not in text
    assert any(str(port) in r.getMessage() or "refused" in r.getMessage() for r in caplog.records)
    assert (await api.call("GET", "/readyz")).status == 200


@pytest.mark.api(ready_timeout_seconds=DEADLINE)
async def test_a_database_that_never_answers_is_503_within_the_deadline(api: RunningApi) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections are accepted by the kernel, and never answered
    port = silent.getsockname()[1]
    try:
        engine = db.make_engine(f"postgresql://postgres@127.0.0.1:{port}/headwater")
        async with _pointed_at(api, engine):
            answers = await asyncio.gather(*(_ready(api) for _ in range(3)))
    finally:
        silent.close()
    for status, body, _ in answers:
        assert status == 503
        assert body == {"status": "unavailable", "database": "unreachable"}


async def test_authentication_with_the_database_down_is_503_without_its_error_text(
    api: RunningApi,
) -> None:
    auth = await api.create_user()
    with _closed_port() as port:
        engine = db.make_engine(f"postgresql://postgres@127.0.0.1:{port}/headwater")
        async with _pointed_at(api, engine):
            posted = await api.call("POST", "instances", auth=auth, json={"name": "x"})
            listed = await api.call("GET", "instances", auth=auth)
    for reply in (posted, listed):
        assert reply.status == 503, reply.text
        assert reply.json["message"] == "The database is unavailable; try again shortly."
        for secret in ("127.0.0.1", str(port), "refused", "Errno"):
            assert secret not in reply.text
    assert (await api.call("GET", "instances", auth=auth)).status == 200

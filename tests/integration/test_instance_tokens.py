"""Provider tokens: refreshed when about to expire, once however many processes ask, and a
refused refresh marks the instance invalid with the provider's message."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from headwater import bootstrap
from headwater.errors import ProviderRefusal
from headwater.storage import tables
from tests.api_fixtures import RunningApi, api_settings


async def _stored(api: RunningApi, instance_id: int) -> dict[str, Any]:
    async with api.container.engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(tables.instances).where(tables.instances.c.id == instance_id)
            )
        ).one()
    return {
        **api.container.secrets.open(row.provider_tokens),
        "valid": row.valid,
        "reason": row.invalid_reason,
        "lease": row.refresh_lease_owner,
    }


async def _expire_soon(api: RunningApi, instance_id: int) -> None:
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=10)
    async with api.container.engine.begin() as conn:
        await conn.execute(
            sa.update(tables.instances)
            .where(tables.instances.c.id == instance_id)
            .values(token_expires_at=soon)
        )


def _refresh_grants(api: RunningApi) -> int:
    return int(api.sandbox.state.tokens.grants["refresh_token"])


async def test_current_refreshes_a_token_about_to_expire(api: RunningApi) -> None:
    created = await api.create_instance()
    tokens = api.container.connections.tokens(created["id"])
    before = await _stored(api, created["id"])
    assert await tokens.current() == before["access_token"]
    assert _refresh_grants(api) == 0
    await _expire_soon(api, created["id"])
    fresh = await tokens.current()
    after = await _stored(api, created["id"])
    assert fresh == after["access_token"] != before["access_token"]
    assert after["refresh_token"] != before["refresh_token"]
    assert after["lease"] is None
    assert _refresh_grants(api) == 1
    assert await tokens.current() == fresh
    assert api.sandbox.state.tokens.account_for(fresh) is not None


async def test_refreshed_skips_when_another_already_refreshed(api: RunningApi) -> None:
    created = await api.create_instance()
    tokens = api.container.connections.tokens(created["id"])
    old = await tokens.current()
    new = await tokens.refreshed(old)
    assert new != old and _refresh_grants(api) == 1
    assert await tokens.refreshed(old) == new
    assert _refresh_grants(api) == 1


async def test_refused_refresh_marks_the_instance_invalid(api: RunningApi) -> None:
    auth = await api.create_user()
    created = await api.create_instance(auth=auth)
    tokens = api.container.connections.tokens(created["id"])
    old = await tokens.current()
    api.sandbox.state.tokens.revoke_refresh()
    with pytest.raises(ProviderRefusal) as caught:
        await tokens.refreshed(old)
    assert caught.value.provider_message == "invalid_grant: Unknown or invalid refresh token."
    stored = await _stored(api, created["id"])
    assert stored["valid"] is False and stored["lease"] is None
    shown = (await api.call("GET", f"instances/{created['id']}", auth=auth)).json
    assert shown["valid"] is False
    assert "invalid_grant" in shown["invalidReason"]
    # until re-authenticated, no further refresh is attempted
    with pytest.raises(ProviderRefusal):
        await tokens.refreshed(old)
    assert api.sandbox.state.tokens.refusals["refresh_token"] == 1
    body = api.docs_body(await api.authorize_code())
    body["configuration"]["oauth.api.secret"] = "********"
    again = await api.call("PUT", f"instances/{created['id']}", auth=auth, json=body)
    assert again.status == 200 and again.json["valid"] is True
    assert await tokens.current() != old


async def test_concurrent_refreshers_spend_the_refresh_token_once(
    api: RunningApi, tmp_path: Path
) -> None:
    """Four containers (own engines and node ids, as four processes would be) refresh at once."""
    created = await api.create_instance()
    old = await api.container.connections.tokens(created["id"]).current()
    # a slow token endpoint widens the window in which a second refresh could slip in
    api.sandbox.state.faults.add({"kind": "latency", "path": "/token", "delay": 0.3})
    settings = api_settings(api.settings.database_url, api.sandbox, tmp_path / "data")
    async with contextlib.AsyncExitStack() as stack:
        containers = [
            await stack.enter_async_context(bootstrap.container(settings, loops=False))
            for _ in range(4)
        ]
        assert len({c.node_id for c in containers}) == 4
        results = await asyncio.gather(
            *(c.connections.tokens(created["id"]).refreshed(old) for c in containers)
        )
    assert len(set(results)) == 1 and results[0] != old
    assert _refresh_grants(api) == 1
    assert api.sandbox.state.tokens.refusals["refresh_token"] == 0
    assert (await _stored(api, created["id"]))["access_token"] == results[0]

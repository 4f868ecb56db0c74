"""The element catalog, the OAuth URL helper, health, readiness and the OpenAPI docs."""

from __future__ import annotations

import asyncio
import time
import urllib.parse

import pytest
import sqlalchemy as sa

from headwater.storage import tables
from tests.api_fixtures import RunningApi


async def test_catalog(api: RunningApi) -> None:
    auth = await api.create_user()
    listed = await api.call("GET", "elements", auth=auth)
    assert [e["key"] for e in listed.json] == ["acton", "mailchimp"]
    acton = (await api.call("GET", "elements/acton", auth=auth)).json
    assert acton["hubs"] == ["marketing"]
    assert acton["events"]["methods"] == ["polling", "webhooks"]
    contacts = acton["events"]["defaultPollerConfiguration"]["contacts"]
    assert contacts["datesConfiguration"]["updatedDateFormat"] == "milliseconds"
    assert (await api.call("GET", "elements/nope", auth=auth)).status == 404
    assert (await api.call("GET", "elements")).status == 401


async def test_oauth_url_leads_to_the_sandbox_authorize_page(api: RunningApi) -> None:
    auth = await api.create_user()
    reply = await api.call(
        "GET",
        "elements/acton/oauth/url",
        auth=auth,
        params={
            "apiKey": api.sandbox.client_id,
            "apiSecret": api.sandbox.client_secret,
            "callbackUrl": "https://app.example.com/callback",
            "state": "xyz",
        },
    )
    assert reply.status == 200
    assert reply.json["element"] == "acton"
    url = reply.json["oauthUrl"]
    assert url.startswith(api.sandbox.url + "/authorize?")
    assert api.sandbox.client_secret not in url
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert query["state"] == "xyz" and query["redirect_uri"] == "https://app.example.com/callback"
    async with api.http.get(url) as page:
        assert page.status == 200
        assert "Approve" in await page.text()
    missing = await api.call("GET", "elements/acton/oauth/url", auth=auth)
    assert missing.status == 400
    assert {e["field"] for e in missing.json["errors"]} == {"apiKey", "callbackUrl"}


async def test_health_and_readiness(api: RunningApi) -> None:
    assert (await api.call("GET", "/healthz")).json == {"status": "ok"}
    ready = await api.call("GET", "/readyz")
    assert ready.status == 200 and ready.json["status"] == "ok"
    async with api.container.engine.begin() as conn:
        await conn.execute(sa.text("UPDATE alembic_version SET version_num = 'old'"))
    stale = await api.call("GET", "/readyz")
    assert stale.status == 503
    assert stale.json["migrations"] == "old"


async def test_openapi_and_docs(api: RunningApi) -> None:
    spec = (await api.call("GET", "/openapi.json")).json
    assert "/elements/api-v2/instances" in spec["paths"]
    paths = spec["paths"]
    assert "/elements/api-v2/instances/{instance_id}/configuration/{configuration_id}" in paths
    assert "/elements/api-v2/instances/configuration/{configuration_id}" in paths
    assert "/elements/api-v2/elements/{key}/metadata" in paths
    docs = await api.call("GET", "/docs")
    assert docs.status == 200 and "swagger" in docs.text.lower()
    metrics = await api.call("GET", "/metrics")
    assert metrics.status == 200


@pytest.mark.api(loops=True, tick_seconds=0.05)
async def test_fixture_runs_the_background_loops_when_asked(api: RunningApi) -> None:
    assert len(api.container.loops) == 2
    created = await api.create_instance()
    deadline = time.monotonic() + 20
    while True:
        async with api.container.engine.connect() as conn:
            ran = await conn.scalar(
                sa.select(tables.pollers.c.last_run_at).where(
                    tables.pollers.c.instance_id == created["id"]
                )
            )
        if ran is not None:
            break
        assert time.monotonic() < deadline, "the poller never ran"
        await asyncio.sleep(0.05)


async def test_fixture_leaves_loops_off_by_default(api: RunningApi) -> None:
    assert api.container.loops == []

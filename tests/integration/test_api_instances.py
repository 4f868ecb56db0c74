"""The instances API end to end: the real app on uvicorn, the sandbox's OAuth, both databases."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from headwater.storage import tables
from tests.api_fixtures import RunningApi

MASK = "********"


async def _count(api: RunningApi, table: sa.Table) -> int:
    async with api.container.engine.connect() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


async def test_create_with_the_docs_body(api: RunningApi) -> None:
    created = await api.create_instance()
    assert set(created) >= {
        "id", "name", "token", "element", "tags", "valid", "disabled", "eventsEnabled",
        "configuration", "createdDate",
    }  # fmt: skip
    assert {k: created["element"][k] for k in ("key", "name")} == {"key": "acton", "name": "Act-On"}
    assert isinstance(created["element"]["id"], int)
    assert created["tags"] == ["Docs"]
    assert created["name"] == "API Instance with Polling"
    assert (created["valid"], created["disabled"], created["eventsEnabled"]) == (True, False, True)
    config = created["configuration"]
    assert config["oauth.api.secret"] == MASK
    assert config["event.notification.signature.key"].startswith("whsec_")
    assert config["event.poller.refresh_interval"] == 15
    assert config["event.poller.configuration"]["contacts"]["idField"] == "_contact_id_"
    assert created["createdDate"].endswith("Z") and len(created["createdDate"]) == 24
    assert api.sandbox.state.tokens.grants["authorization_code"] == 1
    async with api.container.engine.connect() as conn:
        pollers = (await conn.execute(sa.select(tables.pollers))).all()
    assert [(p.instance_id, p.resource) for p in pollers] == [(created["id"], "contacts")]


async def test_secrets_are_stored_encrypted_and_token_hashed(api: RunningApi) -> None:
    created = await api.create_instance()
    async with api.container.engine.connect() as conn:
        row = (await conn.execute(sa.select(tables.instances))).one()
    stored = f"{row.configuration} {row.secrets} {row.provider_tokens} {row.token_hash}"
    assert api.sandbox.client_secret not in stored
    assert created["configuration"]["event.notification.signature.key"] not in stored
    assert created["token"] not in stored
    assert "oauth.api.secret" not in row.configuration
    opened = api.container.secrets.open(row.secrets)
    assert opened["oauth.api.secret"] == api.sandbox.client_secret
    assert set(api.container.secrets.open(row.provider_tokens)) == {"access_token", "refresh_token"}


async def test_read_masks_every_secret_and_hides_the_token(api: RunningApi) -> None:
    auth = await api.create_user()
    created = await api.create_instance(
        {"event.vendor.signature.key": "vendor-signature-key-1234"}, auth=auth
    )
    got = (await api.call("GET", f"instances/{created['id']}", auth=auth)).json
    assert "token" not in got
    for key in (
        "oauth.api.secret",
        "event.notification.signature.key",
        "event.vendor.signature.key",
    ):
        assert got["configuration"][key] == MASK
    assert created["configuration"]["event.vendor.signature.key"] == MASK


async def test_list_pages_with_next_page_token(api: RunningApi) -> None:
    auth = await api.create_user()
    ids = [(await api.create_instance(auth=auth, name=f"i{n}"))["id"] for n in range(3)]
    first = await api.call("GET", "instances?pageSize=2", auth=auth)
    assert first.status == 200
    assert [i["id"] for i in first.json] == ids[:2]
    token = first.headers["Elements-Next-Page-Token"]
    second = await api.call(
        "GET", "instances", auth=auth, params={"pageSize": 2, "nextPage": token}
    )
    assert [i["id"] for i in second.json] == ids[2:]
    assert "Elements-Next-Page-Token" not in second.headers
    everything = await api.call("GET", "instances", auth=auth)
    assert [i["id"] for i in everything.json] == ids
    for bad in ({"pageSize": 0}, {"pageSize": 1001}, {"nextPage": "garbage!"}):
        reply = await api.call("GET", "instances", auth=auth, params=bad)
        assert reply.status == 400, bad
        assert reply.json["errors"][0]["field"] == next(iter(bad))


async def test_patch_merges_configuration(api: RunningApi) -> None:
    auth = await api.create_user()
    created = await api.create_instance(auth=auth)
    path = f"instances/{created['id']}"
    reply = await api.call(
        "PATCH",
        path,
        auth=auth,
        json={
            "name": "renamed",
            "tags": ["a", "b"],
            "configuration": {
                "event.poller.refresh_interval": 5,
                "oauth.api.secret": MASK,
                "event.notification.callback.url": None,
                "event.notification.enabled": False,
            },
        },
    )
    assert reply.status == 200, reply.text
    body = reply.json
    assert (body["name"], body["tags"], body["eventsEnabled"]) == ("renamed", ["a", "b"], False)
    assert body["configuration"]["event.poller.refresh_interval"] == 5
    assert "event.notification.callback.url" not in body["configuration"]
    assert body["configuration"]["oauth.api.secret"] == MASK
    async with api.container.engine.connect() as conn:
        row = (await conn.execute(sa.select(tables.instances))).one()
    assert api.container.secrets.open(row.secrets)["oauth.api.secret"] == api.sandbox.client_secret
    assert row.events_enabled is False


async def test_patch_validates_like_create(api: RunningApi) -> None:
    auth = await api.create_user()
    created = await api.create_instance(auth=auth)
    reply = await api.call(
        "PATCH",
        f"instances/{created['id']}",
        auth=auth,
        json={"configuration": {"event.poller.refresh_interval": "abc", "event.nope": 1}},
    )
    assert reply.status == 400
    fields = {e["field"] for e in reply.json["errors"]}
    assert fields == {
        "configuration.event.poller.refresh_interval",
        "configuration.event.nope",
    }
    unchanged = await api.call("GET", f"instances/{created['id']}", auth=auth)
    assert unchanged.json["configuration"]["event.poller.refresh_interval"] == 15


async def test_configuration_endpoints(api: RunningApi) -> None:
    auth = await api.create_user()
    created = await api.create_instance(auth=auth)
    base = f"instances/{created['id']}/configuration"
    items = (await api.call("GET", base, auth=auth)).json
    by_key = {i["key"]: i["propertyValue"] for i in items}
    assert by_key["oauth.api.secret"] == MASK
    assert by_key["event.vendor.type"] == "polling"
    one = await api.call("GET", f"{base}/event.vendor.type", auth=auth)
    assert one.json == {"id": 5, "key": "event.vendor.type", "propertyValue": "polling"}
    missing = await api.call("GET", f"{base}/no.such.key", auth=auth)
    assert missing.status == 404
    patched = await api.call(
        "PATCH",
        f"{base}/event.notification.callback.url",
        auth=auth,
        json={"propertyValue": "https://other.example.com/hook"},
    )
    assert patched.json == {
        "id": 6,
        "key": "event.notification.callback.url",
        "propertyValue": "https://other.example.com/hook",
    }
    bad = await api.call(
        "PATCH", f"{base}/event.poller.refresh_interval", auth=auth, json={"propertyValue": "abc"}
    )
    assert bad.status == 400
    assert bad.json["errors"][0]["field"] == "configuration.event.poller.refresh_interval"
    removed = await api.call(
        "PATCH", f"{base}/event.poller.refresh_interval", auth=auth, json={"propertyValue": None}
    )
    assert removed.status == 200
    whole = await api.call("PATCH", base, auth=auth, json={"event.poller.refresh_interval": "2.5"})
    assert {"id": 8, "key": "event.poller.refresh_interval", "propertyValue": 2.5} in whole.json


async def test_enable_and_disable(api: RunningApi) -> None:
    auth = await api.create_user()
    created = await api.create_instance(auth=auth)
    path = f"instances/{created['id']}/enabled"
    disabled = await api.call("DELETE", path, auth=auth)
    assert disabled.status == 200 and disabled.json["disabled"] is True
    got = await api.call("GET", f"instances/{created['id']}", auth=auth)
    assert got.json["disabled"] is True
    enabled = await api.call("PUT", path, auth=auth)
    assert enabled.json["disabled"] is False


async def test_put_replaces_and_reauthenticates(api: RunningApi) -> None:
    auth = await api.create_user()
    created = await api.create_instance(auth=auth)
    path = f"instances/{created['id']}"
    async with api.container.engine.begin() as conn:
        await conn.execute(
            sa.update(tables.instances).values(valid=False, invalid_reason="invalid_grant: gone")
        )
    invalid = await api.call("GET", path, auth=auth)
    assert invalid.json["valid"] is False
    assert invalid.json["invalidReason"] == "invalid_grant: gone"
    body = api.docs_body(
        await api.authorize_code(), {"oauth.api.secret": MASK, "event.notification.enabled": False}
    )
    body["name"] = "replaced"
    body["tags"] = []
    reply = await api.call("PUT", path, auth=auth, json=body)
    assert reply.status == 200, reply.text
    assert (reply.json["valid"], reply.json["name"], reply.json["tags"]) == (True, "replaced", [])
    assert reply.json["eventsEnabled"] is False
    assert "invalidReason" not in reply.json
    assert api.sandbox.state.tokens.grants["authorization_code"] == 2
    # without a code, PUT replaces and keeps the tokens
    del body["providerData"]
    body["configuration"].pop("event.poller.configuration")
    again = await api.call("PUT", path, auth=auth, json=body)
    assert again.status == 200, again.text
    assert "event.poller.configuration" not in again.json["configuration"]
    assert api.sandbox.state.tokens.grants["authorization_code"] == 2
    wrong = await api.call("PUT", path, auth=auth, json={**body, "element": {"key": "other"}})
    assert wrong.status == 400 and wrong.json["errors"][0]["field"] == "element.key"


async def test_delete_cascades(api: RunningApi) -> None:
    auth = await api.create_user()
    created = await api.create_instance(auth=auth)
    now = sa.func.now()
    async with api.container.engine.begin() as conn:
        delivery = await conn.scalar(
            sa.insert(tables.deliveries)
            .values(
                notification_id="msg_1", instance_id=created["id"], kind="events", url="u",
                body="{}", status="created", attempt_count=0, created_at=now, updated_at=now,
            )
            .returning(tables.deliveries.c.id)
        )  # fmt: skip
        await conn.execute(
            sa.insert(tables.events).values(
                instance_id=created["id"], element_key="acton", hub_key="marketing",
                object_type="contacts", object_id="l-1:1", event_type="CREATED", date=now,
                poll_date=now, status="NEW", delivery_id=delivery, raw={},
            )
        )  # fmt: skip
    assert await _count(api, tables.events) == 1
    reply = await api.call("DELETE", f"instances/{created['id']}", auth=auth)
    assert reply.status == 200
    assert (await api.call("GET", f"instances/{created['id']}", auth=auth)).status == 404
    for table in (tables.instances, tables.pollers, tables.events, tables.deliveries):
        assert await _count(api, table) == 0, table.name
    assert (await api.call("DELETE", f"instances/{created['id']}", auth=auth)).status == 404


async def test_provider_refusal_is_422_and_leaves_nothing(api: RunningApi) -> None:
    auth = await api.create_user()
    wrong_secret = await api.create_instance(
        {"oauth.api.secret": "not-the-secret"}, auth=auth, expect=422
    )
    assert wrong_secret["providerMessage"] == "access_denied: Unauthorized"
    reused = api.docs_body("no-such-code")
    reply = await api.call("POST", "instances", auth=auth, json=reused)
    assert reply.status == 422
    assert "invalid_grant" in reply.json["providerMessage"]
    assert await _count(api, tables.instances) == 0
    assert (await api.call("GET", "instances", auth=auth)).json == []


@pytest.mark.api(element_settings={"HEADWATER_ACTON_BASE_URL": "http://127.0.0.1:1"})
async def test_unreachable_provider_is_502(api: RunningApi) -> None:
    auth = await api.create_user()
    reply = await api.call("POST", "instances", auth=auth, json=api.docs_body("a-code"))
    assert reply.status == 502, reply.text
    assert reply.json["requestId"].startswith("req_")
    assert await _count(api, tables.instances) == 0

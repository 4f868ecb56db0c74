"""The calls Cloud Elements clients make: token-scoped instances, configuration items by id,
element metadata, events by instance, disabled pollers and subscriptions. Both databases."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
import sqlalchemy as sa

from headwater.storage import tables
from tests import delivery_support as support
from tests.api_fixtures import RunningApi

MASK = "********"
SIGNATURE_KEY = "event.notification.signature.key"


def _element(auth: str, token: str) -> str:
    return f"{auth}, Element {token}"


def _q(where: str) -> str:
    return urllib.parse.quote(where)


async def _stored_secrets(api: RunningApi, instance_id: int) -> dict[str, Any]:
    async with api.container.engine.connect() as conn:
        sealed = await conn.scalar(
            sa.select(tables.instances.c.secrets).where(tables.instances.c.id == instance_id)
        )
    opened = api.container.secrets.open(sealed)
    assert isinstance(opened, dict)
    return opened


async def test_token_scoped_calls_act_on_the_tokens_instance(api: RunningApi) -> None:
    auth = await api.create_user()
    other = await api.create_instance(auth=auth, name="other")
    created = await api.create_instance(auth=auth, name="mine")
    scoped = _element(auth, created["token"])

    listed = await api.call("GET", "instances", auth=auth)
    assert [i["id"] for i in listed.json] == [other["id"], created["id"]]
    one = await api.call("GET", "instances", auth=scoped)
    assert one.status == 200, one.text
    assert one.json["id"] == created["id"] and one.json["name"] == "mine"
    assert "token" not in one.json

    patched = await api.call("PATCH", "instances", auth=scoped, json={"name": "renamed"})
    assert patched.status == 200, patched.text
    assert patched.json["name"] == "renamed"
    names = [i["name"] for i in (await api.call("GET", "instances", auth=auth)).json]
    assert names == ["other", "renamed"]

    disabled = await api.call("DELETE", "instances/enabled", auth=scoped)
    assert disabled.status == 200 and disabled.json["disabled"] is True
    assert (await api.call("GET", f"instances/{created['id']}", auth=auth)).json["disabled"]
    assert (await api.call("GET", f"instances/{other['id']}", auth=auth)).json["disabled"] is False
    enabled = await api.call("PUT", "instances/enabled", auth=scoped)
    assert enabled.status == 200 and enabled.json["disabled"] is False

    items = await api.call("GET", "instances/configuration", auth=scoped)
    assert items.status == 200, items.text
    by_key = {i["key"]: i for i in items.json}
    assert by_key["event.vendor.type"]["propertyValue"] == "polling"
    assert by_key["oauth.api.secret"]["propertyValue"] == MASK
    vendor_id = by_key["event.vendor.type"]["id"]
    by_id = await api.call("GET", f"instances/configuration/{vendor_id}", auth=scoped)
    assert by_id.json == {"id": vendor_id, "key": "event.vendor.type", "propertyValue": "polling"}
    callback_id = by_key["event.notification.callback.url"]["id"]
    moved = await api.call(
        "PATCH",
        f"instances/configuration/{callback_id}",
        auth=scoped,
        json={"propertyValue": "https://moved.example.com/hook"},
    )
    assert moved.status == 200, moved.text
    assert moved.json == {
        "id": callback_id,
        "key": "event.notification.callback.url",
        "propertyValue": "https://moved.example.com/hook",
    }
    by_key_path = await api.call(
        "GET", "instances/configuration/event.notification.callback.url", auth=scoped
    )
    assert by_key_path.json["propertyValue"] == "https://moved.example.com/hook"
    untouched = await api.call("GET", f"instances/{other['id']}/configuration", auth=auth)
    assert {"id": callback_id, "key": "event.notification.callback.url",
            "propertyValue": "https://app.example.com/events"} in untouched.json  # fmt: skip

    body = api.docs_body("unused", {"oauth.api.secret": MASK})
    del body["providerData"]
    body["name"] = "replaced"
    replaced = await api.call("PUT", "instances", auth=scoped, json=body)
    assert replaced.status == 200, replaced.text
    assert replaced.json["name"] == "replaced" and replaced.json["id"] == created["id"]

    deleted = await api.call("DELETE", "instances", auth=scoped)
    assert deleted.status == 200, deleted.text
    assert (await api.call("GET", f"instances/{created['id']}", auth=auth)).status == 404
    assert (await api.call("GET", f"instances/{other['id']}", auth=auth)).status == 200
    gone = await api.call("GET", "instances", auth=scoped)
    assert gone.status == 401


@pytest.mark.api(auth_failure_limit=0)  # 24 failures on purpose: more than the throttle allows
async def test_token_scoped_calls_need_the_right_element_token(api: RunningApi) -> None:
    auth = await api.create_user()
    created = await api.create_instance(auth=auth)
    stranger = await api.create_user("Other")
    calls = [
        ("PATCH", "instances", {"name": "x"}),
        ("PUT", "instances", api.docs_body("unused")),
        ("DELETE", "instances", None),
        ("PUT", "instances/enabled", None),
        ("DELETE", "instances/enabled", None),
        ("GET", "instances/configuration", None),
        ("GET", "instances/configuration/event.vendor.type", None),
        ("PATCH", "instances/configuration/event.vendor.type", {"propertyValue": "polling"}),
    ]
    for method, path, body in calls:
        missing = await api.call(method, path, auth=auth, json=body)
        assert missing.status == 401, (method, path, missing.text)
        assert "Element token" in missing.json["message"]
        wrong = await api.call(method, path, auth=_element(auth, "not-a-token"), json=body)
        assert wrong.status == 401, (method, path, wrong.text)
        # a real token, but of another organization's instance
        foreign = await api.call(method, path, auth=_element(stranger, created["token"]), json=body)
        assert foreign.status == 401, (method, path, foreign.text)
    assert (await api.call("GET", "instances", auth=_element(auth, "nope"))).status == 401
    still = await api.call("GET", f"instances/{created['id']}", auth=auth)
    assert still.status == 200 and still.json["disabled"] is False


async def test_configuration_items_have_stable_numeric_ids(api: RunningApi) -> None:
    auth = await api.create_user()
    first = await api.create_instance(auth=auth, configuration_overrides={"site.id": "s-1"})
    second = await api.create_instance(auth=auth)
    base = f"instances/{first['id']}/configuration"
    items = (await api.call("GET", base, auth=auth)).json
    ids = {i["key"]: i["id"] for i in items}
    assert len(set(ids.values())) == len(ids)
    assert ids["oauth.api.key"] == 1 and ids["event.vendor.type"] == 5
    assert ids["site.id"] >= 1000  # an element's own key: derived from the key, above the catalogue
    others = (await api.call("GET", f"instances/{second['id']}/configuration", auth=auth)).json
    assert {i["key"]: i["id"] for i in others}.items() <= ids.items()

    own = await api.call("GET", f"{base}/{ids['site.id']}", auth=auth)
    assert own.json == {"id": ids["site.id"], "key": "site.id", "propertyValue": "s-1"}
    interval = ids["event.poller.refresh_interval"]
    set_by_id = await api.call(
        "PATCH", f"{base}/{interval}", auth=auth, json={"propertyValue": "2.5"}
    )
    assert set_by_id.status == 200, set_by_id.text
    assert set_by_id.json == {
        "id": interval,
        "key": "event.poller.refresh_interval",
        "propertyValue": 2.5,
    }
    # a known key not set yet can be set by its id; it keeps that id
    finder_id = 12  # its place in the catalogue of known keys
    assert finder_id not in ids.values()
    added = await api.call(
        "PATCH", f"{base}/{finder_id}", auth=auth, json={"propertyValue": "site.id|data.site_id"}
    )
    assert added.status == 200, added.text
    assert added.json["key"] == "event.notification.instance.finder"
    assert (await api.call("GET", f"{base}/{finder_id}", auth=auth)).json["id"] == finder_id

    for unknown in ("999999", "no.such.key"):
        for method, body in (("GET", None), ("PATCH", {"propertyValue": "x"})):
            reply = await api.call(method, f"{base}/{unknown}", auth=auth, json=body)
            assert reply.status == 404, (method, unknown, reply.text)
            assert repr(unknown) in reply.json["message"]
    not_set = await api.call("GET", f"{base}/{finder_id + 1}", auth=auth)
    assert not_set.status == 404 and str(finder_id + 1) in not_set.json["message"]
    bad = await api.call("PATCH", f"{base}/{interval}", auth=auth, json={"propertyValue": "soon"})
    assert bad.status == 400
    assert bad.json["errors"][0]["field"] == "configuration.event.poller.refresh_interval"


async def test_notification_type_webhook_is_accepted_and_nothing_else(api: RunningApi) -> None:
    auth = await api.create_user()
    created = await api.create_instance({"event.notification.type": "webhook"}, auth=auth)
    assert created["configuration"]["event.notification.type"] == "webhook"
    refused = await api.create_instance({"event.notification.type": "email"}, auth=auth, expect=400)
    assert refused["errors"][0]["field"] == "configuration.event.notification.type"
    assert "webhook" in refused["errors"][0]["problem"]
    item = f"instances/{created['id']}/configuration/event.notification.type"
    bad = await api.call("PATCH", item, auth=auth, json={"propertyValue": 3})
    assert bad.status == 400
    assert bad.json["errors"][0]["field"] == "configuration.event.notification.type"
    assert (await api.call("GET", item, auth=auth)).json["propertyValue"] == "webhook"


async def test_put_keeps_the_signature_key_unless_it_names_one(api: RunningApi) -> None:
    auth = await api.create_user()
    created = await api.create_instance(auth=auth)
    key = created["configuration"][SIGNATURE_KEY]
    assert key.startswith("whsec_")
    body = api.docs_body("unused", {"oauth.api.secret": MASK})
    del body["providerData"]
    path = f"instances/{created['id']}"
    kept = await api.call("PUT", path, auth=auth, json=body)
    assert kept.status == 200, kept.text
    assert kept.json["configuration"][SIGNATURE_KEY] == MASK  # not generated, so not shown
    assert (await _stored_secrets(api, created["id"]))[SIGNATURE_KEY] == key

    body["configuration"][SIGNATURE_KEY] = "a-new-signature-key-of-mine"
    changed = await api.call("PUT", "instances", auth=_element(auth, created["token"]), json=body)
    assert changed.status == 200, changed.text
    stored = await _stored_secrets(api, created["id"])
    assert stored[SIGNATURE_KEY] == "a-new-signature-key-of-mine"


async def test_element_metadata_and_the_element_of_an_instance(api: RunningApi) -> None:
    auth = await api.create_user()
    metadata = await api.call("GET", "elements/acton/metadata", auth=auth)
    assert metadata.status == 200, metadata.text
    body = metadata.json
    assert (body["key"], body["name"]) == ("acton", "Act-On")
    assert body["events"] == {"supported": True, "methods": ["polling", "webhook"]}
    resources = {r["canonicalName"]: r["events"] for r in body["resources"]}
    assert resources["contacts"] == {
        "supported": True,
        "methods": ["polling", "webhook"],
        "eventTypes": ["CREATED", "UPDATED", "DELETED"],
    }
    assert resources["lists"]["supported"] is False
    by_id = await api.call("GET", f"elements/{body['id']}/metadata", auth=auth)
    assert by_id.json == body
    missing = await api.call("GET", "elements/nope/metadata", auth=auth)
    assert missing.status == 404 and "'nope'" in missing.json["message"]
    assert (await api.call("GET", "elements/acton/metadata")).status == 401

    created = await api.create_instance(auth=auth)
    element = {"id": body["id"], "key": "acton", "name": "Act-On"}
    assert created["element"] == element
    assert (await api.call("GET", f"instances/{created['id']}", auth=auth)).json["element"] == (
        element
    )
    assert (await api.call("GET", "elements/acton", auth=auth)).json["id"] == body["id"]


async def test_events_by_instance_and_their_notification(api: RunningApi) -> None:
    auth = await api.create_user()
    first = (await api.create_instance(auth=auth))["id"]
    second_created = await api.create_instance(auth=auth)
    second = second_created["id"]
    event_ids, delivery_ids = await support.add_events(
        api.container, first, [support.contact(first, n) for n in range(3)]
    )
    other_ids, _ = await support.add_events(api.container, second, [support.contact(second, 9)])

    got = await api.call("GET", f"instances/{first}/events/{event_ids[0]}", auth=auth)
    assert got.status == 200, got.text
    event = got.json
    assert (event["id"], event["instanceId"]) == (event_ids[0], first)
    assert event["deliveryId"] == delivery_ids[0]
    assert event["notificationId"].startswith("msg_")
    assert (await api.call("GET", f"instances/events/{event_ids[0]}", auth=auth)).json == event

    foreign = await api.call("GET", f"instances/{second}/events/{event_ids[0]}", auth=auth)
    assert foreign.status == 404
    assert str(event_ids[0]) in foreign.json["message"]
    assert f"instance {second}" in foreign.json["message"]
    own = await api.call("GET", f"instances/{second}/events/{other_ids[0]}", auth=auth)
    assert own.status == 200
    second_token = _element(auth, second_created["token"])
    by_token = await api.call("GET", f"instances/events/{event_ids[0]}", auth=second_token)
    assert by_token.status == 404
    mine = await api.call("GET", f"instances/events/{other_ids[0]}", auth=second_token)
    assert mine.status == 200 and mine.json["instanceId"] == second
    stranger = await api.create_user("Other")
    hidden = await api.call("GET", f"instances/{first}/events/{event_ids[0]}", auth=stranger)
    assert hidden.status == 404

    by_notification = _q(f"notificationId='{event['notificationId']}'")
    carried = await api.call("GET", f"instances/events?where={by_notification}", auth=auth)
    assert sorted(e["id"] for e in carried.json) == event_ids
    by_delivery = _q(f"deliveryId={event['deliveryId']}")
    same = await api.call("GET", f"instances/{first}/events?where={by_delivery}", auth=auth)
    assert sorted(e["id"] for e in same.json) == event_ids
    delivery = await api.call(
        "GET", f"notifications/subscriptions/deliveries?where={by_notification}", auth=auth
    )
    assert [d["id"] for d in delivery.json] == [event["deliveryId"]]


async def test_polling_disabled_lists_the_organizations_disabled_pollers(api: RunningApi) -> None:
    auth = await api.create_user()
    paused = (await api.create_instance(auth=auth, name="paused"))["id"]
    failing = (await api.create_instance(auth=auth, name="failing"))["id"]
    await api.create_instance(auth=auth, name="running")
    stranger = await api.create_user("Other")
    await api.create_instance(auth=stranger)
    assert (await api.call("GET", "instances/polling-disabled", auth=auth)).json == []

    pause = await api.call("DELETE", f"instances/{paused}/pollers/contacts/enabled", auth=auth)
    assert pause.status == 200, pause.text
    reason = "disabled after 100 consecutive failures: HTTP 503"
    async with api.container.engine.begin() as conn:
        await conn.execute(
            sa.update(tables.pollers)
            .where(tables.pollers.c.instance_id == failing)
            .values(enabled=False, disabled_reason=reason, consecutive_failures=100)
        )
    listed = await api.call("GET", "instances/polling-disabled", auth=auth)
    assert listed.status == 200, listed.text
    found = [
        (p["instanceId"], p["instanceName"], p["resource"], p["disabledReason"])
        for p in listed.json
    ]
    assert found == [
        (paused, "paused", "contacts", "paused"),
        (failing, "failing", "contacts", reason),
    ]
    assert listed.json[1]["consecutiveFailures"] == 100 and listed.json[1]["enabled"] is False
    assert (await api.call("GET", "instances/polling-disabled", auth=stranger)).json == []
    assert (await api.call("GET", "instances/polling-disabled")).status == 401


async def test_subscriptions_show_url_activity_and_waiting_notifications(
    api: RunningApi,
) -> None:
    auth = await api.create_user()
    busy = (await api.create_instance(auth=auth))["id"]
    quiet = (await api.create_instance(auth=auth))["id"]
    await api.create_instance(
        {"event.notification.enabled": False, "event.notification.callback.url": None}, auth=auth
    )
    _, delivery_ids = await support.add_events(
        api.container, busy, [support.contact(busy, n) for n in range(40)]
    )
    assert len(delivery_ids) == 4
    async with api.container.engine.begin() as conn:
        d = tables.deliveries
        await conn.execute(sa.update(d).where(d.c.id == delivery_ids[0]).values(status="retry"))
        await conn.execute(
            sa.update(d).where(d.c.id.in_(delivery_ids[1:3])).values(status="queued")
        )
        i = tables.instances
        await conn.execute(sa.update(i).where(i.c.id == busy).values(subscription_active=False))

    listed = await api.call("GET", "notifications/subscriptions", auth=auth)
    assert listed.status == 200, listed.text
    assert [s["id"] for s in listed.json] == [busy, quiet]  # no callback URL, no subscription
    first = listed.json[0]
    assert first == {
        "id": busy,
        "instanceId": busy,
        "elementKey": "acton",
        "channel": "webhook",
        "topics": [f"instance-{busy}-acton-events"],
        "config": {"url": "https://app.example.com/events"},
        "active": False,
        "eventsEnabled": True,
        "notifications": {"pending": 1, "retrying": 1, "queued": 2},
    }
    assert listed.json[1]["active"] is True
    assert listed.json[1]["notifications"] == {"pending": 0, "retrying": 0, "queued": 0}

    page = await api.call("GET", "notifications/subscriptions?pageSize=1", auth=auth)
    assert [s["id"] for s in page.json] == [busy]
    token = page.headers["Elements-Next-Page-Token"]
    rest = await api.call(
        "GET", f"notifications/subscriptions?pageSize=1&nextPage={token}", auth=auth
    )
    assert [s["id"] for s in rest.json] == [quiet]
    assert "Elements-Next-Page-Token" not in rest.headers

    one = await api.call("GET", f"notifications/subscriptions/{busy}", auth=auth)
    assert one.json == first
    stranger = await api.create_user("Other")
    assert (await api.call("GET", "notifications/subscriptions", auth=stranger)).json == []
    hidden = await api.call("GET", f"notifications/subscriptions/{busy}", auth=stranger)
    assert hidden.status == 404 and str(busy) in hidden.json["message"]


async def test_fixed_paths_are_not_taken_for_instance_ids(api: RunningApi) -> None:
    auth = await api.create_user()
    created = await api.create_instance(auth=auth)
    scoped = _element(auth, created["token"])
    for path in (
        "instances/polling-disabled",
        "instances/events",
        "instances/configuration",
    ):
        reply = await api.call("GET", path, auth=scoped)
        assert reply.status == 200, (path, reply.text)
        assert isinstance(reply.json, list), path
    assert (await api.call("PUT", "instances/enabled", auth=scoped)).status == 200
    assert (await api.call("GET", "instances/abc", auth=auth)).status == 404

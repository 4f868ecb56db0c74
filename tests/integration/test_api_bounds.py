"""Bounded inputs through the API: ids beyond the id columns, huge numbers, unusable patterns."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from tests.api_fixtures import RunningApi

POLLER = "configuration.event.poller.configuration"


def _integer_id_routes(api: RunningApi) -> list[tuple[str, str, list[str], list[str]]]:
    """(method, path, integer path parameters, other path parameters) of every route."""
    found = []
    for path, operations in api.app.openapi()["paths"].items():
        for method, operation in operations.items():
            params = [p for p in operation.get("parameters", []) if p["in"] == "path"]
            integers = [p["name"] for p in params if p["schema"].get("type") == "integer"]
            if integers:
                others = [p["name"] for p in params if p["name"] not in integers]
                found.append((method.upper(), path, integers, others))
    return found


@pytest.mark.parametrize("huge", [2**31, 2**63])
async def test_an_id_beyond_the_id_columns_is_404_on_every_route(
    api: RunningApi, huge: int
) -> None:
    auth = await api.create_user()
    await api.create_instance(auth=auth)  # the organization has an instance and pollers
    routes = _integer_id_routes(api)
    assert len(routes) >= 15, routes  # instances, events, deliveries, pollers
    for method, path, integers, others in routes:
        url = path
        for name in integers:
            url = url.replace("{" + name + "}", str(huge))
        for name in others:
            url = url.replace("{" + name + "}", "contacts")
        assert not re.search(r"\{\w+\}", url), url
        body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
        reply = await api.call(method, url, auth=auth, json=body)
        assert reply.status == 404, (method, url, reply.status, reply.text)
        assert set(reply.json) == {"requestId", "message", "errors"}, reply.text
        assert str(huge) in reply.json["message"]
    anonymous = await api.call("GET", f"instances/{huge}/events")
    assert anonymous.status == 401


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"event.poller.refresh_interval": 10**400}, "event.poller.refresh_interval"),
        ({"event.poller.refresh_interval": 1e308}, "event.poller.refresh_interval"),
        ({"event.poller.refresh_interval": 31 * 24 * 60 + 1}, "event.poller.refresh_interval"),
        ({"event.poller.reconcile_interval": 10**400}, "event.poller.reconcile_interval"),
        ({"event.notification.retry.schedule": [1e308]}, "event.notification.retry.schedule"),
        ({"event.notification.retry.schedule": [4] * 21}, "event.notification.retry.schedule"),
        ({"event.notification.retry.schedule": "4,0.5"}, "event.notification.retry.schedule"),
        ({"event.notification.retry.schedule": [25 * 3600]}, "event.notification.retry.schedule"),
    ],
    ids=[
        "refresh-10**400",
        "refresh-1e308",
        "refresh-31-days-and-a-minute",
        "reconcile-10**400",
        "schedule-1e308",
        "schedule-21-delays",
        "schedule-half-a-second",
        "schedule-25-hours",
    ],
)
async def test_out_of_range_numbers_are_400_naming_the_key(
    api: RunningApi, overrides: dict[str, Any], field: str
) -> None:
    answer = await api.create_instance(overrides, expect=400)
    assert [e["field"] for e in answer["errors"]] == [f"configuration.{field}"], answer


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("pollDelay", 1e308),
        ("pollDelay", 10**400),
        ("createdCheckTolerance", 10**400),
        ("pageSize", 10**400),
        ("backfillFrom", "0001-01-01T00:00:00Z"),
    ],
    ids=["pollDelay-1e308", "pollDelay-10**400", "tolerance-10**400", "pageSize-10**400", "year-1"],
)
async def test_out_of_range_resource_numbers_are_400_naming_the_option(
    api: RunningApi, option: str, value: object
) -> None:
    auth = await api.create_user()
    created = await api.create_instance(auth=auth)
    resources = dict(created["configuration"]["event.poller.configuration"])
    resources["contacts"] = {**resources["contacts"], option: value}
    reply = await api.call(
        "PATCH",
        f"instances/{created['id']}/configuration/event.poller.configuration",
        auth=auth,
        json={"propertyValue": resources},
    )
    assert reply.status == 400, reply.text
    assert [e["field"] for e in reply.json["errors"]] == [f"{POLLER}.contacts.{option}"]


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("/hubs/marketing/lists/{listId}/contacts?d=${dateTimeZone:America:yyyy}", "'America'"),
        ("/hubs/marketing/lists/{listId}/contacts?d=${gmtDate:yyyy-MM-ddXXXX}", "XXX"),
    ],
    ids=["zone-America", "XXXX"],
)
async def test_an_unusable_date_pattern_in_the_url_is_refused_at_configuration_time(
    api: RunningApi, url: str, words: str
) -> None:
    configuration = api.docs_body("unused")["configuration"]["event.poller.configuration"]
    configuration["contacts"]["url"] = url
    answer = await api.create_instance({"event.poller.configuration": configuration}, expect=400)
    (error,) = answer["errors"]
    assert error["field"] == f"{POLLER}.contacts.url"
    assert words in error["problem"]


@pytest.mark.parametrize("huge", [2**31, 2**63])
async def test_an_id_beyond_the_id_columns_in_a_page_token_or_where_is_no_500(
    api: RunningApi, huge: int
) -> None:
    auth = await api.create_user()
    created = await api.create_instance(auth=auth)
    token = base64.urlsafe_b64encode(json.dumps({"after": huge}).encode()).decode().rstrip("=")
    for path in (
        "instances",
        "instances/events",
        f"instances/{created['id']}/events",
        "notifications/subscriptions/deliveries",
    ):
        paged = await api.call("GET", path, auth=auth, params={"nextPage": token})
        assert paged.status == 400, (path, paged.text)
        assert paged.json["errors"][0]["field"] == "nextPage"
    for path in ("instances/events", "notifications/subscriptions/deliveries"):
        for where in (f"id = {huge}", f"instanceId = {huge}", f"id > {huge}"):
            found = await api.call("GET", path, auth=auth, params={"where": where})
            assert found.status in (200, 400), (path, where, found.text)
            if found.status == 200:
                assert found.json == []

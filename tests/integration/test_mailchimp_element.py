"""The shipped ``mailchimp`` element end to end, against ``headwater sandbox mailchimp`` over
loopback, on SQLite and PostgreSQL: an instance created through the OAuth code flow and the
metadata call (its hub calls then go to the account's own host), the marketing hub paged and
changed through the API, members polled into events (a member who never opted in included),
archives reported DELETED, and Mailchimp's 429 beyond 10 simultaneous connections absorbed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from headwater.sandbox.mailchimp import filters
from headwater.sandbox.mailchimp import members as mc
from tests.api_fixtures import CALLBACK_URL, RunningApi, api_settings, running_api
from tests.mailchimp_fixtures import MailchimpSandbox
from tests.poller_support import run_poller, stored_events
from tests.sandbox_fixtures import ActonSandbox

pytestmark = pytest.mark.mailchimp_sandbox(lists=2, members=7)


@pytest.fixture
async def api(
    db_url: str, acton_sandbox: ActonSandbox, mailchimp_sandbox: MailchimpSandbox, tmp_path: Path
) -> AsyncIterator[RunningApi]:
    settings = api_settings(
        db_url,
        acton_sandbox,
        tmp_path / "data",
        element_settings={
            "HEADWATER_MAILCHIMP_LOGIN_URL": mailchimp_sandbox.url,
            # Mailchimp limits connections, not calls per second: let the calls overlap
            "HEADWATER_MAILCHIMP_RATE_PER_SECOND": "1000",
        },
    )
    async with running_api(settings, acton_sandbox) as running:
        yield running


async def _instance(
    api: RunningApi, sandbox: MailchimpSandbox, auth: str, *, name: str = "mailchimp"
) -> dict[str, Any]:
    """``POST /instances`` with a code from the sandbox's authorize page and the element's
    default poller configuration, as a client reads it from ``GET /elements/mailchimp``."""
    described = (await api.call("GET", "elements/mailchimp", auth=auth)).json
    code = await asyncio.to_thread(sandbox.authorize_code, CALLBACK_URL)
    body = {
        "element": {"key": "mailchimp"},
        "providerData": {"code": code},
        "configuration": {
            "oauth.api.key": sandbox.client_id,
            "oauth.api.secret": sandbox.client_secret,
            "oauth.callback.url": CALLBACK_URL,
            "event.notification.enabled": True,
            "event.vendor.type": "polling",
            "event.poller.refresh_interval": "15",
            "event.notification.callback.url": "https://app.example.com/events",
            "event.poller.configuration": described["events"]["defaultPollerConfiguration"],
        },
        "name": name,
    }
    created = await api.call("POST", "instances", auth=auth, json=body)
    assert created.status == 200, created.text
    return dict(created.json)


def _hub_auth(auth: str, instance: dict[str, Any]) -> str:
    return f"{auth}, Element {instance['token']}"


async def _all_pages(api: RunningApi, path: str, auth: str, page_size: int) -> list[Any]:
    found: list[Any] = []
    params: dict[str, str] = {"pageSize": str(page_size)}
    pages = 0
    while True:
        reply = await api.call("GET", path, auth=auth, params=params)
        assert reply.status == 200, reply.text
        found += reply.json
        pages += 1
        token = reply.headers.get("Elements-Next-Page-Token")
        if not token:
            return found
        assert pages < 50, "the listing does not end"
        params = {"pageSize": str(page_size), "nextPage": token}


async def test_oauth_with_metadata_then_the_hub_pages_and_changes_members(
    api: RunningApi, mailchimp_sandbox: MailchimpSandbox
) -> None:
    auth = await api.create_user()
    instance = await _instance(api, mailchimp_sandbox, auth)
    assert instance["element"]["key"] == "mailchimp" and instance["valid"] is True
    grants = mailchimp_sandbox.state.counters()["grants"]
    assert sum(grants.values()) == 1, grants
    calls = mailchimp_sandbox.state.counters()["calls"]
    assert calls.get("GET /oauth2/metadata") == 1, "the account's host was discovered"
    hub = _hub_auth(auth, instance)

    lists = await _all_pages(api, "hubs/marketing/lists", hub, page_size=1)
    assert [item["id"] for item in lists] == [
        mailchimp_sandbox.list_id(0),
        mailchimp_sandbox.list_id(1),
    ]
    contacts = f"hubs/marketing/lists/{mailchimp_sandbox.list_id(0)}/contacts"
    members = await _all_pages(api, contacts, hub, page_size=3)
    assert len(members) == len({m["id"] for m in members}) == 7
    assert {"email_address", "status", "merge_fields", "last_changed"} <= set(members[0])

    newest = max(m["last_changed"] for m in members)
    since = await api.call(
        "GET", contacts, auth=hub, params={"where": f"since_last_changed='{newest}'"}
    )
    assert since.status == 200, since.text
    assert since.json and all(m["last_changed"] >= newest for m in since.json)
    assert len(since.json) < 7, "the +00:00 reached Mailchimp intact: the filter applied"

    created = await api.call(
        "POST",
        contacts,
        auth=hub,
        json={"email_address": "Ada@Example.com", "status": "subscribed"},
    )
    assert created.status == 200, created.text
    member_id = created.json["id"]
    one = f"{contacts}/{member_id}"
    read = await api.call("GET", one, auth=hub)
    assert read.status == 200 and read.json["email_address"] == "Ada@Example.com"
    changed = await api.call("PATCH", one, auth=hub, json={"merge_fields": {"FNAME": "Ada"}})
    assert changed.status == 200 and changed.json["merge_fields"]["FNAME"] == "Ada"
    refused = await api.call("POST", contacts, auth=hub, json={"email_address": "nope"})
    assert refused.status in (400, 422), refused.text
    assert refused.json["providerMessage"]
    deleted = await api.call("DELETE", one, auth=hub)
    assert deleted.status == 200, deleted.text
    with mailchimp_sandbox.state.store.lock:
        archived = mailchimp_sandbox.state.store.get(mailchimp_sandbox.list_id(0), member_id)
    assert archived.status == "archived", "DELETE archives"
    assert len(await _all_pages(api, contacts, hub, page_size=100)) == 7


async def test_members_are_polled_into_events_with_archives_deleted(
    api: RunningApi, mailchimp_sandbox: MailchimpSandbox
) -> None:
    auth = await api.create_user()
    instance = await _instance(api, mailchimp_sandbox, auth)
    iid = instance["id"]
    sandbox = mailchimp_sandbox
    list_id = sandbox.list_id(0)
    first = await run_poller(api.container, iid, reconcile=True)
    assert first.status == "ok", first

    # many changes in one second: a subscribe, a pending signup (no timestamp_opt), a profile
    # change, an email change and an archive of members that existed before the poller
    with sandbox.state.store.lock:
        old = [m.email for m in sandbox.state.store.query(list_id, _everyone())][:3]
    sandbox.state.clock.advance(2_000)
    ops: list[dict[str, Any]] = [
        {"op": "create", "email": "new@example.com"},
        {"op": "create", "email": "later@example.com", "status": "pending"},
        {"op": "update", "email": old[0], "mergeFields": {"FNAME": "X"}},
        {"op": "update", "email": old[1], "newEmail": "moved@example.com"},
        {"op": "archive", "email": old[2]},
    ]
    sandbox.admin("POST", "/batch", {"ops": [{**op, "list": list_id} for op in ops]})
    polled = await run_poller(api.container, iid, reconcile=True)
    assert polled.status == "ok", polled
    events = {(e.object_id, e.event_type) for e in await stored_events(api.container, iid)}
    hashed = mc.subscriber_hash
    assert (hashed("new@example.com"), "CREATED") in events
    assert (hashed("later@example.com"), "CREATED") in events, "an empty timestamp_opt is no date"
    assert (hashed(old[0]), "UPDATED") in events
    assert (hashed("moved@example.com"), "UPDATED") in events
    assert (hashed(old[1]), "DELETED") in events, "the old address's id is gone"
    assert (hashed(old[2]), "DELETED") in events, "an archived member is deleted"
    count = len(events)
    again = await run_poller(api.container, iid, reconcile=True)
    assert again.status == "ok"
    assert len(await stored_events(api.container, iid)) == count, "nothing is reported twice"


def _everyone() -> filters.Query:
    return filters.Query()


async def test_429_beyond_ten_connections_does_not_fail_the_poll(
    api: RunningApi, mailchimp_sandbox: MailchimpSandbox
) -> None:
    sandbox = mailchimp_sandbox
    auth = await api.create_user()
    # two instances of one Mailchimp account share its 10 connections: together they open more
    one = await _instance(api, sandbox, auth, name="one")
    two = await _instance(api, sandbox, auth, name="two")
    for n in range(12):
        sandbox.state.store.create_list(f"extra {n}")
    sandbox.admin("POST", "/faults", {"kind": "latency", "path": "/3.0/lists", "delay": 0.2})
    sandbox.admin("DELETE", "/counters")

    async def listing(instance: dict[str, Any], list_id: str) -> int:
        path = f"hubs/marketing/lists/{list_id}/contacts"
        reply = await api.call("GET", path, auth=_hub_auth(auth, instance))
        return reply.status

    ids = [a.id for a in sandbox.state.store.lists()]
    statuses = await asyncio.gather(
        *(listing(instance, list_id) for instance in (one, two) for list_id in ids)
    )
    assert statuses == [200] * len(statuses)
    counters = sandbox.state.counters()
    assert counters["tooManyConnections"] > 0, counters
    assert counters["peakConnections"] <= 10

    # a poll over every list while Mailchimp answers 429 twice: it waits and goes on
    sandbox.admin("DELETE", "/faults")
    sandbox.admin("DELETE", "/counters")
    sandbox.admin("POST", "/faults", {"kind": "rate_limit", "path": "/3.0/lists/", "count": 2})
    polled = await run_poller(api.container, one["id"])
    assert polled.status == "ok", polled
    assert sandbox.state.counters()["faultsFired"] == 2
    pollers = (await api.call("GET", f"instances/{one['id']}/pollers", auth=auth)).json
    assert pollers[0]["lastError"] is None and pollers[0]["consecutiveFailures"] == 0
    asked = [c for c in sandbox.state.counters()["calls"] if c.endswith("/members")]
    assert len(asked) == len(ids), "every list was polled"

"""Mailchimp's webhooks end to end over loopback: Headwater registers them on every audience
through Mailchimp's API (the sandbox checks the URL with a GET first), receives the form posts
(verified by the secret in the registered URL), reports each member by the id polling uses, and
removes the webhooks when the instance is deleted or its events are turned off."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from headwater.domain import inbound
from tests.api_fixtures import CALLBACK_URL, RunningApi, api_settings, running_api
from tests.mailchimp_fixtures import MailchimpSandbox
from tests.sandbox_fixtures import ActonSandbox, Receiver

pytestmark = pytest.mark.mailchimp_sandbox(lists=2, members=0)


@pytest.fixture
async def api(
    db_url: str, acton_sandbox: ActonSandbox, mailchimp_sandbox: MailchimpSandbox, tmp_path: Path
) -> AsyncIterator[RunningApi]:
    settings = api_settings(
        db_url,
        acton_sandbox,
        tmp_path / "data",
        tick_seconds=0.1,
        element_settings={
            "HEADWATER_MAILCHIMP_LOGIN_URL": mailchimp_sandbox.url,
            "HEADWATER_MAILCHIMP_RATE_PER_SECOND": "1000",
        },
    )
    async with running_api(settings, acton_sandbox, loops=True, own_public_url=True) as running:
        yield running


def member_id(email: str) -> str:
    return hashlib.md5(email.lower().encode()).hexdigest()


async def _instance(
    api: RunningApi,
    sandbox: MailchimpSandbox,
    receiver: Receiver,
    auth: str,
    *,
    safety_net: bool = False,
) -> dict[str, Any]:
    described = (await api.call("GET", "elements/mailchimp", auth=auth)).json
    code = await asyncio.to_thread(sandbox.authorize_code, CALLBACK_URL)
    configuration: dict[str, Any] = {
        "oauth.api.key": sandbox.client_id,
        "oauth.api.secret": sandbox.client_secret,
        "oauth.callback.url": CALLBACK_URL,
        "event.notification.enabled": True,
        "event.vendor.type": "webhooks",
        "event.notification.callback.url": receiver.url,
        "event.notification.signature.key": receiver.secret,
    }
    if safety_net:
        configuration["event.poller.configuration"] = described["events"][
            "defaultPollerConfiguration"
        ]
    body = {
        "element": {"key": "mailchimp"},
        "providerData": {"code": code},
        "configuration": configuration,
        "name": "newsletter",
    }
    created = await api.call("POST", "instances", auth=auth, json=body)
    assert created.status == 200, created.text
    return dict(created.json)


def _hooks(sandbox: MailchimpSandbox) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = sandbox.admin("GET", "/webhooks")["webhooks"]
    return found


def _events(arrivals: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (e["objectId"], e["eventType"])
        for a in arrivals
        if isinstance(a["json"], dict)
        for e in a["json"]["message"]["events"]
    ]


async def test_registered_on_create_members_arrive_and_removed_on_delete(
    api: RunningApi, mailchimp_sandbox: MailchimpSandbox, receiver: Receiver
) -> None:
    auth = await api.create_user()
    instance = await _instance(api, mailchimp_sandbox, receiver, auth)
    iid = instance["id"]
    hooks = _hooks(mailchimp_sandbox)
    lists = {mailchimp_sandbox.list_id(0), mailchimp_sandbox.list_id(1)}
    assert {h["list_id"] for h in hooks} == lists and len(hooks) == 2
    expected = f"{api.url}/events/mailchimp/{inbound.encode_instance(iid)}?secret="
    assert all(h["url"].startswith(expected) for h in hooks)
    assert "event.vendor.signature.key" not in instance["configuration"] or (
        instance["configuration"]["event.vendor.signature.key"] == "********"
    )

    list_id = mailchimp_sandbox.list_id(0)
    ops = [{"list": list_id, "op": "create", "email": "Ada@Example.com", "source": "user"}]
    mailchimp_sandbox.admin("POST", "/batch", {"ops": ops})
    await receiver.wait_for(lambda a: len(_events(a)) >= 1, timeout=5)
    ops = [
        {"list": list_id, "op": "update", "email": "ada@example.com", "mergeFields": {"FNAME": "A"}}
    ]
    mailchimp_sandbox.admin("POST", "/batch", {"ops": ops})
    arrivals = await receiver.wait_for(lambda a: len(_events(a)) >= 2, timeout=5)
    ada = member_id("ada@example.com")
    assert _events(arrivals) == [(ada, "CREATED"), (ada, "UPDATED")]
    raw = arrivals[1]["json"]["message"]["raw"]["contacts"][0]
    assert raw["type"] == "profile" and raw["data"]["merges"]["FNAME"] == "A"

    # a PATCH that turns events off removes them; on again registers them again
    off = await api.call(
        "PATCH",
        f"instances/{iid}/configuration/event.notification.enabled",
        auth=auth,
        json={"propertyValue": False},
    )
    assert off.status == 200, off.text
    assert _hooks(mailchimp_sandbox) == []
    on = await api.call(
        "PATCH",
        f"instances/{iid}/configuration/event.notification.enabled",
        auth=auth,
        json={"propertyValue": True},
    )
    assert on.status == 200 and len(_hooks(mailchimp_sandbox)) == 2

    deleted = await api.call("DELETE", f"instances/{iid}", auth=auth)
    assert deleted.status in (200, 204), deleted.text
    assert _hooks(mailchimp_sandbox) == []


async def test_a_wrong_url_secret_is_refused_and_recorded(
    api: RunningApi, mailchimp_sandbox: MailchimpSandbox, receiver: Receiver
) -> None:
    auth = await api.create_user()
    iid = (await _instance(api, mailchimp_sandbox, receiver, auth))["id"]
    form = {"type": "subscribe", "fired_at": "2026-12-04 10:00:00", "data[email]": "x@y.z"}
    path = f"events/mailchimp/{inbound.encode_instance(iid)}"
    wrong = await api.call("POST", path, params={"secret": "not-the-secret"}, data=form)
    missing = await api.call("POST", path, data=form)
    check = await api.call("GET", path)
    assert wrong.status == 401 and "is not this instance's" in wrong.json["message"]
    assert missing.status == 401 and check.status == 200
    kept = (await api.call("GET", f"instances/{iid}/webhooks", auth=auth)).json
    assert [w["outcome"] for w in kept] == ["refused", "refused"]
    assert (
        kept[1]["body"] == "type=subscribe&fired_at=2026-12-04+10%3A00%3A00&data%5Bemail%5D=x%40y.z"
    )


async def _poll(api: RunningApi, auth: str, iid: int) -> None:
    before = (await api.call("GET", f"instances/{iid}/pollers", auth=auth)).json[0]["lastRunDate"]
    reply = await api.call("POST", f"instances/{iid}/pollers/contacts/run", auth=auth)
    assert reply.status == 202, reply.text
    deadline = time.monotonic() + 10
    while True:
        [poller] = (await api.call("GET", f"instances/{iid}/pollers", auth=auth)).json
        if poller["lastRunDate"] not in (before, None):
            assert poller["lastError"] is None, poller
            return
        assert time.monotonic() < deadline, poller
        await asyncio.sleep(0.02)


async def test_the_safety_net_catches_a_dropped_webhook_once(
    api: RunningApi, mailchimp_sandbox: MailchimpSandbox, receiver: Receiver
) -> None:
    auth = await api.create_user()
    iid = (await _instance(api, mailchimp_sandbox, receiver, auth, safety_net=True))["id"]
    await _poll(api, auth, iid)  # the first run starts the cursor
    list_id = mailchimp_sandbox.list_id(0)
    [hook] = [h for h in _hooks(mailchimp_sandbox) if h["list_id"] == list_id]
    mailchimp_sandbox.admin("PUT", f"/webhooks/{hook['id']}", {"drop": 1})
    ops = [{"list": list_id, "op": "create", "email": "dropped@example.com"}]
    mailchimp_sandbox.admin("POST", "/batch", {"ops": ops})
    ops = [{"list": list_id, "op": "create", "email": "heard@example.com"}]
    mailchimp_sandbox.admin("POST", "/batch", {"ops": ops})
    heard, dropped = member_id("heard@example.com"), member_id("dropped@example.com")
    await receiver.wait_for(lambda a: _events(a) == [(heard, "CREATED")], timeout=5)
    await _poll(api, auth, iid)
    arrivals = await receiver.wait_for(lambda a: len(_events(a)) >= 2, timeout=5)
    assert sorted(_events(arrivals)) == sorted([(heard, "CREATED"), (dropped, "CREATED")])
    await _poll(api, auth, iid)
    stored = (await api.call("GET", f"instances/{iid}/events", auth=auth)).json
    assert sorted((e["objectId"], e["eventType"]) for e in stored) == sorted(_events(arrivals))


@pytest.mark.parametrize("public_url", [None, "http://127.0.0.1:9"])
async def test_an_instance_whose_webhooks_cannot_be_registered_is_not_created(
    db_url: str,
    acton_sandbox: ActonSandbox,
    mailchimp_sandbox: MailchimpSandbox,
    receiver: Receiver,
    tmp_path: Path,
    public_url: str | None,
) -> None:
    settings = api_settings(
        db_url,
        acton_sandbox,
        tmp_path / "data",
        public_url=public_url,
        element_settings={"HEADWATER_MAILCHIMP_LOGIN_URL": mailchimp_sandbox.url},
    )
    async with running_api(settings, acton_sandbox) as api:
        auth = await api.create_user()
        code = await asyncio.to_thread(mailchimp_sandbox.authorize_code, CALLBACK_URL)
        body = {
            "element": {"key": "mailchimp"},
            "providerData": {"code": code},
            "name": "newsletter",
            "configuration": {
                "oauth.api.key": mailchimp_sandbox.client_id,
                "oauth.api.secret": mailchimp_sandbox.client_secret,
                "oauth.callback.url": CALLBACK_URL,
                "event.notification.enabled": True,
                "event.vendor.type": "webhooks",
                "event.notification.callback.url": receiver.url,
            },
        }
        refused = await api.call("POST", "instances", auth=auth, json=body)
        listed = (await api.call("GET", "instances", auth=auth)).json
    if public_url is None:
        assert refused.status == 400, refused.text
        assert "HEADWATER_PUBLIC_URL" in refused.json["errors"][0]["problem"]
    else:  # the sandbox checks the URL with a GET first, as Mailchimp does
        assert refused.status == 422, refused.text
        assert "could not be validated" in refused.json["providerMessage"]
    assert listed == [] and _hooks(mailchimp_sandbox) == []

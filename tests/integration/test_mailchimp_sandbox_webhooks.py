"""List webhooks of the Mailchimp sandbox: registration with a GET check, form POSTs, switches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import pytest

from headwater.sandbox.mailchimp import members
from tests.mailchimp_fixtures import MailchimpSandbox
from tests.sandbox_fixtures import Receiver

NOW_MS = 1_800_000_000_000
NOW = NOW_MS // 1000


class Hooks:
    def __init__(
        self, http: aiohttp.ClientSession, sandbox: MailchimpSandbox, receiver: Receiver
    ) -> None:
        self.http = http
        self.sandbox = sandbox
        self.receiver = receiver
        self.list_id = sandbox.list_id()
        self.url = f"{sandbox.url}/3.0/lists/{self.list_id}/webhooks"
        # The receiver answers GET /arrivals with 200 and records POSTs to any path.
        self.target = f"{receiver.base_url}/arrivals?secret=s3cr3t"

    async def register(self, **body: Any) -> tuple[int, dict[str, Any]]:
        async with self.http.post(
            self.url, json={"url": self.target, **body}, headers=self.sandbox.headers()
        ) as response:
            return response.status, await response.json(content_type=None)

    def batch(self, *ops: dict[str, Any], at: int = NOW) -> None:
        full = [{"list": self.list_id, **op} for op in ops]
        self.sandbox.admin("POST", "/batch", {"at": at, "ops": full})

    async def forms(self, count: int) -> list[dict[str, str]]:
        arrivals = await self.receiver.wait_for(lambda a: len(a) >= count, timeout=5)
        return [dict(parse_qsl(a["body"])) for a in arrivals]

    async def settled(self, predicate: Callable[[list[dict[str, Any]]], bool]) -> list[Any]:
        deadline = time.monotonic() + 5
        while True:
            deliveries: list[Any] = self.sandbox.admin("GET", "/webhooks")["deliveries"]
            if predicate(deliveries):
                return deliveries
            assert time.monotonic() < deadline, deliveries
            await asyncio.sleep(0.01)


@pytest.fixture
async def hooks(mailchimp_sandbox: MailchimpSandbox, receiver: Receiver) -> AsyncIterator[Hooks]:
    async with aiohttp.ClientSession() as http:
        yield Hooks(http, mailchimp_sandbox, receiver)


@pytest.mark.mailchimp_sandbox(members=0, frozen_at_ms=NOW_MS)
async def test_registered_webhook_gets_form_posts_for_changes(hooks: Hooks) -> None:
    status, hook = await hooks.register()
    async with hooks.http.get(hooks.url, headers=hooks.sandbox.headers()) as response:
        listed = await response.json()
    hooks.batch(
        {
            "op": "create",
            "email": "ada@example.com",
            "mergeFields": {"FNAME": "Ada"},
            "source": "user",
        }
    )
    hooks.batch({"op": "update", "email": "ada@example.com", "mergeFields": {"LNAME": "L"}})
    hooks.batch({"op": "update", "email": "ada@example.com", "newEmail": "ada@new.example.com"})
    hooks.batch({"op": "archive", "email": "ada@new.example.com"}, at=NOW + 1)

    forms = await hooks.forms(4)

    assert status == 200 and hook["url"] == hooks.target and hook["list_id"] == hooks.list_id
    assert listed["total_items"] == 1 and listed["webhooks"][0]["id"] == hook["id"]
    arrivals = hooks.receiver.arrivals
    assert arrivals[0]["path"] == "/arrivals"
    assert arrivals[0]["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert arrivals[0]["headers"]["User-Agent"] == "MailChimp.com"
    assert [f["type"] for f in forms] == ["subscribe", "profile", "upemail", "unsubscribe"]
    subscribe = forms[0]
    assert subscribe["fired_at"] == "2027-01-15 08:00:00"
    assert subscribe["data[id]"] == members.unique_email_id("ada@example.com")
    assert subscribe["data[list_id]"] == hooks.list_id
    assert subscribe["data[email]"] == "ada@example.com"
    assert subscribe["data[merges][FNAME]"] == "Ada"
    assert subscribe["data[merges][EMAIL]"] == "ada@example.com"
    assert forms[1]["data[merges][LNAME]"] == "L"
    assert forms[2]["data[old_email]"] == "ada@example.com"
    assert forms[2]["data[new_email]"] == "ada@new.example.com"
    assert forms[3]["data[action]"] == "delete" and forms[3]["fired_at"] == "2027-01-15 08:00:01"


async def test_a_url_that_does_not_answer_200_is_refused(hooks: Hooks) -> None:
    hooks.target = hooks.receiver.url  # GET on the receiver's /events is not 200

    status, problem = await hooks.register()
    hooks.target = "http://127.0.0.1:9/nothing-listens"
    closed, _ = await hooks.register()

    assert status == 400 and problem["errors"][0]["field"] == "url"
    assert "HTTP Code: 405" in problem["errors"][0]["message"]
    assert closed == 400
    assert hooks.sandbox.admin("GET", "/webhooks")["webhooks"] == []


@pytest.mark.mailchimp_sandbox(members=0, frozen_at_ms=NOW_MS)
async def test_events_and_sources_are_honoured(hooks: Hooks) -> None:
    status, _ = await hooks.register(
        events={"subscribe": True, "unsubscribe": False, "profile": False},
        sources={"user": False, "admin": True, "api": False},
    )
    hooks.batch(
        {"op": "create", "email": "by-user@example.com", "source": "user"},
        {"op": "create", "email": "by-admin@example.com"},
        {"op": "update", "email": "by-admin@example.com", "mergeFields": {"FNAME": "A"}},
        {"op": "update", "email": "by-admin@example.com", "status": "unsubscribed"},
        {"op": "create", "email": "by-api@example.com", "source": "api"},
    )
    async with hooks.http.post(
        f"{hooks.sandbox.url}/3.0/lists/{hooks.list_id}/members",
        json={"email_address": "api-call@example.com", "status": "subscribed"},
        headers=hooks.sandbox.headers(),
    ) as response:
        assert response.status == 200
    hooks.batch({"op": "create", "email": "last@example.com"})

    forms = await hooks.forms(2)
    await hooks.settled(lambda d: len(d) == 2 and all(x["done"] for x in d))

    assert status == 200
    assert [f["data[email]"] for f in forms] == ["by-admin@example.com", "last@example.com"]


@pytest.mark.mailchimp_sandbox(members=0, frozen_at_ms=NOW_MS)
async def test_admin_can_drop_deliveries_and_a_deleted_webhook_stops(hooks: Hooks) -> None:
    _, hook = await hooks.register()
    hooks.sandbox.admin("PUT", f"/webhooks/{hook['id']}", {"drop": 1})
    hooks.batch({"op": "create", "email": "dropped@example.com"})
    hooks.batch({"op": "create", "email": "sent@example.com"})
    forms = await hooks.forms(1)
    async with hooks.http.delete(
        f"{hooks.url}/{hook['id']}", headers=hooks.sandbox.headers()
    ) as response:
        deleted = response.status
    hooks.batch({"op": "create", "email": "after-delete@example.com"})

    deliveries = await hooks.settled(lambda d: len(d) == 2 and all(x["done"] for x in d))

    assert [f["data[email]"] for f in forms] == ["sent@example.com"]
    assert [d["dropped"] for d in deliveries] == [True, False]
    assert deliveries[1]["status"] == 200
    assert deleted == 204
    assert len(hooks.receiver.arrivals) == 1


@pytest.mark.mailchimp_sandbox(members=0, frozen_at_ms=NOW_MS)
async def test_admin_can_remove_a_webhook_behind_its_owners_back(hooks: Hooks) -> None:
    _, hook = await hooks.register()

    removed = hooks.sandbox.admin("DELETE", f"/webhooks/{hook['id']}")
    async with hooks.http.get(hooks.url, headers=hooks.sandbox.headers()) as response:
        listed = await response.json()
    async with hooks.http.get(
        f"{hooks.url}/{hook['id']}", headers=hooks.sandbox.headers()
    ) as response:
        gone = response.status
    hooks.batch({"op": "create", "email": "unheard@example.com"})

    assert removed == {"removed": hook["id"]}
    assert listed["total_items"] == 0 and gone == 404
    assert hooks.sandbox.admin("GET", "/webhooks")["deliveries"] == []


@pytest.mark.mailchimp_sandbox(members=0, frozen_at_ms=NOW_MS, webhook_retry_delays=(0.01,) * 3)
async def test_a_refused_delivery_is_retried_three_times(hooks: Hooks) -> None:
    _, hook = await hooks.register()
    assert hook["sources"] == {"user": True, "admin": True, "api": True}
    hooks.receiver.set_failures("500,503,ok")
    hooks.batch({"op": "create", "email": "retried@example.com"})
    forms = await hooks.forms(3)
    hooks.receiver.set_failures("500")
    hooks.batch({"op": "create", "email": "given-up@example.com"})

    deliveries = await hooks.settled(lambda d: len(d) == 2 and all(x["done"] for x in d))

    assert [f["data[email]"] for f in forms] == ["retried@example.com"] * 3
    assert [d["attempts"] for d in deliveries] == [[500, 503, 200], [500, 500, 500, 500]]
    assert len(hooks.receiver.arrivals) == 7


@pytest.mark.mailchimp_sandbox(members=0, frozen_at_ms=NOW_MS, webhook_retry_delays=(0.01,) * 3)
async def test_a_410_disables_the_webhook_for_good(hooks: Hooks) -> None:
    registered, _ = await hooks.register()
    hooks.receiver.set_failures("410,ok")
    hooks.batch({"op": "create", "email": "first@example.com"})
    await hooks.settled(lambda d: len(d) == 1 and d[0]["done"])
    hooks.batch({"op": "create", "email": "second@example.com"})

    state = hooks.sandbox.admin("GET", "/webhooks")

    assert registered == 200 and state["webhooks"][0]["disabled"] is True
    assert [d["attempts"] for d in state["deliveries"]] == [[410]]
    assert len(hooks.receiver.arrivals) == 1


@pytest.mark.mailchimp_sandbox(members=0, frozen_at_ms=NOW_MS)
async def test_patch_changes_events_and_checks_a_new_url(hooks: Hooks) -> None:
    _, hook = await hooks.register()
    one = f"{hooks.url}/{hook['id']}"
    headers = hooks.sandbox.headers()

    async with hooks.http.patch(
        one, json={"url": hooks.receiver.url, "events": {"subscribe": False}}, headers=headers
    ) as response:
        refused = response.status
    async with hooks.http.patch(one, json={"events": {"subscribe": False}}, headers=headers) as r:
        patched = await r.json()
    hooks.batch({"op": "create", "email": "quiet@example.com"})

    assert refused == 400
    assert patched["events"]["subscribe"] is False and patched["url"] == hooks.target
    assert hooks.sandbox.admin("GET", "/webhooks")["deliveries"] == []

"""The Mailchimp sandbox's admin surface, connection limit and faults, over loopback."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from headwater.sandbox.mailchimp import members
from tests.mailchimp_fixtures import MailchimpSandbox

NOW_MS = 1_800_000_000_000
NOW = NOW_MS // 1000


class Client:
    def __init__(self, http: aiohttp.ClientSession, sandbox: MailchimpSandbox) -> None:
        self.http = http
        self.sandbox = sandbox
        self.headers = sandbox.headers()
        self.members_url = f"{sandbox.url}/3.0/lists/{sandbox.list_id()}/members"

    async def get(
        self, url: str | None = None, headers: dict[str, str] | None = None, **params: Any
    ) -> tuple[int, dict[str, str], bytes]:
        async with self.http.get(
            url or self.members_url, headers=headers or self.headers, params=params or None
        ) as response:
            return response.status, dict(response.headers), await response.read()


@pytest.fixture
async def client(mailchimp_sandbox: MailchimpSandbox) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as http:
        yield Client(http, mailchimp_sandbox)


async def _until(condition: Any, timeout: float = 5.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@pytest.mark.mailchimp_sandbox(members=0, frozen_at_ms=NOW_MS)
async def test_a_batch_lands_at_its_chosen_second_all_or_nothing(client: Client) -> None:
    sandbox = client.sandbox
    list_id = sandbox.list_id()
    ops = [
        {
            "op": "create",
            "list": list_id,
            "email": f"m{n}@example.com",
            "mergeFields": {"FNAME": "M"},
        }
        for n in range(3)
    ]
    answer = sandbox.admin("POST", "/batch", {"at": "2027-01-15T09:30:00+00:00", "ops": ops})
    refused = json.dumps(
        {
            "at": NOW,
            "ops": [
                {"op": "update", "list": list_id, "email": "m0@example.com", "status": "cleaned"},
                {"op": "update", "list": list_id, "email": "nobody@example.com"},
            ],
        }
    ).encode()
    async with client.http.post(f"{sandbox.url}/_admin/batch", data=refused) as response:
        refused_status, error = response.status, await response.json()

    status, _, body = await client.get(since_last_changed="2027-01-15T09:30:00+00:00")
    found = json.loads(body)["members"]

    assert answer == {
        "ids": [members.subscriber_hash(f"m{n}@example.com") for n in range(3)],
        "at": "2027-01-15T09:30:00+00:00",
    }
    assert status == 200 and len(found) == 3
    assert {m["last_changed"] for m in found} == {"2027-01-15T09:30:00+00:00"}
    assert refused_status == 400 and error["error"].startswith("ops[1]: Resource Not Found")
    assert {m["status"] for m in found} == {"subscribed"}  # ops[0] of the refused batch undone


async def test_beyond_ten_requests_in_flight_the_next_gets_429(client: Client) -> None:
    client.sandbox.admin("POST", "/faults", {"kind": "latency", "delay": 0.5, "count": 10})
    held = [asyncio.create_task(client.get()) for _ in range(10)]
    await _until(lambda: client.sandbox.state.connections.in_flight().get("sandbox") == 10)

    status, headers, body = await client.get()
    another_token = client.sandbox.headers(client.sandbox.state.tokens.issue_token("sandbox"))
    same_account_again, _, _ = await client.get(headers=another_token)
    answers = await asyncio.gather(*held)

    assert status == 429 and headers["Content-Type"].startswith("application/problem+json")
    assert json.loads(body)["status"] == 429
    assert same_account_again == 429  # the limit is per account, not per token
    assert [a[0] for a in answers] == [200] * 10
    assert (await client.get())[0] == 200  # places are given back
    counters = client.sandbox.state.counters()
    assert counters["tooManyConnections"] == 2 and counters["peakConnections"] == 10


@pytest.mark.mailchimp_sandbox(accounts=("one", "two"))
async def test_each_account_has_its_own_ten(client: Client) -> None:
    tokens = client.sandbox.state.tokens
    one = client.sandbox.headers(tokens.issue_token("one"))
    two = client.sandbox.headers(tokens.issue_token("two"))
    client.sandbox.admin("POST", "/faults", {"kind": "latency", "delay": 0.5, "count": 10})
    held = [asyncio.create_task(client.get(headers=one)) for _ in range(10)]
    await _until(lambda: client.sandbox.state.connections.in_flight().get("one") == 10)

    assert (await client.get(headers=two))[0] == 200
    assert (await client.get(headers=one))[0] == 429
    await asyncio.gather(*held)


async def test_status_faults_answer_problem_json_with_retry_after(client: Client) -> None:
    client.sandbox.admin("POST", "/faults", {"kind": "status", "status": 503, "count": 1})
    client.sandbox.admin("POST", "/faults", {"kind": "rate_limit", "retryAfter": 7, "count": 1})

    first, _, body = await client.get()
    second, headers, limited = await client.get()
    third, _, _ = await client.get()

    assert first == 503 and json.loads(body)["title"] == "Service Unavailable"
    assert second == 429 and headers["Retry-After"] == "7"
    assert json.loads(limited)["title"] == "Too Many Requests"
    assert third == 200
    assert client.sandbox.admin("GET", "/faults") == []


async def test_malformed_and_path_scoped_faults(client: Client) -> None:
    lists_url = f"{client.sandbox.url}/3.0/lists"
    client.sandbox.admin(
        "POST", "/faults", {"kind": "malformed", "count": 1, "path": "/3.0/lists/"}
    )

    untouched, _, _ = await client.get(lists_url)
    status, _, body = await client.get()

    assert untouched == 200
    assert status == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)


async def test_clock_limits_and_counters(client: Client) -> None:
    sandbox = client.sandbox
    frozen = sandbox.admin("PUT", "/clock", {"frozenAt": "2027-01-15T08:00:00+00:00"})
    limits = sandbox.admin("PUT", "/limits", {"connections": 0})
    await client.get()
    counters = sandbox.admin("GET", "/counters")
    state = sandbox.admin("GET", "/state")

    assert frozen["now"] == NOW_MS and frozen["frozen"] is True
    assert limits == {"connections": 0}
    assert counters["calls"] == {f"GET /3.0/lists/{sandbox.list_id()}/members": 1}
    assert state["now"] == "2027-01-15T08:00:00+00:00"
    assert len(state["lists"]) == 2 and len(state["lists"][0]["members"]) == 25

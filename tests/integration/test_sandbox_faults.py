"""Injected faults and rate limits of the sandbox, over loopback."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.sandbox_fixtures import ActonSandbox

RATE_LIMITED = {
    "httpCode": "429",
    "httpMessage": "Too Many Requests",
    "moreInformation": "Rate Limit exceeded",
}


class Client:
    def __init__(self, http: aiohttp.ClientSession, sandbox: ActonSandbox) -> None:
        self.http = http
        self.sandbox = sandbox
        self.headers = {"Authorization": f"Bearer {sandbox.token()['access_token']}"}

    async def get(self, path: str = "/api/1/list/l-0001") -> tuple[int, dict[str, str], bytes]:
        async with self.http.get(self.sandbox.url + path, headers=self.headers) as response:
            return response.status, dict(response.headers), await response.read()

    def fault(self, **spec: Any) -> dict[str, Any]:
        armed: dict[str, Any] = self.sandbox.admin("POST", "/faults", spec)
        return armed


@pytest.fixture
async def client(acton_sandbox: ActonSandbox) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as http:
        yield Client(http, acton_sandbox)


async def test_latency_delays_then_answers(client: Client) -> None:
    client.fault(kind="latency", delay=0.3, count=1)

    started = time.monotonic()
    slow, _, _ = await client.get()
    slow_took = time.monotonic() - started
    started = time.monotonic()
    await client.get()
    fast_took = time.monotonic() - started

    assert slow == 200
    assert slow_took >= 0.3 > fast_took


async def test_status_fault_fires_count_times_on_its_path_only(client: Client) -> None:
    client.fault(kind="status", status=500, count=2, path="/api/1/list/l-0001")

    other, _, _ = await client.get("/api/1/list/l-0002")
    statuses = [(await client.get())[0] for _ in range(3)]

    assert other == 200
    assert statuses == [500, 500, 200]
    assert client.sandbox.admin("GET", "/faults") == []
    assert client.sandbox.state.counters()["faultsFired"] == 2


async def test_status_fault_with_retry_after_and_method(client: Client) -> None:
    client.fault(kind="status", status=503, retryAfter=9, method="GET")

    status, headers, body = await client.get()

    assert (status, headers["Retry-After"]) == (503, "9")
    assert json.loads(body)["httpCode"] == "503"


async def test_rate_limit_fault_answers_like_act_on(client: Client) -> None:
    client.fault(kind="rate_limit", retryAfter=3, count=1)

    status, headers, body = await client.get()

    assert (status, headers["Retry-After"], json.loads(body)) == (429, "3", RATE_LIMITED)


async def test_malformed_body_does_not_parse(client: Client) -> None:
    client.fault(kind="malformed", count=1)

    status, headers, body = await client.get()

    assert status == 200 and headers["Content-Type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    assert json.loads((await client.get())[2])["listId"] == "l-0001"


async def test_drop_closes_the_connection_mid_body(client: Client) -> None:
    client.fault(kind="drop", count=1)

    with pytest.raises(aiohttp.ClientPayloadError):
        await client.get()
    status, _, _ = await client.get()

    assert status == 200


async def test_faults_can_target_the_token_endpoint(
    client: Client, acton_sandbox: ActonSandbox
) -> None:
    client.fault(kind="status", status=502, path="/token", count=1)

    async with client.http.post(
        f"{acton_sandbox.url}/token", data={"grant_type": "password"}
    ) as response:
        assert response.status == 502
    assert acton_sandbox.token()["access_token"]


async def test_probability_is_seeded_and_partial(client: Client) -> None:
    client.fault(kind="status", status=500, probability=0.5)
    statuses = [(await client.get())[0] for _ in range(40)]

    assert 0 < statuses.count(500) < 40
    assert set(statuses) == {200, 500}


async def test_faults_are_listed_and_removed(client: Client) -> None:
    armed = client.fault(kind="status", status=500)
    client.fault(kind="latency", delay=0.01)

    listed = client.sandbox.admin("GET", "/faults")
    client.sandbox.admin("DELETE", f"/faults/{armed['id']}")
    after_one = client.sandbox.admin("GET", "/faults")
    client.sandbox.admin("DELETE", "/faults")

    assert [f["kind"] for f in listed] == ["status", "latency"]
    assert [f["kind"] for f in after_one] == ["latency"]
    assert client.sandbox.admin("GET", "/faults") == []
    assert (await client.get())[0] == 200


def test_bad_fault_specs_are_refused(acton_sandbox: ActonSandbox) -> None:
    for spec in (
        {"kind": "explode"},
        {"kind": "status", "count": 0},
        {"kind": "status", "probability": 2},
        {"kind": "latency", "path": "api"},
    ):
        with pytest.raises(AssertionError):
            acton_sandbox.admin("POST", "/faults", spec)


@pytest.mark.acton_sandbox(rate_per_second=5)
async def test_five_calls_a_second_then_429_with_retry_after(client: Client) -> None:
    answers = [await client.get() for _ in range(6)]

    assert [status for status, _, _ in answers] == [200] * 5 + [429]
    _, headers, body = answers[-1]
    assert json.loads(body) == RATE_LIMITED
    assert int(headers["Retry-After"]) >= 1
    assert client.sandbox.state.counters()["rateLimited"] == 1


@pytest.mark.acton_sandbox(rate_per_day=3)
async def test_daily_quota_then_429_until_midnight(client: Client) -> None:
    answers = [await client.get() for _ in range(4)]

    assert [status for status, _, _ in answers] == [200, 200, 200, 429]
    assert 1 <= int(answers[-1][1]["Retry-After"]) <= 86_400


@pytest.mark.acton_sandbox(
    rate_per_second=2, accounts={"a@example.com": "pa", "b@example.com": "pb"}
)
async def test_limits_are_per_account(client: Client, acton_sandbox: ActonSandbox) -> None:
    other = {"Authorization": f"Bearer {acton_sandbox.token('b@example.com')['access_token']}"}
    first = [(await client.get())[0] for _ in range(3)]
    async with client.http.get(f"{acton_sandbox.url}/api/1/list", headers=other) as response:
        second = response.status

    assert first == [200, 200, 429]
    assert second == 200


async def test_limits_are_off_by_default_and_settable_at_runtime(client: Client) -> None:
    assert [(await client.get())[0] for _ in range(10)] == [200] * 10

    client.sandbox.admin("PUT", "/limits", {"perSecond": 1, "perDay": 0})
    statuses = [(await client.get())[0] for _ in range(2)]

    assert statuses == [200, 429]
    assert client.sandbox.admin("GET", "/limits") == {"perSecond": 1.0, "perDay": 0}

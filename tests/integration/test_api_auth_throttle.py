"""Failed authentications are rate-limited per client address: 429 with Retry-After, counted in
/metrics; successful calls are never counted."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.api_fixtures import RunningApi


async def _metric(api: RunningApi, name: str) -> float:
    text = (await api.call("GET", "/metrics")).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not in /metrics")


async def test_the_21st_failure_in_a_minute_is_429_with_retry_after(api: RunningApi) -> None:
    good = await api.create_user()
    failures = await _metric(api, "headwater_auth_failures_total")
    refusals = await _metric(api, "headwater_auth_refusals_total")
    for attempt in range(20):
        wrong = f"User guess-{attempt}, Organization guess-{attempt}"
        reply = await api.call("GET", "instances", auth=wrong)
        assert reply.status == 401, (attempt, reply.text)
    reply = await api.call("GET", "instances", auth="User guess-21, Organization guess-21")
    assert reply.status == 429, reply.text
    assert 1 <= int(reply.headers["Retry-After"]) <= 60
    assert reply.json["requestId"].startswith("req_")
    assert "Too many failed authentications" in reply.json["message"]
    # a body route is refused the same way, before its body is read
    posted = await api.call("POST", "instances", auth="User g, Organization g", json={})
    assert posted.status == 429 and "Retry-After" in posted.headers
    # while the address is refused, no credential is looked at, not even a right one
    assert (await api.call("GET", "instances", auth=good)).status == 429
    assert await _metric(api, "headwater_auth_failures_total") == failures + 20
    assert await _metric(api, "headwater_auth_refusals_total") == refusals + 3


@pytest.mark.api(auth_failure_limit=3)
async def test_successful_calls_are_never_counted(api: RunningApi) -> None:
    good = await api.create_user()
    for _ in range(12):
        assert (await api.call("GET", "instances", auth=good)).status == 200
    for _ in range(3):
        assert (await api.call("GET", "instances", auth="User x, Organization y")).status == 401
    assert (await api.call("GET", "instances", auth="User x, Organization y")).status == 429


@pytest.mark.api(auth_failure_limit=2, auth_failure_window_seconds=1.0)
async def test_the_window_slides_and_the_address_may_try_again(api: RunningApi) -> None:
    good = await api.create_user()
    for _ in range(2):
        assert (await api.call("GET", "instances", auth="Bearer nope")).status == 401
    refused = await api.call("GET", "instances", auth=good)
    assert refused.status == 429 and refused.headers["Retry-After"] == "1"
    deadline = time.monotonic() + 10
    while (reply := await api.call("GET", "instances", auth=good)).status == 429:
        assert time.monotonic() < deadline, "the window never slid"
        await asyncio.sleep(0.05)
    assert reply.status == 200, reply.text


@pytest.mark.api(auth_failure_limit=2)
async def test_a_wrong_element_token_counts_as_a_failure(api: RunningApi) -> None:
    good = await api.create_user()
    hub = "hubs/marketing/lists"
    for header in [f"{good}, Element wrong", good]:  # a wrong token, then none at all
        assert (await api.call("GET", hub, auth=header)).status == 401
    assert (await api.call("GET", hub, auth=f"{good}, Element wrong")).status == 429


async def test_routes_without_credentials_are_not_limited(api: RunningApi) -> None:
    for _ in range(25):
        assert (await api.call("GET", "instances", auth="User a, Organization b")).status in (
            401,
            429,
        )
    assert (await api.call("GET", "/healthz")).status == 200
    assert (await api.call("GET", "/readyz")).status == 200
    assert (await api.call("GET", "/metrics")).status == 200

"""Provider faults while polling: back-off, Retry-After, timeouts, bad bodies, tokens, bad records,
and the poller that disables itself after failing too often."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from tests.api_fixtures import FAST_ACTON, RunningApi
from tests.poller_support import run_poller

PAST = int(time.time() * 1000) - 2 * 3600 * 1000
pytestmark = [
    pytest.mark.acton_sandbox(frozen_at_ms=PAST, lists=1, contacts=5),
    pytest.mark.api(element_settings=FAST_ACTON, provider_timeout_seconds=0.5),
]


def _date(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


async def _setup(api: RunningApi, overrides: dict[str, Any] | None = None) -> tuple[str, int]:
    api.sandbox.state.clock.reset()
    auth = await api.create_user()
    iid = (await api.create_instance(overrides, auth=auth))["id"]
    first = await run_poller(api.container, iid)  # the first run, with its reconciliation
    assert first.status == "ok", first
    return auth, iid


async def _state(api: RunningApi, auth: str, iid: int) -> dict[str, Any]:
    reply = await api.call("GET", f"instances/{iid}/pollers", auth=auth)
    assert reply.status == 200, reply.text
    state: dict[str, Any] = reply.json[0]
    return state


async def test_server_errors_back_off_and_recover(api: RunningApi) -> None:
    auth, iid = await _setup(api)
    api.sandbox.state.faults.add({"kind": "status", "status": 503, "count": 1})
    failed = await run_poller(api.container, iid)
    assert failed.status == "unavailable"
    state = await _state(api, auth, iid)
    assert state["consecutiveFailures"] == 1 and "503" in state["lastError"]
    wait = (_date(state["nextRunDate"]) - dt.datetime.now(dt.UTC)).total_seconds()
    assert 15 * 60 - 5 < wait <= 15 * 60 + 6, "the first retry waits one interval (and jitter)"
    recovered = await run_poller(api.container, iid)
    assert recovered.status == "ok"
    state = await _state(api, auth, iid)
    assert state["consecutiveFailures"] == 0 and state["lastError"] is None


async def test_rate_limit_moves_the_next_run_to_retry_after(api: RunningApi) -> None:
    auth, iid = await _setup(api)
    api.sandbox.state.faults.add({"kind": "rate_limit", "retryAfter": 120, "count": 1})
    outcome = await run_poller(api.container, iid)
    assert outcome.status == "rate_limited"
    state = await _state(api, auth, iid)
    wait = (_date(state["nextRunDate"]) - dt.datetime.now(dt.UTC)).total_seconds()
    assert 110 < wait <= 121, state
    assert "429" in state["lastError"]


async def test_timeouts_and_malformed_bodies_are_failures(api: RunningApi) -> None:
    auth, iid = await _setup(api)
    faults = api.sandbox.state.faults
    faults.add({"kind": "latency", "delay": 1.5, "count": 1})
    slow = await run_poller(api.container, iid)
    assert slow.status == "unavailable" and "did not answer" in (slow.error or "")
    faults.add({"kind": "malformed", "count": 1})
    broken = await run_poller(api.container, iid)
    assert broken.status == "unavailable"
    assert (await _state(api, auth, iid))["consecutiveFailures"] == 2
    assert (await run_poller(api.container, iid)).status == "ok"


async def test_an_expired_token_is_refreshed_and_the_poll_goes_on(api: RunningApi) -> None:
    _, iid = await _setup(api)
    api.sandbox.state.batch([{"op": "touch", "id": "l-0001:1"}])
    api.sandbox.admin("POST", "/tokens/expire")
    outcome = await run_poller(api.container, iid)
    assert (outcome.status, outcome.events) == ("ok", 1)
    assert api.sandbox.state.counters()["grants"].get("refresh_token", 0) >= 1


async def test_a_revoked_token_invalidates_the_instance_until_reauthenticated(
    api: RunningApi,
) -> None:
    auth, iid = await _setup(api)
    api.sandbox.admin("POST", "/tokens/revoke", {"access": True})
    outcome = await run_poller(api.container, iid)
    assert outcome.status == "refused"
    instance = (await api.call("GET", f"instances/{iid}", auth=auth)).json
    assert instance["valid"] is False and instance["invalidReason"]
    state = await _state(api, auth, iid)
    assert state["lastError"] and state["nextRunDate"] is None
    refused = await api.call("POST", f"instances/{iid}/pollers/contacts/run", auth=auth)
    assert refused.status == 409

    body = api.docs_body(await api.authorize_code())
    replaced = await api.call("PUT", f"instances/{iid}", auth=auth, json=body)
    assert replaced.status == 200 and replaced.json["valid"] is True, replaced.text
    assert (await _state(api, auth, iid))["nextRunDate"] is not None
    assert (await run_poller(api.container, iid)).status == "ok"


@pytest.mark.api(element_settings=FAST_ACTON, poller_failure_limit=3)
async def test_a_poller_failing_too_often_disables_itself_and_resumes(api: RunningApi) -> None:
    auth, iid = await _setup(api)
    fault = api.sandbox.state.faults.add({"kind": "status", "status": 500})
    for _ in range(3):
        assert (await run_poller(api.container, iid)).status == "unavailable"
    state = await _state(api, auth, iid)
    assert state["enabled"] is False and state["consecutiveFailures"] == 3
    assert "3 failures in a row" in state["disabledReason"]
    api.sandbox.state.faults.remove(fault.id)

    resumed = await api.call("PUT", f"instances/{iid}/pollers/contacts/enabled", auth=auth)
    assert resumed.json["enabled"] is True and resumed.json["consecutiveFailures"] == 0
    assert (await run_poller(api.container, iid)).status == "ok"

    api.sandbox.state.faults.add({"kind": "status", "status": 500, "count": 3})
    for _ in range(3):
        await run_poller(api.container, iid)
    assert (await _state(api, auth, iid))["enabled"] is False
    again = await api.call("PUT", f"instances/{iid}/enabled", auth=auth)
    assert again.status == 200, again.text
    assert (await _state(api, auth, iid))["enabled"] is True


async def test_an_unreadable_record_fails_the_poll_naming_it(api: RunningApi) -> None:
    config = {
        "contacts": {
            "url": "/hubs/marketing/lists/{listId}/contacts?where=modafter='${epoch}'",
            "idField": "_contact_id_",
            "datesConfiguration": {
                "updatedDateField": "Job Title",
                "updatedDateFormat": "milliseconds",
            },
        }
    }
    auth, iid = await _setup(api, {"event.poller.configuration": config})
    api.sandbox.state.batch([{"op": "update", "id": "l-0001:2", "values": {"Job Title": "CEO"}}])
    outcome = await run_poller(api.container, iid)
    assert outcome.status == "record_error"
    assert "record l-0001:2" in (outcome.error or "") and "Job Title" in (outcome.error or "")
    assert "l-0001:2" in (await _state(api, auth, iid))["lastError"]

    config["contacts"]["idField"] = "Contact Key"
    config["contacts"]["datesConfiguration"]["updatedDateField"] = "__modified_date"
    patched = await api.call(
        "PATCH",
        f"instances/{iid}",
        auth=auth,
        json={"configuration": {"event.poller.configuration": config}},
    )
    assert patched.status == 200, patched.text
    api.sandbox.state.batch([{"op": "touch", "id": "l-0001:3"}])
    outcome = await run_poller(api.container, iid)
    assert outcome.status == "record_error" and "'Contact Key'" in (outcome.error or "")

"""Nothing wedges a poller: an unexpected error in a poll, or in recording its failure, is recorded
(``lastError``, one more failure in a row), the lease is given back, and later polls still run."""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

import pytest
import sqlalchemy as sa

from headwater.poller import context, failures
from headwater.storage import db, tables
from tests.api_fixtures import FAST_ACTON, RunningApi
from tests.poller_support import poller_row, run_poller, stored_events

PAST = int(time.time() * 1000) - 2 * 3600 * 1000
pytestmark = [
    pytest.mark.acton_sandbox(frozen_at_ms=PAST, lists=1, contacts=5),
    pytest.mark.api(element_settings=FAST_ACTON, provider_timeout_seconds=0.5),
]


async def _setup(api: RunningApi) -> tuple[str, int]:
    api.sandbox.state.clock.reset()
    auth = await api.create_user()
    iid = (await api.create_instance(auth=auth))["id"]
    first = await run_poller(api.container, iid)
    assert first.status == "ok", first
    return auth, iid


async def _state(api: RunningApi, auth: str, iid: int) -> dict[str, Any]:
    reply = await api.call("GET", f"instances/{iid}/pollers", auth=auth)
    assert reply.status == 200, reply.text
    state: dict[str, Any] = reply.json[0]
    return state


async def _seconds_until(state: dict[str, Any]) -> float:
    when = dt.datetime.fromisoformat(state["nextRunDate"].replace("Z", "+00:00"))
    return (when - dt.datetime.now(dt.UTC)).total_seconds()


async def test_a_poll_that_crashes_is_recorded_and_later_polls_run(
    api: RunningApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth, iid = await _setup(api)
    # planning the next run crashes, both after the poll and after its failure: stored
    # configurations are read defensively, so the crash is provoked inside Headwater's own code
    broken = {"on": True}
    plan = context.interval_seconds

    def crashing(settings: Any, configuration: Any) -> float:
        if broken["on"]:
            raise OverflowError("date value out of range")
        return plan(settings, configuration)

    monkeypatch.setattr(context, "interval_seconds", crashing)

    for failed_so_far in (1, 2):
        outcome = await run_poller(api.container, iid)
        assert outcome.status == "failed", outcome
        state = await _state(api, auth, iid)
        assert "internal error: OverflowError" in state["lastError"]
        assert "recording it failed" in state["lastError"]
        assert state["consecutiveFailures"] == failed_so_far
        wait = await _seconds_until(state)
        assert 0 < wait <= api.settings.poll_lease_seconds + 1, "it runs again, one lease later"
        assert (await poller_row(api.container, iid)).lease_owner is None

    broken["on"] = False
    repaired = await api.call(
        "PATCH",
        f"instances/{iid}",
        auth=auth,
        json={"configuration": {"event.poller.refresh_interval": 15}},
    )
    assert repaired.status == 200, repaired.text
    [contact] = api.sandbox.state.batch([{"op": "touch", "id": "l-0001:2"}])
    outcome = await run_poller(api.container, iid)
    assert (outcome.status, outcome.events) == ("ok", 1), outcome
    state = await _state(api, auth, iid)
    assert state["lastError"] is None and state["consecutiveFailures"] == 0
    [event] = await stored_events(api.container, iid)
    assert event.object_id == contact and event.delivery_id is not None, "its notification waits"


async def test_a_crash_while_recording_a_failure_is_recorded_plainly(
    api: RunningApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth, iid = await _setup(api)

    async def broken(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("the failure handler broke")

    monkeypatch.setattr(failures, "record", broken)
    api.sandbox.state.faults.add({"kind": "status", "status": 503, "count": 1})
    outcome = await run_poller(api.container, iid)
    assert outcome.status == "unavailable", outcome
    state = await _state(api, auth, iid)
    assert "503" in state["lastError"]
    assert "RuntimeError: the failure handler broke" in state["lastError"]
    assert state["consecutiveFailures"] == 1 and state["nextRunDate"] is not None
    assert (await poller_row(api.container, iid)).lease_owner is None

    monkeypatch.undo()
    [contact] = api.sandbox.state.batch([{"op": "touch", "id": "l-0001:3"}])
    outcome = await run_poller(api.container, iid)
    assert (outcome.status, outcome.events) == ("ok", 1), outcome
    assert [e.object_id for e in await stored_events(api.container, iid)] == [contact]


async def test_when_nothing_can_be_recorded_the_lease_runs_out_and_is_taken_over(
    api: RunningApi, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    auth, iid = await _setup(api)

    async def broken(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("no recording today")

    monkeypatch.setattr(failures, "record", broken)
    monkeypatch.setattr(failures, "record_plainly", broken)
    api.sandbox.state.faults.add({"kind": "status", "status": 503, "count": 1})
    with caplog.at_level(logging.ERROR, logger="headwater.poller.service"):
        outcome = await run_poller(api.container, iid)
    assert outcome.status == "unavailable", outcome
    assert any("could not record the failure at all" in r.getMessage() for r in caplog.records)
    row = await poller_row(api.container, iid)
    assert row.lease_owner is not None, "the lease is left to run out"

    monkeypatch.undo()
    p = tables.pollers
    async with db.transaction(api.container.engine) as conn:  # as if the lease had run out
        past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        await conn.execute(sa.update(p).where(p.c.id == row.id).values(lease_until=past))
    api.sandbox.state.batch([{"op": "touch", "id": "l-0001:4"}])
    taken_over = await run_poller(api.container, iid)
    assert (taken_over.status, taken_over.events) == ("ok", 1), taken_over
    assert (await _state(api, auth, iid))["lastError"] is None

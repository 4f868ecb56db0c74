"""``headwater status``'s figures and table, from rows (no database)."""

from __future__ import annotations

import datetime as dt

from headwater import status
from headwater.storage import pollers
from headwater.storage import status as rows

NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)


def _poller(**changes: object) -> pollers.Poller:
    values: dict[str, object] = {
        "id": 1, "instance_id": 7, "resource": "contacts", "enabled": True,
        "disabled_reason": None, "query_fingerprint": "f", "cursor_ms": None, "start_ms": None,
        "next_run_at": NOW - dt.timedelta(minutes=5), "last_run_at": NOW - dt.timedelta(hours=2),
        "next_reconcile_at": None, "last_error": None, "consecutive_failures": 0,
        "last_event_count": 0, "run_requested": False, "lease_owner": None, "lease_until": None,
    }  # fmt: skip
    values.update(changes)
    return pollers.Poller(**values)  # type: ignore[arg-type]


def test_lag_is_how_long_past_due_and_none_when_it_cannot_run() -> None:
    assert status.health(_poller(), NOW).lag_seconds == 300
    on_time = _poller(next_run_at=NOW + dt.timedelta(minutes=1))
    assert status.health(on_time, NOW).lag_seconds == 0
    assert status.health(_poller(enabled=False), NOW).lag_seconds is None
    assert status.health(_poller(), NOW, runs=False).lag_seconds is None


def test_durations_are_short() -> None:
    assert [status.duration(s) for s in (5, 90, 7200, 3 * 86400)] == ["5s", "1m", "2h", "3d"]


def test_the_table_has_one_line_per_poller() -> None:
    instance = rows.InstanceRow(
        id=7, name="Polling", element_key="acton", organization_id=1, organization="Acme",
        valid=False, invalid_reason="revoked", disabled=False, events_enabled=True,
        subscription_active=False,
    )  # fmt: skip
    backlog = rows.Backlog({"created": 1, "retry": 0, "queued": 2}, NOW - dt.timedelta(hours=3))
    failing = _poller(consecutive_failures=4, last_error="provider said:\n  " + "x" * 100)
    report = [
        status.InstanceHealth(
            instance,
            backlog,
            [status.health(failing, NOW), status.health(_poller(resource="lists"), NOW)],
        )
    ]
    heading, first, second = status.table(report, now=NOW).splitlines()
    assert heading.startswith("INSTANCE") and "LAST ERROR" in heading
    assert first.split()[:9] == [
        "7", "Polling", "acton", "Acme", "invalid", "deactivated", "3", "(oldest", "3h",
    ]  # fmt: skip
    assert "provider said: xxx" in first and first.endswith("…") and "\n" not in first
    assert second.lstrip().startswith("lists")
    [shown] = status.as_json(report, now=NOW)
    assert shown["state"] == "invalid" and shown["queue"]["total"] == 3
    assert shown["queue"]["oldestAgeSeconds"] == 3 * 3600
    assert [p["resource"] for p in shown["pollers"]] == ["contacts", "lists"]
    assert status.table([], now=NOW) == "no instances\n"

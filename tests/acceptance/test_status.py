"""``headwater status``: every instance with its pollers' health, lag, queue and subscription."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import cli_support as cli
from tests.sandbox_fixtures import ActonSandbox, Receiver


def _status(environ: dict[str, str], cwd: Path) -> list[dict[str, Any]]:
    result = cli.run(["status", "--json"], environ, cwd)
    assert result.returncode == 0, result.stderr
    parsed: list[dict[str, Any]] = json.loads(result.stdout)
    return parsed


@pytest.mark.acton_sandbox(lists=1, contacts=2)
def test_status_shows_pollers_queues_and_subscriptions(
    acton_sandbox: ActonSandbox,
    receiver: Receiver,
    receiver_factory: Callable[..., Receiver],
    tmp_path: Path,
) -> None:
    environ = cli.env(
        tmp_path,
        HEADWATER_ACTON_BASE_URL=acton_sandbox.url,
        HEADWATER_ALLOW_PRIVATE_CALLBACKS="true",
        HEADWATER_TICK_SECONDS="0.05",
    )
    auth = cli.make_user(environ, tmp_path, org="Acme")
    gone = receiver_factory(fail="410")  # refuses for good: the subscription is deactivated
    with cli.serving(environ, tmp_path) as served:
        healthy = cli.make_instance(
            served, auth, acton_sandbox, cli.polling_configuration(acton_sandbox, receiver)
        )
        refused = cli.make_instance(
            served, auth, acton_sandbox, cli.polling_configuration(acton_sandbox, gone)
        )

        def polled(instance: dict[str, Any]) -> bool:
            url = f"{served.api}/instances/{instance['id']}/pollers"
            status, listed = cli.http("GET", url, auth=auth)
            return status == 200 and all(p["lastRunDate"] for p in listed)

        cli.wait_until(lambda: polled(healthy) and polled(refused), "the first polls")
        acton_sandbox.admin("POST", "/lists/l-0001/contacts", {"values": {"First Name": "Zed"}})
        for instance in (healthy, refused):
            url = f"{served.api}/instances/{instance['id']}/pollers/contacts/run"
            assert cli.http("POST", url, auth=auth)[0] == 202
        cli.wait_until(lambda: receiver.delivered and gone.arrivals, "both notifications")

        def deactivated() -> bool:
            return not _status(environ, tmp_path)[1]["subscriptionActive"]

        cli.wait_until(deactivated, "the refused subscription to be deactivated")
        url = f"{served.api}/instances/{refused['id']}/pollers/contacts/enabled"
        assert cli.http("DELETE", url, auth=auth)[0] == 200

    # the workers are gone: the healthy poller falls behind, with the failures it had
    an_hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with sqlite3.connect(tmp_path / "data" / "headwater.db") as conn:
        conn.execute(
            "UPDATE pollers SET next_run_at = ?, consecutive_failures = 3,"
            " last_error = 'provider unavailable: 503' WHERE instance_id = ?",
            (an_hour_ago.strftime("%Y-%m-%d %H:%M:%S.%f"), healthy["id"]),
        )

    first, second = _status(environ, tmp_path)
    assert (first["id"], first["organization"], first["elementKey"]) == (
        healthy["id"],
        "Acme",
        "acton",
    )
    assert first["state"] == "ok" and first["subscriptionActive"] is True
    assert first["queue"]["total"] == 0 and first["queue"]["oldestDate"] is None
    [poller] = first["pollers"]
    assert poller["resource"] == "contacts" and poller["enabled"] is True
    assert poller["lastRunDate"] is not None
    assert 3590 <= poller["lagSeconds"] <= 3700
    assert (poller["consecutiveFailures"], poller["lastError"]) == (3, "provider unavailable: 503")

    assert second["id"] == refused["id"] and second["subscriptionActive"] is False
    assert second["queue"]["queued"] == 1 and second["queue"]["total"] == 1
    assert second["queue"]["oldestAgeSeconds"] >= 0
    [paused] = second["pollers"]
    assert paused["enabled"] is False and paused["disabledReason"] == "paused"
    assert paused["lagSeconds"] is None

    text = cli.run(["status"], environ, tmp_path)
    assert text.returncode == 0, text.stderr
    heading, *rows = text.stdout.splitlines()
    assert heading.split()[:3] == ["INSTANCE", "ELEMENT", "ORGANIZATION"]
    assert "1h" in rows[0] and "provider unavailable: 503" in rows[0]
    assert "deactivated" in rows[1] and "disabled" in rows[1] and "1 (oldest" in rows[1]


def test_status_without_instances_or_database(tmp_path: Path) -> None:
    environ = cli.env(tmp_path)
    missing = cli.run(["status"], environ, tmp_path)
    assert missing.returncode == 1 and "no database at" in missing.stderr
    assert not (tmp_path / "data").exists()
    assert cli.run(["db", "upgrade"], environ, tmp_path).returncode == 0
    assert cli.run(["status"], environ, tmp_path).stdout == "no instances\n"
    assert _status(environ, tmp_path) == []

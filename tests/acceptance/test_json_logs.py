"""``HEADWATER_LOG_FORMAT=json``: every line the server writes is one JSON object, and the lines
of a request, a poll and a delivery carry their ids."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests import cli_support as cli
from tests.sandbox_fixtures import ActonSandbox, Receiver


def _lines(text: str) -> list[dict[str, Any]]:
    parsed = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"line {number} is not JSON: {line!r}")
        assert {"time", "level", "logger", "message"} <= set(parsed[-1]), line
    return parsed


@pytest.mark.acton_sandbox(lists=1, contacts=2)
def test_json_log_lines_carry_the_ids(
    acton_sandbox: ActonSandbox, receiver: Receiver, tmp_path: Path
) -> None:
    environ = cli.env(
        tmp_path,
        HEADWATER_LOG_FORMAT="json",
        HEADWATER_ACTON_BASE_URL=acton_sandbox.url,
        HEADWATER_ALLOW_PRIVATE_CALLBACKS="true",
        HEADWATER_TICK_SECONDS="0.05",
    )
    auth = cli.make_user(environ, tmp_path)
    with cli.serving(environ, tmp_path) as served:
        configuration = cli.polling_configuration(acton_sandbox, receiver)
        instance = cli.make_instance(served, auth, acton_sandbox, configuration)
        pollers = f"{served.api}/instances/{instance['id']}/pollers"

        def first_poll_done() -> bool:
            status, listed = cli.http("GET", pollers, auth=auth)
            return status == 200 and any(p["lastRunDate"] for p in listed)

        cli.wait_until(first_poll_done, "the first poll")
        acton_sandbox.admin("POST", "/lists/l-0001/contacts", {"values": {"First Name": "Zed"}})
        status, _ = cli.http("POST", f"{pollers}/contacts/run", auth=auth)
        assert status == 202
        cli.wait_until(lambda: receiver.delivered, "a notification at the receiver")
        notification = receiver.delivered[0]["json"]["message"]

        def delivery_logged() -> bool:
            return any(
                line.get("notification_id") == notification["eventId"]
                for line in _lines(served.output())
            )

        cli.wait_until(delivery_logged, "the delivery's log line")
    lines = _lines(served.output())

    requests = [line for line in lines if line.get("request_id", "").startswith("req_")]
    assert any(line["logger"] == "uvicorn.access" for line in requests), requests[:5]

    polls = [line for line in lines if line.get("event_ids")]
    assert polls, [line["message"] for line in lines]
    poll = polls[-1]
    assert poll["instance_id"] == instance["id"] and poll["resource"] == "contacts"
    assert poll["poll_id"] and poll["logger"].startswith("headwater.poller")
    assert poll["event_ids"] == [event["id"] for event in notification["events"]]

    deliveries = [line for line in lines if line.get("notification_id") == notification["eventId"]]
    assert all(line["instance_id"] == instance["id"] for line in deliveries)
    assert all(isinstance(line["delivery_id"], int) for line in deliveries)
    assert any("delivered" in line["message"] for line in deliveries), deliveries

"""Helpers of the operations tests: an organization with an operations endpoint at a receiver,
the alert checks run on demand, and the counters they move."""

from __future__ import annotations

import json
from typing import Any

from prometheus_client import REGISTRY

from headwater.domain import alerts as rules
from tests.api_fixtures import RunningApi
from tests.sandbox_fixtures import Receiver


async def with_operations(api: RunningApi, auth: str, receiver: Receiver) -> None:
    """Send the organization's operations notifications to ``receiver``, signed with its key."""
    reply = await api.call(
        "PUT",
        "notifications/operations",
        auth=auth,
        json={"url": receiver.url, "signatureKey": receiver.secret},
    )
    assert reply.status == 200, reply.text


async def check(api: RunningApi) -> list[str]:
    """One alert check; the types of the transitions it decided."""
    transitions: list[rules.Transition] = await api.container.alerts.check()
    return [t.type for t in transitions]


def counted(kind: str) -> float:
    """``headwater_alerts_total{type=kind}`` in this process."""
    return REGISTRY.get_sample_value("headwater_alerts_total", {"type": kind}) or 0.0


def notices(receiver: Receiver) -> list[dict[str, Any]]:
    """The operations notifications the receiver took, as JSON."""
    return [json.loads(a["body"]) for a in receiver.delivered]

"""The Act-On sandbox's outgoing webhooks: Svix-signed, retried on failure, dropped on demand."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from headwater.domain import signing
from tests.sandbox_fixtures import ActonSandbox, Receiver

pytestmark = pytest.mark.acton_sandbox(lists=1, contacts=2, webhook_retry_delays=(0.05, 0.05))


async def _settled(sandbox: ActonSandbox, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 5
    while True:
        found: list[dict[str, Any]] = sandbox.admin("GET", "/webhooks")["deliveries"]
        if len(found) >= count and all(d["done"] for d in found):
            return found
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.01)


@pytest.mark.receiver(fail="500,ok")
async def test_signed_retried_with_the_same_id_and_dropped_on_demand(
    acton_sandbox: ActonSandbox, receiver: Receiver
) -> None:
    endpoint = acton_sandbox.admin("POST", "/webhooks", {"url": f"{receiver.base_url}/in"})
    assert endpoint["secret"].startswith("whsec_") and endpoint["events"] == [
        "contact.added",
        "contact.updated",
    ]
    [added] = acton_sandbox.state.batch(
        [{"op": "create", "list": "l-0001", "values": {"First Name": "Ada"}}]
    )
    arrivals = await receiver.wait_for(lambda a: len(a) >= 2, timeout=5)
    first, retry = arrivals[0], arrivals[1]
    assert (first["status"], retry["status"]) == (500, 200)
    assert first["headers"]["svix-id"] == retry["headers"]["svix-id"]
    headers = retry["headers"]
    assert signing.verify_standard(
        endpoint["secret"],
        headers["svix-id"],
        headers["svix-timestamp"],
        retry["body"].encode(),
        headers["svix-signature"],
    )
    contact = retry["json"]["data"]["contact"]
    assert retry["json"]["type"] == "contact.added" and contact["_contact_id_"] == added
    assert isinstance(contact["__modified_date"], int)

    acton_sandbox.admin("PUT", f"/webhooks/{endpoint['id']}/drop", {"count": 1})
    acton_sandbox.state.batch([{"op": "update", "id": added, "values": {"Job Title": "x"}}])
    acton_sandbox.state.batch([{"op": "delete", "id": "l-0001:0"}])  # Act-On sends no delete
    acton_sandbox.state.batch([{"op": "update", "id": added, "values": {"Job Title": "y"}}])
    deliveries = await _settled(acton_sandbox, 3)
    assert [(d["type"], d["dropped"], d["attempts"]) for d in deliveries] == [
        ("contact.added", False, [500, 200]),
        ("contact.updated", True, []),
        ("contact.updated", False, [200]),
    ]

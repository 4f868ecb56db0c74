"""Rotating an instance's signature key: a receiver verifying with the old key, then both, then
the new one never sees a notification fail verification."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest

from headwater.domain import signing
from tests import delivery_support
from tests.api_fixtures import FAST_ACTON, RunningApi
from tests.poller_support import run_poller
from tests.sandbox_fixtures import Receiver

PAST = int(time.time() * 1000) - 2 * 3600 * 1000
KEY = "event.notification.signature.key"
pytestmark = [
    pytest.mark.acton_sandbox(frozen_at_ms=PAST, lists=1, contacts=8),
    pytest.mark.api(element_settings=FAST_ACTON, tick_seconds=0.02),
]


async def _instance(api: RunningApi, receiver: Receiver) -> tuple[str, int, str]:
    """An instance notifying ``receiver``, which verifies with its generated key."""
    api.sandbox.state.clock.reset()
    auth = await api.create_user()
    created = await api.create_instance(
        {"event.notification.callback.url": receiver.url}, auth=auth
    )
    key = created["configuration"][KEY]
    assert created["signatureKey"] == {
        "fingerprint": signing.fingerprint(key),
        "elementsSignatureKey": "current",
    }
    receiver.set_secrets(key)
    assert (await run_poller(api.container, created["id"])).status == "ok"
    return auth, created["id"], key


async def _notify(api: RunningApi, iid: int, receiver: Receiver, n: int) -> dict[str, Any]:
    """Change contact ``n``, poll, and answer the notification as it arrived."""
    count = len(receiver.arrivals)
    api.sandbox.state.batch([{"op": "touch", "id": f"l-0001:{n}"}])
    assert (await run_poller(api.container, iid)).events == 1
    arrivals = await receiver.wait_for(lambda found: len(found) > count)
    return arrivals[count]


def _checked(key: str, arrival: dict[str, Any]) -> delivery_support.Checked:
    return delivery_support.check_signatures(key, arrival["headers"], arrival["body"].encode())


async def test_a_rotation_as_the_receiver_sees_it(api: RunningApi, receiver: Receiver) -> None:
    auth, iid, old = await _instance(api, receiver)
    async with delivery_support.running_worker(api.container):
        before = await _notify(api, iid, receiver, 1)
        assert _checked(old, before) == delivery_support.Checked(True, True)

        rotated = await api.call("POST", f"instances/{iid}/signature-key/rotate", auth=auth)
        assert rotated.status == 200, rotated.text
        new = rotated.json["signatureKey"]
        assert new.startswith("whsec_") and new != old
        ends = dt.datetime.fromisoformat(rotated.json["overlapEndsDate"].replace("Z", "+00:00"))
        overlap = ends - dt.datetime.now(dt.UTC)
        assert dt.timedelta(hours=23, minutes=59) < overlap <= dt.timedelta(hours=24)
        shown = await api.call("GET", f"instances/{iid}", auth=auth)
        assert shown.json["signatureKey"] == {
            "fingerprint": signing.fingerprint(new),
            "previousFingerprint": signing.fingerprint(old),
            "rotatedDate": rotated.json["rotatedDate"],
            "overlapEndsDate": rotated.json["overlapEndsDate"],
            "elementsSignatureKey": "previous",
        }
        assert new not in shown.text and old not in shown.text

        # the overlap: a receiver still on the old key verifies everything, and the Standard
        # Webhooks header verifies with the new key alone as well
        during = await _notify(api, iid, receiver, 2)
        assert during["verified"] is True
        assert _checked(old, during) == delivery_support.Checked(True, True)
        assert _checked(new, during) == delivery_support.Checked(False, True)
        assert len(during["headers"]["webhook-signature"].split()) == 2
        receiver.set_secrets(old, new)
        both = await _notify(api, iid, receiver, 3)
        assert both["verified"] is True

        # a day and more later (the dispatcher's clock moved on): only the new key signs
        real = api.container.dispatcher.clock
        api.container.dispatcher.clock = lambda: real() + dt.timedelta(days=1, minutes=1)
        after = await _notify(api, iid, receiver, 4)
        assert after["verified"] is True
        assert _checked(new, after) == delivery_support.Checked(True, True)
        assert _checked(old, after) == delivery_support.Checked(False, False)
        assert len(after["headers"]["webhook-signature"].split()) == 1
        receiver.set_secrets(new)
        last = await _notify(api, iid, receiver, 5)
        assert last["verified"] is True
    assert [a["verified"] for a in receiver.arrivals] == [True] * 5
    assert [
        json.loads(a["body"])["message"]["events"][0]["objectId"] for a in receiver.arrivals
    ] == [f"l-0001:{n}" for n in range(1, 6)]


async def test_no_overlap_switches_at_once(api: RunningApi, receiver: Receiver) -> None:
    auth, iid, old = await _instance(api, receiver)
    path = f"instances/{iid}/signature-key/rotate"
    rotated = await api.call("POST", path, auth=auth, json={"overlapSeconds": 0})
    assert rotated.status == 200, rotated.text
    new = rotated.json["signatureKey"]
    shown = (await api.call("GET", f"instances/{iid}", auth=auth)).json["signatureKey"]
    assert shown["fingerprint"] == signing.fingerprint(new)
    assert shown["elementsSignatureKey"] == "current" and "previousFingerprint" not in shown
    receiver.set_secrets(new)
    async with delivery_support.running_worker(api.container):
        arrival = await _notify(api, iid, receiver, 1)
    assert arrival["verified"] is True and _checked(old, arrival).standard is False


async def test_rotations_are_checked_and_put_never_replaces_the_key(
    api: RunningApi, receiver: Receiver
) -> None:
    auth, iid, old = await _instance(api, receiver)
    path = f"instances/{iid}/signature-key/rotate"
    for bad in ("soon", -1, 31 * 86400, True):
        refused = await api.call("POST", path, auth=auth, json={"overlapSeconds": bad})
        assert refused.status == 400, (bad, refused.text)
        assert refused.json["errors"][0]["field"] == "overlapSeconds"
    other = await api.create_user("Other")
    assert (await api.call("POST", path, auth=other)).status == 404
    assert (
        await api.call("POST", "instances/999999/signature-key/rotate", auth=auth)
    ).status == 404
    rotated = await api.call("POST", path, auth=auth)
    assert rotated.status == 200
    again = await api.call("POST", path, auth=auth)
    assert again.status == 409 and "PATCH" in again.json["message"], again.text

    # a PUT that does not name the key keeps it, and the rotation under way
    body = api.docs_body(
        await api.authorize_code(), {"event.notification.callback.url": receiver.url}
    )
    replaced = await api.call("PUT", f"instances/{iid}", auth=auth, json=body)
    assert replaced.status == 200, replaced.text
    assert replaced.json["configuration"][KEY] == "********"
    assert replaced.json["signatureKey"]["fingerprint"] == rotated.json["fingerprint"]
    assert replaced.json["signatureKey"]["previousFingerprint"] == signing.fingerprint(old)

    # a key set by hand replaces it at once and ends the overlap
    mine = "my-own-signature-key-0123456789"
    patched = await api.call(
        "PATCH", f"instances/{iid}", auth=auth, json={"configuration": {KEY: mine}}
    )
    assert patched.status == 200, patched.text
    assert patched.json["signatureKey"] == {
        "fingerprint": signing.fingerprint(mine),
        "rotatedDate": rotated.json["rotatedDate"],
        "elementsSignatureKey": "current",
    }
    assert (await api.call("POST", path, auth=auth)).status == 200, "a new rotation may start"

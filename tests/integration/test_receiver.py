"""The callback receiver over loopback: signature checks, failure patterns, arrivals."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from headwater.sandbox import receiver as receiver_module
from headwater.sandbox import serving
from tests.sandbox_fixtures import Receiver

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def _notification(event_id: str = "n-1") -> bytes:
    events = [
        {
            "objectType": "contacts",
            "objectId": "l-0001:7",
            "eventType": "UPDATED",
            "date": "2026-11-29T10:15:00.000Z",
        }
    ]
    return json.dumps(
        {"message": {"eventId": event_id, "instanceId": 1, "events": events}}
    ).encode()


def _signed(body: bytes, key: str = SECRET, event_id: str = "n-1") -> dict[str, str]:
    """Signature headers computed here with the standard library only."""
    timestamp = "1700000000"
    elements = hmac.new(key.encode(), body, hashlib.sha256).digest()
    raw_key = base64.b64decode(key.removeprefix("whsec_"))
    signed = f"{event_id}.{timestamp}.".encode() + body
    standard = hmac.new(raw_key, signed, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "Elements-Webhook-Id": event_id,
        "Elements-Webhook-Signature": "sha256=" + base64.b64encode(elements).decode(),
        "webhook-id": event_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": "v1," + base64.b64encode(standard).decode(),
    }


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _post(
    http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str], **kw: Any
) -> tuple[int, dict[str, str]]:
    async with http.post(url, data=body, headers=headers, allow_redirects=False, **kw) as response:
        await response.read()
        return response.status, dict(response.headers)


@pytest.mark.receiver(secret=SECRET)
async def test_verifies_both_signatures_computed_independently(
    receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    body = _notification()

    status, _ = await _post(http, receiver.url, body, _signed(body))

    assert status == 200
    [arrival] = receiver.arrivals
    assert arrival["elementsVerified"] is True and arrival["standardVerified"] is True
    assert arrival["verified"] is True and arrival["eventId"] == "n-1"
    assert arrival["json"]["message"]["events"][0]["objectId"] == "l-0001:7"


@pytest.mark.receiver(secret=SECRET)
async def test_a_tampered_body_fails_both_checks(
    receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    body = _notification()
    tampered = body.replace(b"UPDATED", b"CREATED")

    await _post(http, receiver.url, tampered, _signed(body))

    [arrival] = receiver.arrivals
    assert (arrival["elementsVerified"], arrival["standardVerified"]) == (False, False)
    assert arrival["verified"] is False


async def test_another_key_fails_and_a_missing_header_fails(
    receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    body = _notification()
    other = "whsec_" + base64.b64encode(b"x" * 32).decode()
    await _post(http, receiver.url, body, _signed(body, key=other))
    await _post(http, receiver.url, body, {"Content-Type": "application/json"})

    assert [a["verified"] for a in receiver.arrivals] == [False, False]


async def test_signs_with_the_fixture_secret_through_domain_signing(
    receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    from headwater.domain import signing

    body = _notification("n-9")
    headers = signing.headers(receiver.secret, "n-9", 1700000000, body)

    await _post(http, receiver.url, body, headers)

    assert receiver.arrivals[0]["verified"] is True


@pytest.mark.receiver(fail="500,500,ok")
async def test_failure_pattern_then_success_repeats_the_last_step(
    receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    body = _notification()
    statuses = [(await _post(http, receiver.url, body, _signed(body)))[0] for _ in range(4)]

    assert statuses == [500, 500, 200, 200]
    assert len(receiver.delivered) == 2
    assert [a["step"] for a in receiver.arrivals] == ["500", "500", "ok", "ok"]


async def test_gone_redirect_and_retry_after_steps(
    receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    body = _notification()
    receiver.set_failures("410,302,429:5,503:7,ok")

    answers = [await _post(http, receiver.url, body, _signed(body)) for _ in range(5)]

    assert [status for status, _ in answers] == [410, 302, 429, 503, 200]
    assert answers[1][1]["Location"] == "/moved"
    assert answers[2][1]["Retry-After"] == "5"
    assert answers[3][1]["Retry-After"] == "7"


async def test_timeout_step_outlasts_a_client_timeout(
    receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    body = _notification()
    receiver.set_failures("timeout:1,ok")

    with pytest.raises(TimeoutError):
        await _post(
            http, receiver.url, body, _signed(body), timeout=aiohttp.ClientTimeout(total=0.2)
        )
    status, _ = await _post(http, receiver.url, body, _signed(body))

    assert status == 200
    assert [a["step"] for a in receiver.arrivals] == ["timeout:1", "ok"]
    await receiver.wait_for(lambda arrivals: arrivals[0]["answered"] is False, timeout=5)
    assert len(receiver.delivered) == 1


async def test_arrivals_and_pattern_over_http(
    receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    body = _notification()
    async with http.put(f"{receiver.base_url}/fail", json={"pattern": "410"}) as response:
        assert response.status == 200
    async with http.put(f"{receiver.base_url}/fail", json={"pattern": "banana"}) as response:
        assert response.status == 400
    status, _ = await _post(http, f"{receiver.base_url}/any/path", body, _signed(body))
    assert status == 410

    async with http.get(f"{receiver.base_url}/arrivals") as response:
        listed = await response.json()
    async with http.delete(f"{receiver.base_url}/arrivals") as response:
        assert response.status == 200

    assert [(a["path"], a["status"]) for a in listed] == [("/any/path", 410)]
    assert receiver.arrivals == []


async def test_wait_for_sees_arrivals_and_fails_on_deadline(
    receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    body = _notification()
    await _post(http, receiver.url, body, _signed(body))

    arrivals = await receiver.wait_for(lambda a: len(a) == 1, timeout=2)

    assert len(arrivals) == 1
    with pytest.raises(pytest.fail.Exception):
        await receiver.wait_for(lambda a: len(a) == 2, timeout=0.05)


def test_prints_each_notification_readably() -> None:
    out = io.StringIO()
    app = receiver_module.build_app(SECRET, "", out=out)
    server = serving.BackgroundServer(app)
    url = server.start()
    try:
        body = _notification("n-42")
        request = urllib.request.Request(
            f"{url}/events", data=body, headers=_signed(body, event_id="n-42")
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
    finally:
        server.stop()

    printed = out.getvalue()
    assert "eventId=n-42" in printed
    assert "✓ Elements-Webhook-Signature ✓ webhook-signature" in printed
    assert "UPDATED contacts l-0001:7 2026-11-29T10:15:00.000Z" in printed


@pytest.mark.parametrize("bad", ["banana", "700", "timeout:x", "429:soon"])
def test_bad_patterns_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="bad failure pattern step"):
        receiver_module.parse_pattern(bad)


async def test_without_a_secret_nothing_is_checked(http: aiohttp.ClientSession) -> None:
    app = receiver_module.build_app(None, "")
    server = serving.BackgroundServer(app)
    url = server.start()
    try:
        body = _notification()
        status, _ = await _post(http, f"{url}/events", body, _signed(body))
    finally:
        server.stop()

    assert status == 200
    [arrival] = app[receiver_module.ARRIVALS]
    assert (arrival["elementsVerified"], arrival["standardVerified"], arrival["verified"]) == (
        None,
        None,
        None,
    )

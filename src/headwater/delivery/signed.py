"""What goes with every notification sent: its signed headers, and the attempt it makes."""

from __future__ import annotations

import datetime as dt

from headwater.delivery import outbox, sender
from headwater.domain import signing
from headwater.errors import HeadwaterError
from headwater.storage import deliveries, secrets


def headers(
    box: secrets.SecretBox,
    target: deliveries.Sending,
    notification_id: str,
    body: bytes,
    now: dt.datetime,
) -> dict[str, str]:
    """The notification's headers, signed with the instance's key when it has one."""
    key = box.open(target.sealed_secrets).get(outbox.SIGNATURE_KEY)
    if not isinstance(key, str) or not key:
        return {"Elements-Webhook-Id": notification_id, "webhook-id": notification_id}
    return signing.headers(key, notification_id, int(now.timestamp()), body)


def attempt(started: dt.datetime, outcome: sender.Outcome) -> deliveries.Attempt:
    """The attempt to store for what one POST came to."""
    return deliveries.Attempt(
        date=started,
        status_code=outcome.status,
        latency_ms=outcome.latency_ms,
        error=outcome.error,
        response=outcome.excerpt,
    )


def describe(error: BaseException) -> str:
    """An error as a log line or an attempt's ``error`` tells it."""
    if isinstance(error, HeadwaterError):
        return error.message
    return f"internal error: {type(error).__name__}: {error}"

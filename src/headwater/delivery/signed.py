"""What goes with every notification sent: its signed headers, and the attempt it makes."""

from __future__ import annotations

import datetime as dt

from headwater.delivery import sender, targets
from headwater.errors import HeadwaterError
from headwater.storage import deliveries, secrets


def headers(
    box: secrets.SecretBox,
    target: deliveries.Sending,
    notification_id: str,
    body: bytes,
    now: dt.datetime,
) -> dict[str, str]:
    """The notification's headers, signed with the instance's key when it has one (and with
    its rotation's previous key during the overlap)."""
    key, previous = targets.keys(box, target)
    return targets.signed_headers(key, previous, target.overlap_until, notification_id, body, now)


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

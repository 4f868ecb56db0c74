"""Delivery retry decisions: deliver, retry at a time, or give up.

The schedule is a list of delays in seconds: after attempt ``n`` (1-based) fails, the next one
waits ``schedule[n-1]`` seconds, give or take 10 % so that many failed deliveries do not come back
at once. A receiver's ``Retry-After`` replaces that delay (capped at an hour). 410 Gone means the
receiver wants no more: the delivery gives up at once.

A schedule someone configures holds at most ``MAX_DELAYS`` delays, each from ``MIN_DELAY_SECONDS``
to ``MAX_DELAY_SECONDS``: :func:`schedule_problem` says what is wrong with one.
"""

from __future__ import annotations

import dataclasses
import email.utils
import math
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

JITTER = 0.1
MAX_RETRY_AFTER_SECONDS = 3600.0
MAX_DELAYS = 20
MIN_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 86_400.0
MAX_STORED_DELAY_SECONDS = 31 * 86_400.0


@dataclasses.dataclass(frozen=True)
class Delivered:
    """The receiver accepted the notification (any 2xx)."""


@dataclasses.dataclass(frozen=True)
class RetryAt:
    """Try again at ``at``."""

    at: datetime


@dataclasses.dataclass(frozen=True)
class GiveUp:
    """No more attempts; ``reason`` says why."""

    reason: str


Step = Delivered | RetryAt | GiveUp


def next_step(
    *,
    attempt_number: int,
    schedule: Sequence[float],
    status: int | None,
    retry_after: float | None,
    now: datetime,
    rng: random.Random,
) -> Step:
    """What follows attempt ``attempt_number`` (1-based) that got ``status`` (None: no answer)."""
    if attempt_number < 1:
        raise ValueError("attempt_number counts attempts made, from 1")
    if status is not None and 200 <= status < 300:
        return Delivered()
    if status == 410:
        return GiveUp("gone: the receiver answered 410")
    if attempt_number > len(schedule):
        return GiveUp(f"retries exhausted after {attempt_number} attempts")
    if retry_after is not None:
        delay = min(max(retry_after, 0.0), MAX_RETRY_AFTER_SECONDS)
    else:
        # a schedule stored before schedules were bounded may hold any number: capped, it
        # cannot overflow the date and stop the delivery worker
        planned = min(schedule[attempt_number - 1], MAX_STORED_DELAY_SECONDS)
        delay = planned * (1 + rng.uniform(-JITTER, JITTER))
    return RetryAt(now + timedelta(seconds=delay))


def schedule_problem(delays: Sequence[float]) -> str | None:
    """What is wrong with ``delays`` as a configured retry schedule; None when it is usable."""
    if len(delays) > MAX_DELAYS:
        return f"has {len(delays)} delays; at most {MAX_DELAYS} are allowed"
    for delay in delays:
        if not (math.isfinite(delay) and MIN_DELAY_SECONDS <= delay <= MAX_DELAY_SECONDS):
            return (
                f"each delay must be from {MIN_DELAY_SECONDS:g} to {MAX_DELAY_SECONDS:g} seconds"
                f" (24 hours), not {delay:g}"
            )
    return None


def parse_retry_after(header: str | None, now: datetime) -> float | None:
    """Seconds to wait per a ``Retry-After`` value (seconds or HTTP date); None when unusable."""
    if header is None or not header.strip():
        return None
    text = header.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)

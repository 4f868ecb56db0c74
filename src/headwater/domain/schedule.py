"""When a poller runs next: after a poll, after a provider fault, and when it gives up.

Pure decisions over the poll's outcome and ``now``; the scheduler only records them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

MAX_BACKOFF_SECONDS = 3600.0
MAX_RETRY_AFTER_SECONDS = 86_400.0
JITTER_FRACTION = 0.05
MAX_JITTER_SECONDS = 5.0
MIN_RECONCILE_RETRY_SECONDS = 1.0  # a refused listing is never retried in a tight loop


@dataclasses.dataclass(frozen=True)
class Next:
    """What to record after a poll: the next run (None: the poller disabled itself) and why."""

    run_at: dt.datetime | None
    consecutive_failures: int
    disabled_reason: str | None = None


def jitter_seconds(interval_seconds: float, fraction: float) -> float:
    """A little spread (``fraction`` in [0, 1)) so that pollers created together drift apart."""
    return max(0.0, min(fraction, 1.0)) * min(
        interval_seconds * JITTER_FRACTION, MAX_JITTER_SECONDS
    )


def after_success(started: dt.datetime, *, interval_seconds: float, jitter: float) -> Next:
    """The next run of a poller whose poll succeeded: one interval after it started."""
    delay = interval_seconds + jitter_seconds(interval_seconds, jitter)
    return Next(run_at=started + dt.timedelta(seconds=delay), consecutive_failures=0)


def backoff_seconds(interval_seconds: float, failures: int) -> float:
    """The wait after ``failures`` failures in a row: the interval, doubling, up to an hour
    (or the interval when that is longer)."""
    ceiling = max(interval_seconds, MAX_BACKOFF_SECONDS)
    exponent = min(max(failures - 1, 0), 32)
    return float(min(interval_seconds * 2**exponent, ceiling))


def after_failure(
    now: dt.datetime,
    *,
    interval_seconds: float,
    failures_before: int,
    limit: int,
    error: str,
    retry_after: float | None = None,
    jitter: float = 0.0,
) -> Next:
    """The next run after a failed poll; the ``limit``-th failure in a row disables the poller.

    A provider's ``Retry-After`` sets the next run exactly (capped at a day); other faults back
    off exponentially from the interval.
    """
    failures = failures_before + 1
    if limit > 0 and failures >= limit:
        return Next(
            run_at=None,
            consecutive_failures=failures,
            disabled_reason=f"disabled after {failures} failures in a row; last: {error}",
        )
    if retry_after is not None:
        delay = min(max(retry_after, 0.0), MAX_RETRY_AFTER_SECONDS)
    else:
        delay = backoff_seconds(interval_seconds, failures)
        delay += jitter_seconds(interval_seconds, jitter)
    return Next(run_at=now + dt.timedelta(seconds=delay), consecutive_failures=failures)


def reconcile_retry(
    now: dt.datetime,
    *,
    due_since: dt.datetime | None,
    retry_seconds: float,
    interval_seconds: float,
) -> dt.datetime:
    """When to run again a poller whose reconciliation was refused (its listing shifted or looked
    truncated): ``retry_seconds`` after a first refusal, then after as long as the reconciliation
    has been due (``due_since``; None: unknown), so the waits double; never later than the
    poller's next regular run, one ``interval_seconds`` away."""
    waited = 0.0 if due_since is None else max(0.0, (now - due_since).total_seconds())
    delay = min(max(retry_seconds, waited, MIN_RECONCILE_RETRY_SECONDS), interval_seconds)
    return now + dt.timedelta(seconds=max(0.0, delay))

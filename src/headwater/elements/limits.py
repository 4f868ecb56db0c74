"""Client-side rate limits: a token bucket per provider account (one per element instance).

Providers limit calls per account (Act-On: 5 per second). Counting our own calls keeps an instance
under that limit however many pollers and hub requests share it, and a ``Retry-After`` from the
provider holds back every caller of that instance, not only the one that was refused.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Mapping

from headwater.domain import retry


class RateLimiter:
    """A token bucket: ``rate`` calls per second on average, bursts of up to ``burst`` calls.

    The default burst of one spaces calls evenly (every 0.2 s at 5 per second): the provider
    runs a bucket of its own, and network jitter must not make a burst of ours look like more
    than its limit on arrival. ``acquire`` reserves a slot without holding a lock: the bucket may
    go negative, and a caller waits until its own reservation is due, so waiters are served in
    arrival order.
    """

    def __init__(
        self,
        rate: float = 5.0,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = float(burst if burst is not None else 1.0)
        self._clock = clock
        self._tokens = self.burst
        self._updated = clock()
        self._held_until = 0.0

    def reserve(self) -> float:
        """Take one slot now; returns how many seconds the caller must wait before using it."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        self._tokens -= 1.0
        wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
        return max(wait, self._held_until - now)

    async def acquire(self) -> None:
        """Wait until one more call is allowed."""
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)

    def held_for(self) -> float:
        """Seconds until the provider's last "wait" ends (0 when none is in force)."""
        return max(0.0, self._held_until - self._clock())

    def hold(self, seconds: float) -> None:
        """Let no call through for ``seconds`` (the provider asked us to back off)."""
        self._held_until = max(self._held_until, self._clock() + max(0.0, seconds))


class RateLimiters:
    """One :class:`RateLimiter` per element instance, created on first use."""

    def __init__(self, burst: float | None = None) -> None:
        self.burst = burst
        self._limiters: dict[int, RateLimiter] = {}

    def for_instance(self, instance_id: int, rate: float) -> RateLimiter:
        """The limiter shared by every call made for ``instance_id``, at ``rate`` calls per
        second (its element's)."""
        limiter = self._limiters.get(instance_id)
        if limiter is None or limiter.rate != rate:
            limiter = self._limiters[instance_id] = RateLimiter(rate, self.burst)
        return limiter

    def forget(self, instance_id: int) -> None:
        """Drop the limiter of a deleted instance."""
        self._limiters.pop(instance_id, None)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); None
    without a usable one."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    return retry.parse_retry_after(value, dt.datetime.now(dt.UTC))

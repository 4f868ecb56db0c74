"""Act-On's request limits, per account: calls per second (a token bucket) and calls per UTC day.

Both are off at 0. They run on real time, not the sandbox clock, so freezing the clock for a test
never freezes a rate window.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

_DAY_S = 86_400


@dataclass
class _Account:
    tokens: float
    refilled: float
    day: int
    used_today: int = 0


class RateLimits:
    """Admits or refuses one call of an account; thread-safe."""

    def __init__(
        self,
        per_second: float = 0,
        per_day: int = 0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.per_second = per_second
        self.per_day = per_day
        self._monotonic = monotonic
        self._wall = wall
        self._lock = threading.Lock()
        self._accounts: dict[str, _Account] = {}

    def configure(self, per_second: float, per_day: int) -> None:
        """New limits, starting from full buckets."""
        with self._lock:
            self.per_second, self.per_day = per_second, per_day
            self._accounts.clear()

    def admit(self, account: str) -> int | None:
        """None when the call may proceed (and is counted), else the seconds to wait (≥ 1)."""
        with self._lock:
            now, wall = self._monotonic(), self._wall()
            day = int(wall // _DAY_S)
            state = self._accounts.get(account)
            if state is None:
                state = self._accounts[account] = _Account(self._capacity(), now, day)
            if state.day != day:
                state.day, state.used_today = day, 0
            if self.per_day and state.used_today >= self.per_day:
                return max(1, math.ceil((day + 1) * _DAY_S - wall))
            if self.per_second:
                capacity = self._capacity()
                state.tokens = min(
                    capacity, state.tokens + (now - state.refilled) * self.per_second
                )
                state.refilled = now
                if state.tokens < 1:
                    return max(1, math.ceil((1 - state.tokens) / self.per_second))
                state.tokens -= 1
            state.used_today += 1
            return None

    def _capacity(self) -> float:
        return max(1.0, self.per_second)

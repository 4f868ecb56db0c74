"""The sandbox's clock: real time by default, shifted by an offset, or frozen.

Everything the sandbox stamps (created and modified times, token and code expiry) reads this clock,
so tests can make many changes share one millisecond, or jump past a token's lifetime. Moving the
clock far ahead therefore also expires the tokens already issued (as waiting would); freeze at
``now`` or move it backwards to keep them.
"""

from __future__ import annotations

import threading
import time


def _real_ms() -> int:
    return time.time_ns() // 1_000_000


class Clock:
    """Epoch milliseconds, real unless frozen or offset; safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset_ms = 0
        self._frozen_ms: int | None = None

    def now_ms(self) -> int:
        """The current sandbox time in epoch milliseconds."""
        with self._lock:
            if self._frozen_ms is not None:
                return self._frozen_ms
            return _real_ms() + self._offset_ms

    def now_s(self) -> float:
        """The current sandbox time in epoch seconds."""
        return self.now_ms() / 1000

    def freeze(self, at_ms: int | None = None) -> int:
        """Stop the clock at ``at_ms`` (default: now); returns the frozen time."""
        with self._lock:
            if at_ms is None:
                at_ms = (
                    self._frozen_ms if self._frozen_ms is not None else _real_ms() + self._offset_ms
                )
            self._frozen_ms = at_ms
            return at_ms

    def unfreeze(self) -> None:
        """Let the clock run again from where it stands (the offset keeps time continuous)."""
        with self._lock:
            if self._frozen_ms is not None:
                self._offset_ms = self._frozen_ms - _real_ms()
                self._frozen_ms = None

    def set_offset(self, offset_ms: int) -> None:
        """Run ``offset_ms`` ahead of (negative: behind) real time; unfreezes."""
        with self._lock:
            self._frozen_ms = None
            self._offset_ms = offset_ms

    def advance(self, delta_ms: int) -> int:
        """Move the clock forward (frozen or not); returns the new time."""
        with self._lock:
            if self._frozen_ms is not None:
                self._frozen_ms += delta_ms
                return self._frozen_ms
            self._offset_ms += delta_ms
            return _real_ms() + self._offset_ms

    def reset(self) -> None:
        """Back to real time."""
        with self._lock:
            self._frozen_ms = None
            self._offset_ms = 0

    def describe(self) -> dict[str, object]:
        """The clock as the admin surface shows it."""
        with self._lock:
            frozen = self._frozen_ms is not None
            now = self._frozen_ms if self._frozen_ms is not None else _real_ms() + self._offset_ms
            return {"now": now, "frozen": frozen, "offsetMs": now - _real_ms()}

"""Mailchimp's one limit: simultaneous connections per account (10), beyond which it answers 429.

Requests are counted from when they pass authentication until their answer is ready, so a request
held up by injected latency keeps its place. Real time only: the sandbox clock plays no part.
"""

from __future__ import annotations

import threading
from collections import Counter

DEFAULT_LIMIT = 10


class Connections:
    """Requests in flight per account; thread-safe."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self.refused = 0
        self.peak = 0
        self._lock = threading.Lock()
        self._open: Counter[str] = Counter()

    def enter(self, account: str) -> bool:
        """Takes a place for ``account``; False (and nothing taken) when all are taken.
        A limit of 0 means no limit."""
        with self._lock:
            if self.limit and self._open[account] >= self.limit:
                self.refused += 1
                return False
            self._open[account] += 1
            self.peak = max(self.peak, self._open[account])
            return True

    def leave(self, account: str) -> None:
        with self._lock:
            self._open[account] -= 1
            if self._open[account] <= 0:
                del self._open[account]

    def in_flight(self) -> dict[str, int]:
        with self._lock:
            return dict(self._open)

"""Failed authentications per client address, over a sliding window (in this process only).

Each process keeps its own window: behind a load balancer over N processes a client may fail up
to N times the limit before every process refuses it. Successful calls are not counted.
"""

from __future__ import annotations

import collections
import math

# clients remembered at once; the one that failed least recently is forgotten first
MAX_CLIENTS = 10_000


class FailureWindow:
    """At most ``limit`` failures per ``window`` seconds per address; ``limit <= 0`` disables it."""

    def __init__(self, limit: int, window: float, max_clients: int = MAX_CLIENTS) -> None:
        self.limit = limit
        self.window = window
        self.max_clients = max_clients
        self._failures: collections.OrderedDict[str, collections.deque[float]] = (
            collections.OrderedDict()
        )

    def retry_after(self, address: str, now: float) -> int:
        """Whole seconds until ``address`` may try again; 0 when it may now."""
        if self.limit <= 0:
            return 0
        times = self._failures.get(address)
        if times is None:
            return 0
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[address]
            return 0
        if len(times) < self.limit:
            return 0
        return max(1, math.ceil(times[0] + self.window - now))

    def failed(self, address: str, now: float) -> None:
        """Count one failed authentication of ``address`` at ``now``."""
        if self.limit <= 0:
            return
        times = self._failures.setdefault(address, collections.deque(maxlen=self.limit))
        times.append(now)
        self._failures.move_to_end(address)
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)

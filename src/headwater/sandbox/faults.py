"""Injectable faults: what the sandbox does instead of (or besides) answering normally.

A fault applies to requests whose path starts with ``path`` (default: the sandbox's API prefix,
``/api/`` for Act-On) and whose method is ``method``, when given. It fires ``count`` times (None:
until removed), each time with ``probability`` (None: always; rolls use a seeded generator, so a
run is repeatable). Kinds:

- ``latency``: waits ``delay`` seconds, then the request goes on (other faults may still apply);
- ``status``: answers ``status`` (default 500) with a gateway-style body (or ``body``), and
  ``Retry-After: retryAfter`` when given;
- ``rate_limit``: answers 429 with Act-On's body and ``Retry-After`` (default 1);
- ``malformed``: answers with the real status but a truncated, unparsable JSON body;
- ``drop``: sends the real headers with the full ``Content-Length``, half the body, then closes the
  connection.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

KINDS = ("latency", "status", "rate_limit", "malformed", "drop")


@dataclass
class Fault:
    """One armed fault (times and counts as the admin surface shows them)."""

    id: int
    kind: str
    path: str = "/api/"
    method: str | None = None
    count: int | None = None
    probability: float | None = None
    delay: float = 0.0
    status: int = 500
    retry_after: int | None = None
    body: dict[str, Any] | None = None
    fired: int = 0

    def describe(self) -> dict[str, Any]:
        """The fault as JSON (camelCase, as it was armed)."""
        described = asdict(self)
        described["retryAfter"] = described.pop("retry_after")
        return described


def _number(raw: Mapping[str, Any], key: str, kind: type[int] | type[float]) -> Any:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number")
    return kind(value)


class Faults:
    """The armed faults, in the order they were added; thread-safe."""

    def __init__(self, seed: int = 0, *, default_path: str = "/api/") -> None:
        self.default_path = default_path
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next_id = 1
        self._rng = random.Random(seed)
        self.fired_total = 0

    def add(self, raw: Mapping[str, Any]) -> Fault:
        """Arms a fault from its JSON description; raises ValueError naming a bad field."""
        kind = raw.get("kind")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        path = raw.get("path", self.default_path)
        method = raw.get("method")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError("path must be a path prefix starting with /")
        if method is not None and not isinstance(method, str):
            raise ValueError("method must be a string")
        body = raw.get("body")
        if body is not None and not isinstance(body, dict):
            raise ValueError("body must be an object")
        probability = _number(raw, "probability", float)
        if probability is not None and not 0 <= probability <= 1:
            raise ValueError("probability must be between 0 and 1")
        count = _number(raw, "count", int)
        if count is not None and count < 1:
            raise ValueError("count must be at least 1")
        status = _number(raw, "status", int) or (429 if kind == "rate_limit" else 500)
        retry_after = _number(raw, "retryAfter", int)
        if kind == "rate_limit" and retry_after is None:
            retry_after = 1
        with self._lock:
            fault = Fault(
                id=self._next_id,
                kind=kind,
                path=path,
                method=method.upper() if method else None,
                count=count,
                probability=probability,
                delay=_number(raw, "delay", float) or 0.0,
                status=status,
                retry_after=retry_after,
                body=body,
            )
            self._next_id += 1
            self._faults.append(fault)
            return fault

    def remove(self, fault_id: int) -> bool:
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id != fault_id]
            return len(self._faults) != before

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def armed(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def firing(self, method: str, path: str) -> list[Fault]:
        """The faults that fire for this request, each counted once: latencies, then at most one
        other (the first armed)."""
        fired: list[Fault] = []
        with self._lock:
            terminal = False
            for fault in list(self._faults):
                if not path.startswith(fault.path) or fault.method not in (None, method):
                    continue
                if terminal and fault.kind != "latency":
                    continue
                if fault.probability is not None and self._rng.random() >= fault.probability:
                    continue
                fault.fired += 1
                self.fired_total += 1
                if fault.count is not None and fault.fired >= fault.count:
                    self._faults.remove(fault)
                terminal = terminal or fault.kind != "latency"
                fired.append(fault)
        return fired

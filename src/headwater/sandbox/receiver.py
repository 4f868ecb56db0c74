"""A callback receiver: accepts notifications, verifies their signatures, shows what arrived.

- ``POST`` to any path takes a notification: both signatures are checked with the configured secret
  (``Elements-Webhook-Signature`` and the Standard Webhooks ``webhook-signature``), the arrival is
  recorded in memory (``app[ARRIVALS]``, a list of dicts) and printed, and the answer follows the
  failure pattern.
- ``GET /arrivals`` → every arrival as JSON: ``{"index","receivedAt","path","headers","body","json",
  "eventId","elementsVerified","standardVerified","verified","status","step","answered"}``
  (verification flags are None without a secret; ``answered`` is false when the sender hung up
  before a ``timeout`` step answered); ``DELETE /arrivals`` clears them.
- ``PUT /fail`` with ``{"pattern": "…"}`` replaces the failure pattern (and restarts it).
- ``PUT /secrets`` with ``{"secrets": ["…", …]}`` replaces the keys signatures are checked with: a
  signature verifies when any of them made it (a receiver following a key rotation accepts the
  old key, then both, then the new one).

A failure pattern is a comma-separated list of steps, one per arrival, the last repeating forever:
``ok`` (200), a status (``500``, ``410``, ``302`` with a ``Location``), ``STATUS:SECONDS`` (that
status with ``Retry-After``, e.g. ``429:5``), ``timeout:SECONDS`` (answer 200 only after sleeping).
``"500,500,ok"`` fails twice then accepts; ``"410"`` always answers 410; ``""`` always accepts.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from aiohttp import web

from headwater.domain import signing
from headwater.sandbox import serving


@dataclass(frozen=True)
class Step:
    """How to answer one arrival."""

    status: int = 200
    retry_after: int | None = None
    sleep: float = 0.0

    @property
    def text(self) -> str:
        if self.sleep:
            return f"timeout:{self.sleep:g}"
        if self.status == 200:
            return "ok"
        return (
            f"{self.status}:{self.retry_after}"
            if self.retry_after is not None
            else str(self.status)
        )


def parse_pattern(pattern: str) -> list[Step]:
    """The steps of a failure pattern; raises ValueError naming a bad step."""
    steps: list[Step] = []
    for raw in pattern.split(","):
        part = raw.strip().lower()
        head, _, arg = part.partition(":")
        try:
            if part in ("", "ok"):
                steps.append(Step())
            elif head == "timeout":
                steps.append(Step(sleep=float(arg)))
            elif 100 <= int(head) <= 599:
                steps.append(Step(int(head), int(arg) if arg else None))
            else:
                raise ValueError(part)
        except ValueError:
            raise ValueError(f"bad failure pattern step {raw.strip()!r}") from None
    return steps


class FailurePattern:
    """The answers to give, in order, the last one repeating; thread-safe."""

    def __init__(self, pattern: str = "") -> None:
        self._lock = threading.Lock()
        self._steps = parse_pattern(pattern)
        self._position = 0
        self.pattern = pattern

    def set(self, pattern: str) -> None:
        steps = parse_pattern(pattern)
        with self._lock:
            self._steps, self._position, self.pattern = steps, 0, pattern

    def next(self) -> Step:
        with self._lock:
            step = self._steps[min(self._position, len(self._steps) - 1)]
            self._position += 1
            return step


def _verify(secrets: list[str], headers: Any, body: bytes) -> tuple[bool | None, bool | None]:
    if not secrets:
        return None, None
    elements = any(
        signing.verify_elements(key, body, headers.get("Elements-Webhook-Signature", ""))
        for key in secrets
    )
    standard = any(
        signing.verify_standard(
            key,
            headers.get("webhook-id", ""),
            headers.get("webhook-timestamp", ""),
            body,
            headers.get("webhook-signature", ""),
        )
        for key in secrets
    )
    return elements, standard


def _mark(flag: bool | None) -> str:
    return "·" if flag is None else ("✓" if flag else "✗")


def describe(arrival: dict[str, Any]) -> str:
    """An arrival as a few readable lines."""
    lines = [
        f"#{arrival['index']} {arrival['receivedAt']} eventId={arrival['eventId']} "
        f"{_mark(arrival['elementsVerified'])} Elements-Webhook-Signature "
        f"{_mark(arrival['standardVerified'])} webhook-signature → {arrival['step']}"
    ]
    message = arrival["json"].get("message") if isinstance(arrival["json"], dict) else None
    events = message.get("events") if isinstance(message, dict) else None
    for event in events if isinstance(events, list) else []:
        if isinstance(event, dict):
            lines.append(
                f"    {event.get('eventType')} {event.get('objectType')} "
                f"{event.get('objectId')} {event.get('date')}"
            )
    notice = arrival["json"] if isinstance(arrival["json"], dict) else {}
    if events is None and isinstance(notice.get("type"), str):
        lines.append(
            f"    operations: {notice['type']} instance {notice.get('instanceId')}: "
            f"{notice.get('reason')}"
        )
    elif events is None:
        lines.append(f"    (not a notification) {arrival['body'][:200]}")
    return "\n".join(lines)


ARRIVALS = web.AppKey("arrivals", list[dict[str, Any]])
FAILURES = web.AppKey("failures", FailurePattern)
SECRETS = web.AppKey("secrets", list[str])


def build_app(
    secret: str | None, fail_pattern: str = "", *, out: TextIO | None = None
) -> web.Application:
    """The receiver; prints each arrival to ``out`` when given."""
    app = web.Application()
    arrivals: list[dict[str, Any]] = []
    failures = FailurePattern(fail_pattern)
    app[ARRIVALS] = arrivals
    app[FAILURES] = failures
    secrets: list[str] = [secret] if secret else []
    app[SECRETS] = secrets

    async def receive(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        step = failures.next()
        try:
            parsed: Any = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            parsed = None
        message = parsed.get("message") if isinstance(parsed, dict) else None
        elements, standard = _verify(list(secrets), request.headers, body)
        event_id = request.headers.get("Elements-Webhook-Id") or (
            message.get("eventId") if isinstance(message, dict) else None
        )
        arrival = {
            "index": len(arrivals),
            "receivedAt": datetime.now(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "path": request.path,
            "headers": dict(request.headers),
            "body": body.decode("utf-8", errors="replace"),
            "json": parsed,
            "eventId": event_id,
            "elementsVerified": elements,
            "standardVerified": standard,
            "verified": None if not secrets else bool(elements and standard),
            "status": step.status,
            "step": step.text,
            "answered": True,
        }
        arrivals.append(arrival)
        if out is not None:
            print(describe(arrival), file=out, flush=True)
        if step.sleep:
            await asyncio.sleep(step.sleep)
            if request.transport is None or request.transport.is_closing():
                arrival["answered"] = False  # the sender gave up before the answer
        headers = {"Retry-After": str(step.retry_after)} if step.retry_after is not None else {}
        if 300 <= step.status < 400:
            headers["Location"] = "/moved"
        return web.json_response(
            {"received": arrival["index"]}, status=step.status, headers=headers
        )

    async def list_arrivals(request: web.Request) -> web.Response:
        return web.json_response(list(arrivals))

    async def clear_arrivals(request: web.Request) -> web.Response:
        arrivals.clear()
        return web.json_response([])

    async def set_failures(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            failures.set(str(body["pattern"]))
        except (ValueError, KeyError, TypeError) as exc:
            return web.json_response({"error": f"send {{'pattern': '…'}}: {exc}"}, status=400)
        return web.json_response({"pattern": failures.pattern})

    async def set_secrets(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            given = body["secrets"]
            if not isinstance(given, list) or not all(isinstance(k, str) and k for k in given):
                raise TypeError("secrets must be a list of non-empty strings")
        except (ValueError, KeyError, TypeError) as exc:
            return web.json_response({"error": f"send {{'secrets': ['…']}}: {exc}"}, status=400)
        secrets[:] = given
        return web.json_response({"secrets": len(secrets)})

    app.add_routes(
        [
            web.get("/arrivals", list_arrivals),
            web.delete("/arrivals", clear_arrivals),
            web.put("/fail", set_failures),
            web.put("/secrets", set_secrets),
            web.post("/{tail:.*}", receive),
        ]
    )
    return app


def run(*, host: str, port: int, secret: str | None, fail: str) -> None:
    """Serves the receiver until interrupted, printing every notification."""
    try:
        app = build_app(secret, fail, out=sys.stdout)
    except ValueError as exc:
        raise SystemExit(f"headwater receiver: {exc}") from None

    def banner(url: str) -> str:
        checking = "verifying signatures" if secret else "no --secret: signatures are not checked"
        pattern = f"; failure pattern {fail!r}" if fail else ""
        return (
            f"Receiver listening on {url}/events ({checking}{pattern}); arrivals at {url}/arrivals"
        )

    serving.run_forever(app, host, port, banner)

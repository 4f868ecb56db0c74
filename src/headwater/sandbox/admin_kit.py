"""What every sandbox's admin surface shares: reading a JSON body, the routes over its clock, its
armed faults and its counters, and adding parameters to a redirect URL."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aiohttp import web

from headwater.sandbox import clock as clock_module
from headwater.sandbox import faults as faults_module

Handler = Callable[[web.Request], Awaitable[web.Response]]


class Counted(Protocol):
    """A sandbox that counts what it answered."""

    def counters(self) -> dict[str, Any]:
        """What was counted since the last reset."""

    def reset_counters(self) -> None:
        """Start counting again from zero."""


async def body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object (empty when there is no body); ValueError when it is not one."""
    raw = await request.read()
    try:
        found = json.loads(raw) if raw else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"the body is not JSON: {exc}") from None
    if not isinstance(found, dict):
        raise ValueError("the body must be a JSON object")
    return found


def integer(found: dict[str, Any], key: str) -> int | None:
    """``found[key]`` when it is an integer, None when absent; ValueError otherwise."""
    value = found.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} must be an integer")
    return value


def with_query(url: str, extra: Mapping[str, str]) -> str:
    """``url`` with ``extra`` added to its query string."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *extra.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _epoch_ms(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("frozenAt must be an integer")
    return value


def clock_rows(
    clock: clock_module.Clock, frozen_at: Callable[[object], int] = _epoch_ms
) -> list[tuple[str, str, Handler]]:
    """The admin table's rows for ``/clock``: read it, or set it with one of ``frozenAt`` (read
    by ``frozen_at``; epoch milliseconds by default), ``freeze``, ``offsetMs``, ``advanceMs``,
    ``real``."""

    async def get_clock(request: web.Request) -> web.Response:
        return web.json_response(clock.describe())

    async def set_clock(request: web.Request) -> web.Response:
        given = await body(request)
        offset, advance = integer(given, "offsetMs"), integer(given, "advanceMs")
        if given.get("frozenAt") is not None:
            clock.freeze(frozen_at(given["frozenAt"]))
        elif given.get("freeze") is True:
            clock.freeze()
        elif offset is not None:
            clock.set_offset(offset)
        elif advance is not None:
            clock.advance(advance)
        elif given.get("real") is True:
            clock.reset()
        else:
            raise ValueError("give one of frozenAt, freeze, offsetMs, advanceMs, real")
        return web.json_response(clock.describe())

    return [("GET", "/clock", get_clock), ("PUT", "/clock", set_clock)]


def fault_and_counter_rows(
    armed: faults_module.Faults, counted: Counted
) -> list[tuple[str, str, Handler]]:
    """The admin table's rows for ``/counters`` and ``/faults`` (paths below ``/_admin``)."""

    async def counters(request: web.Request) -> web.Response:
        return web.json_response(counted.counters())

    async def reset_counters(request: web.Request) -> web.Response:
        counted.reset_counters()
        return web.json_response(counted.counters())

    async def list_faults(request: web.Request) -> web.Response:
        return web.json_response([f.describe() for f in armed.armed()])

    async def add_fault(request: web.Request) -> web.Response:
        return web.json_response(armed.add(await body(request)).describe(), status=201)

    async def clear_faults(request: web.Request) -> web.Response:
        armed.clear()
        return web.json_response([])

    async def remove_fault(request: web.Request) -> web.Response:
        fault_id = request.match_info["id"]
        if not fault_id.isdigit() or not armed.remove(int(fault_id)):
            return web.json_response({"error": "no such fault"}, status=404)
        return web.json_response({"removed": int(fault_id)})

    return [
        ("GET", "/counters", counters),
        ("DELETE", "/counters", reset_counters),
        ("GET", "/faults", list_faults),
        ("POST", "/faults", add_fault),
        ("DELETE", "/faults", clear_faults),
        ("DELETE", "/faults/{id}", remove_fault),
    ]

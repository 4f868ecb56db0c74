"""The sandbox's admin surface (JSON, never counted, limited or faulted), for tests, demo and bench.

State and contacts
- ``GET /_admin/health`` → ``{"status":"ok"}``.
- ``GET /_admin/state`` → ``{"now", "clock", "lists":[{…list summary, "headings", "contacts":[{"id",
  "values", "createdMs", "modifiedMs"}]}], "deleted":[{"id","deletedMs"}]}`` (the test oracle).
- ``POST /_admin/lists`` ``{"name", "headings"?}`` creates an empty list → its summary (201).
- ``POST /_admin/lists/{listid}/contacts`` ``{"values":{heading: value}}`` → ``{"id"}`` (201).
- ``PATCH /_admin/contacts/{id}`` ``{"values":{…}}`` → ``{"id"}`` (an empty change still stamps it).
- ``DELETE /_admin/contacts/{id}`` → ``{"id"}``.
- ``POST /_admin/batch`` ``{"ops":[…], "at"?: ms}`` applies create/update/touch/delete operations
  atomically at one time (see ``acton_changes``) → ``{"ids":[…], "at": ms}``.
- ``GET|POST|DELETE /_admin/hooks``: between-pages hooks; POST ``{"list","after","ops"}`` applies
  ``ops`` right after the ``after``-th answered download of ``list`` → the hook (201).

Tokens, clock, limits, counters
- ``POST /_admin/tokens/expire`` expires every access token → ``{"expired": n}``.
- ``POST /_admin/tokens/revoke`` revokes every refresh token (``{"access": true}`` also expires
  the access tokens) → ``{"revoked": n, "expired": n}``.
- ``GET /_admin/clock`` → ``{"now","frozen","offsetMs"}``; ``PUT /_admin/clock`` with one of
  ``{"frozenAt": ms}``, ``{"freeze": true}`` (at now), ``{"offsetMs": n}``, ``{"advanceMs": n}``,
  ``{"real": true}`` → the clock.
- ``GET|PUT /_admin/limits`` ``{"perSecond": 5, "perDay": 30000}`` (0: off).
- ``GET /_admin/counters`` → ``{"calls":{"GET /api/1/list": n,…}, "grants":{"refresh_token": n,…},
  "grantRefusals":{…}, "rateLimited", "faultsFired"}``; ``DELETE`` resets them.

Faults
- ``POST /_admin/faults`` ``{"kind": "latency|status|rate_limit|malformed|drop", "path": "/api/",
  "method"?, "count"?, "probability"?, "delay"?, "status"?, "retryAfter"?, "body"?}`` → the fault
  (201; see ``faults``); ``GET /_admin/faults`` lists them; ``DELETE /_admin/faults[/{id}]``.

A malformed request gets 400 ``{"error": "…"}``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from headwater.sandbox import acton_changes, acton_data, acton_errors

if TYPE_CHECKING:
    from headwater.sandbox.acton import SandboxState

_Handler = Callable[[web.Request], Awaitable[web.Response]]


def _bad(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = json.loads(raw) if raw else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def _int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} must be an integer")
    return value


def _guarded(handler: _Handler) -> _Handler:
    async def guarded(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except (ValueError, acton_changes.BatchError) as exc:
            return _bad(str(exc))
        except acton_errors.ActonError as exc:
            return _bad(str(exc))

    return guarded


def routes(state: SandboxState) -> list[web.RouteDef]:
    """The admin routes over ``state``."""
    store = state.store

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def snapshot(request: web.Request) -> web.Response:
        clock = state.clock.describe()
        return web.json_response({"now": clock["now"], "clock": clock, **store.snapshot()})

    async def create_list(request: web.Request) -> web.Response:
        body = await _body(request)
        name, headings = body.get("name"), body.get("headings", acton_data.HEADINGS)
        if not isinstance(name, str) or not name:
            raise ValueError("name is required")
        if not isinstance(headings, list | tuple) or not all(isinstance(h, str) for h in headings):
            raise ValueError("headings must be a list of strings")
        return web.json_response(store.create_list(name, headings).summary(), status=201)

    async def create_contact(request: web.Request) -> web.Response:
        values = (await _body(request)).get("values", {})
        op = {"op": "create", "list": request.match_info["listid"], "values": values}
        [contact_id] = state.batch([op])
        return web.json_response({"id": contact_id}, status=201)

    async def update_contact(request: web.Request) -> web.Response:
        values = (await _body(request)).get("values", {})
        [contact_id] = state.batch(
            [{"op": "update", "id": request.match_info["id"], "values": values}]
        )
        return web.json_response({"id": contact_id})

    async def delete_contact(request: web.Request) -> web.Response:
        [contact_id] = state.batch([{"op": "delete", "id": request.match_info["id"]}])
        return web.json_response({"id": contact_id})

    async def batch(request: web.Request) -> web.Response:
        body = await _body(request)
        ops = body.get("ops")
        if not isinstance(ops, list):
            raise ValueError("ops must be a list")
        at = _int(body, "at")
        at = state.clock.now_ms() if at is None else at
        return web.json_response({"ids": state.batch(ops, at_ms=at), "at": at})

    async def list_hooks(request: web.Request) -> web.Response:
        return web.json_response([h.describe() for h in state.hooks.armed()])

    async def add_hook(request: web.Request) -> web.Response:
        body = await _body(request)
        list_id, after, ops = body.get("list"), _int(body, "after"), body.get("ops")
        if not isinstance(list_id, str) or after is None or not isinstance(ops, list):
            raise ValueError("list (string), after (integer) and ops (list) are required")
        return web.json_response(state.hooks.add(list_id, after, ops).describe(), status=201)

    async def clear_hooks(request: web.Request) -> web.Response:
        state.hooks.clear()
        return web.json_response([])

    async def expire_tokens(request: web.Request) -> web.Response:
        return web.json_response({"expired": state.tokens.expire_access()})

    async def revoke_tokens(request: web.Request) -> web.Response:
        also_access = (await _body(request)).get("access") is True
        revoked = state.tokens.revoke_refresh()
        expired = state.tokens.expire_access() if also_access else 0
        return web.json_response({"revoked": revoked, "expired": expired})

    async def get_clock(request: web.Request) -> web.Response:
        return web.json_response(state.clock.describe())

    async def set_clock(request: web.Request) -> web.Response:
        body = await _body(request)
        frozen_at, offset, advance = (_int(body, k) for k in ("frozenAt", "offsetMs", "advanceMs"))
        if frozen_at is not None:
            state.clock.freeze(frozen_at)
        elif body.get("freeze") is True:
            state.clock.freeze()
        elif offset is not None:
            state.clock.set_offset(offset)
        elif advance is not None:
            state.clock.advance(advance)
        elif body.get("real") is True:
            state.clock.reset()
        else:
            raise ValueError("give one of frozenAt, freeze, offsetMs, advanceMs, real")
        return web.json_response(state.clock.describe())

    async def get_limits(request: web.Request) -> web.Response:
        return web.json_response(
            {"perSecond": state.limits.per_second, "perDay": state.limits.per_day}
        )

    async def set_limits(request: web.Request) -> web.Response:
        body = await _body(request)
        per_second, per_day = body.get("perSecond", 0), _int(body, "perDay") or 0
        if isinstance(per_second, bool) or not isinstance(per_second, int | float):
            raise ValueError("perSecond must be a number")
        state.limits.configure(float(per_second), per_day)
        return await get_limits(request)

    async def counters(request: web.Request) -> web.Response:
        return web.json_response(state.counters())

    async def reset_counters(request: web.Request) -> web.Response:
        state.reset_counters()
        return web.json_response(state.counters())

    async def list_faults(request: web.Request) -> web.Response:
        return web.json_response([f.describe() for f in state.faults.armed()])

    async def add_fault(request: web.Request) -> web.Response:
        return web.json_response(state.faults.add(await _body(request)).describe(), status=201)

    async def clear_faults(request: web.Request) -> web.Response:
        state.faults.clear()
        return web.json_response([])

    async def remove_fault(request: web.Request) -> web.Response:
        fault_id = request.match_info["id"]
        if not fault_id.isdigit() or not state.faults.remove(int(fault_id)):
            raise web.HTTPNotFound(text=json.dumps({"error": "no such fault"}))
        return web.json_response({"removed": int(fault_id)})

    table: list[tuple[str, str, _Handler]] = [
        ("GET", "/health", health),
        ("GET", "/state", snapshot),
        ("POST", "/lists", create_list),
        ("POST", "/lists/{listid}/contacts", create_contact),
        ("PATCH", "/contacts/{id}", update_contact),
        ("DELETE", "/contacts/{id}", delete_contact),
        ("POST", "/batch", batch),
        ("GET", "/hooks", list_hooks),
        ("POST", "/hooks", add_hook),
        ("DELETE", "/hooks", clear_hooks),
        ("POST", "/tokens/expire", expire_tokens),
        ("POST", "/tokens/revoke", revoke_tokens),
        ("GET", "/clock", get_clock),
        ("PUT", "/clock", set_clock),
        ("GET", "/limits", get_limits),
        ("PUT", "/limits", set_limits),
        ("GET", "/counters", counters),
        ("DELETE", "/counters", reset_counters),
        ("GET", "/faults", list_faults),
        ("POST", "/faults", add_fault),
        ("DELETE", "/faults", clear_faults),
        ("DELETE", "/faults/{id}", remove_fault),
    ]
    return [web.route(method, "/_admin" + path, _guarded(h)) for method, path, h in table]

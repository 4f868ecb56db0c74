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

Webhooks: ``GET|POST /_admin/webhooks``, ``PUT /_admin/webhooks/{id}/drop``, ``DELETE
/_admin/webhooks/{id}`` (see ``acton_webhooks``).

Faults
- ``POST /_admin/faults`` ``{"kind": "latency|status|rate_limit|malformed|drop", "path": "/api/",
  "method"?, "count"?, "probability"?, "delay"?, "status"?, "retryAfter"?, "body"?}`` → the fault
  (201; see ``faults``); ``GET /_admin/faults`` lists them; ``DELETE /_admin/faults[/{id}]``.

A malformed request gets 400 ``{"error": "…"}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from headwater.sandbox import acton_changes, acton_data, acton_errors, acton_webhooks, admin_kit

if TYPE_CHECKING:
    from headwater.sandbox.acton import SandboxState

_Handler = admin_kit.Handler


def _bad(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


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
        body = await admin_kit.body(request)
        name, headings = body.get("name"), body.get("headings", acton_data.HEADINGS)
        if not isinstance(name, str) or not name:
            raise ValueError("name is required")
        if not isinstance(headings, list | tuple) or not all(isinstance(h, str) for h in headings):
            raise ValueError("headings must be a list of strings")
        return web.json_response(store.create_list(name, headings).summary(), status=201)

    async def create_contact(request: web.Request) -> web.Response:
        values = (await admin_kit.body(request)).get("values", {})
        op = {"op": "create", "list": request.match_info["listid"], "values": values}
        [contact_id] = state.batch([op])
        return web.json_response({"id": contact_id}, status=201)

    async def update_contact(request: web.Request) -> web.Response:
        values = (await admin_kit.body(request)).get("values", {})
        [contact_id] = state.batch(
            [{"op": "update", "id": request.match_info["id"], "values": values}]
        )
        return web.json_response({"id": contact_id})

    async def delete_contact(request: web.Request) -> web.Response:
        [contact_id] = state.batch([{"op": "delete", "id": request.match_info["id"]}])
        return web.json_response({"id": contact_id})

    async def batch(request: web.Request) -> web.Response:
        body = await admin_kit.body(request)
        ops = body.get("ops")
        if not isinstance(ops, list):
            raise ValueError("ops must be a list")
        at = admin_kit.integer(body, "at")
        at = state.clock.now_ms() if at is None else at
        return web.json_response({"ids": state.batch(ops, at_ms=at), "at": at})

    async def list_hooks(request: web.Request) -> web.Response:
        return web.json_response([h.describe() for h in state.hooks.armed()])

    async def add_hook(request: web.Request) -> web.Response:
        body = await admin_kit.body(request)
        list_id, after, ops = body.get("list"), admin_kit.integer(body, "after"), body.get("ops")
        if not isinstance(list_id, str) or after is None or not isinstance(ops, list):
            raise ValueError("list (string), after (integer) and ops (list) are required")
        return web.json_response(state.hooks.add(list_id, after, ops).describe(), status=201)

    async def clear_hooks(request: web.Request) -> web.Response:
        state.hooks.clear()
        return web.json_response([])

    async def expire_tokens(request: web.Request) -> web.Response:
        return web.json_response({"expired": state.tokens.expire_access()})

    async def revoke_tokens(request: web.Request) -> web.Response:
        also_access = (await admin_kit.body(request)).get("access") is True
        revoked = state.tokens.revoke_refresh()
        expired = state.tokens.expire_access() if also_access else 0
        return web.json_response({"revoked": revoked, "expired": expired})

    async def get_limits(request: web.Request) -> web.Response:
        return web.json_response(
            {"perSecond": state.limits.per_second, "perDay": state.limits.per_day}
        )

    async def set_limits(request: web.Request) -> web.Response:
        body = await admin_kit.body(request)
        per_second, per_day = body.get("perSecond", 0), admin_kit.integer(body, "perDay") or 0
        if isinstance(per_second, bool) or not isinstance(per_second, int | float):
            raise ValueError("perSecond must be a number")
        state.limits.configure(float(per_second), per_day)
        return await get_limits(request)

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
        *admin_kit.clock_rows(state.clock),
        ("GET", "/limits", get_limits),
        ("PUT", "/limits", set_limits),
        *admin_kit.fault_and_counter_rows(state.faults, state),
        *_webhook_rows(state.webhooks),
    ]
    return [web.route(method, "/_admin" + path, _guarded(h)) for method, path, h in table]


def _webhook_rows(hooks: acton_webhooks.Webhooks) -> list[tuple[str, str, _Handler]]:
    """``/_admin/webhooks``: the stand-in for Act-On's outgoing webhook settings screen."""

    async def listing(request: web.Request) -> web.Response:
        return web.json_response(hooks.describe())

    async def add(request: web.Request) -> web.Response:
        body = await admin_kit.body(request)
        url, secret, events = body.get("url"), body.get("secret"), body.get("events")
        if not isinstance(url, str):
            raise ValueError("url is required")
        if secret is not None and not isinstance(secret, str):
            raise ValueError("secret must be a string")
        if events is not None and not isinstance(events, list):
            raise ValueError("events must be a list")
        return web.json_response(hooks.add(url, secret, events).describe(), status=201)

    async def drop(request: web.Request) -> web.Response:
        count = admin_kit.integer(await admin_kit.body(request), "count")
        if count is None or count < -1:
            raise ValueError("count must be an integer, -1 for all")
        return web.json_response(hooks.set_drop(request.match_info["id"], count).describe())

    async def remove(request: web.Request) -> web.Response:
        if not hooks.remove(request.match_info["id"]):
            raise ValueError(f"no endpoint {request.match_info['id']!r}")
        return web.json_response({"id": request.match_info["id"]})

    return [
        ("GET", "/webhooks", listing),
        ("POST", "/webhooks", add),
        ("PUT", "/webhooks/{id}/drop", drop),
        ("DELETE", "/webhooks/{id}", remove),
    ]

"""The Mailchimp sandbox's admin surface (JSON; never counted, limited or faulted).

State and members
- ``GET /_admin/health`` → ``{"status":"ok"}``.
- ``GET /_admin/state`` → ``{"now", "clock", "lists":[{…the list object, "members":[every member
  object, archived included], "forgotten":[subscriber hashes]}]}`` (the test oracle).
- ``POST /_admin/lists`` ``{"name"}`` → the new list (201).
- ``POST /_admin/batch`` ``{"ops":[…], "at"?}`` applies member changes atomically, all stamped
  with one second (see ``changes``); ``at`` is ISO 8601 or epoch seconds (default: the sandbox
  clock) → ``{"ids":[…], "at": ISO}``.

Accounts, clock, limits, counters
- ``POST /_admin/tokens`` ``{"account"?}`` → ``{"access_token","account","api_key"}`` (no OAuth
  dance); ``POST /_admin/tokens/revoke`` de-authorizes every token → ``{"revoked": n}``.
- ``GET /_admin/clock`` → ``{"now","frozen","offsetMs"}``; ``PUT /_admin/clock`` with one of
  ``{"frozenAt": ms | ISO}``, ``{"freeze": true}``, ``{"offsetMs": n}``, ``{"advanceMs": n}``,
  ``{"real": true}``.
- ``GET|PUT /_admin/limits`` ``{"connections": 10}`` (simultaneous requests per account; 0: off).
- ``GET /_admin/counters`` → ``{"calls":{"GET /3.0/lists": n,…}, "grants", "grantRefusals",
  "tooManyConnections", "peakConnections", "faultsFired"}``; ``DELETE`` resets them.

Faults
- ``POST /_admin/faults`` ``{"kind": "latency|status|rate_limit|malformed|drop", "path": "/3.0/",
  "method"?, "count"?, "probability"?, "delay"?, "status"?, "retryAfter"?, "body"?}`` (see
  ``headwater.sandbox.faults``; ``status`` and ``rate_limit`` answer problem+json) → the fault
  (201); ``GET /_admin/faults``; ``DELETE /_admin/faults[/{id}]``.

Webhooks
- ``GET /_admin/webhooks`` → ``{"webhooks":[…, "drop", "disabled"], "deliveries":[{"webhook",
  "url","form","status","error","dropped","done","attempts"}]}`` (``attempts``: the status of each
  try, or ``"error"``).
- ``PUT /_admin/webhooks/{id}`` ``{"drop": n}`` drops that webhook's next ``n`` deliveries on
  purpose (``-1``: all of them, ``0``: none) → the webhook.
- ``DELETE /_admin/webhooks/{id}`` removes the webhook behind its owner's back, as Mailchimp does
  with one that keeps failing → ``{"removed": id}``.

A malformed request gets 400 ``{"error": "…"}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from headwater.sandbox import admin_kit
from headwater.sandbox.mailchimp import changes, dates, problems

if TYPE_CHECKING:
    from headwater.sandbox.mailchimp.app import SandboxState

_Handler = admin_kit.Handler


def _seconds(value: object, key: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return dates.parse(value)
        except dates.MalformedDate:
            pass
    raise ValueError(f"{key} must be epoch seconds or an ISO 8601 date-time")


def _frozen_at(value: object) -> int:
    """``frozenAt`` as epoch milliseconds, or as ISO 8601 (read to the second)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return _seconds(value, "frozenAt") * 1000


def _guarded(handler: _Handler) -> _Handler:
    async def guarded(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except ValueError as exc:  # BatchError included
            return web.json_response({"error": str(exc)}, status=400)
        except problems.Problem as exc:
            return web.json_response({"error": f"{exc.title}: {exc.detail}"}, status=400)

    return guarded


def routes(state: SandboxState) -> list[web.RouteDef]:
    """The admin routes over ``state``."""
    data = state.store

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def snapshot(request: web.Request) -> web.Response:
        described = state.clock.describe()
        with data.lock:
            lists = [
                {
                    **audience.to_json(),
                    "members": [m.to_json(audience.id) for m in audience.members.values()],
                    "forgotten": sorted(audience.forgotten),
                }
                for audience in data.lists()
            ]
        now = dates.iso(state.clock.now_ms() // 1000)
        return web.json_response({"now": now, "clock": described, "lists": lists})

    async def create_list(request: web.Request) -> web.Response:
        name = (await admin_kit.body(request)).get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("name is required")
        return web.json_response(data.create_list(name).to_json(), status=201)

    async def batch(request: web.Request) -> web.Response:
        body = await admin_kit.body(request)
        ops = body.get("ops")
        if not isinstance(ops, list):
            raise ValueError("ops must be a list")
        at = data.now() if body.get("at") is None else _seconds(body["at"], "at")
        ids = changes.apply_batch(data, ops, at=at)
        return web.json_response({"ids": ids, "at": dates.iso(at)})

    async def issue_token(request: web.Request) -> web.Response:
        account = (await admin_kit.body(request)).get("account", state.tokens.default_account)
        if account not in state.tokens.accounts:
            raise ValueError(f"no account {account!r}")
        return web.json_response(
            {
                "access_token": state.tokens.issue_token(account),
                "account": account,
                "api_key": state.tokens.api_key(account),
            }
        )

    async def revoke_tokens(request: web.Request) -> web.Response:
        return web.json_response({"revoked": state.tokens.revoke()})

    async def get_limits(request: web.Request) -> web.Response:
        return web.json_response({"connections": state.connections.limit})

    async def set_limits(request: web.Request) -> web.Response:
        limit = admin_kit.integer(await admin_kit.body(request), "connections")
        if limit is None or limit < 0:
            raise ValueError("connections must be an integer ≥ 0")
        state.connections.limit = limit
        return await get_limits(request)

    async def list_webhooks(request: web.Request) -> web.Response:
        hooks = state.webhooks
        return web.json_response(
            {
                "webhooks": [
                    {**h.to_json(), "drop": h.drop, "disabled": h.disabled} for h in hooks.all()
                ],
                "deliveries": [d.describe() for d in list(hooks.deliveries)],
            }
        )

    async def set_webhook(request: web.Request) -> web.Response:
        drop = admin_kit.integer(await admin_kit.body(request), "drop")
        if drop is None or drop < -1:
            raise ValueError("drop must be an integer: n ≥ 0 deliveries, or -1 for all")
        try:
            hook = state.webhooks.set_drop(request.match_info["id"], drop)
        except KeyError:
            return web.json_response({"error": "no such webhook"}, status=404)
        return web.json_response({**hook.to_json(), "drop": hook.drop})

    async def remove_webhook(request: web.Request) -> web.Response:
        webhook_id = request.match_info["id"]
        if not state.webhooks.remove(webhook_id):
            return web.json_response({"error": "no such webhook"}, status=404)
        return web.json_response({"removed": webhook_id})

    table: list[tuple[str, str, _Handler]] = [
        ("GET", "/health", health),
        ("GET", "/state", snapshot),
        ("POST", "/lists", create_list),
        ("POST", "/batch", batch),
        ("POST", "/tokens", issue_token),
        ("POST", "/tokens/revoke", revoke_tokens),
        *admin_kit.clock_rows(state.clock, _frozen_at),
        ("GET", "/limits", get_limits),
        ("PUT", "/limits", set_limits),
        *admin_kit.fault_and_counter_rows(state.faults, state),
        ("GET", "/webhooks", list_webhooks),
        ("PUT", "/webhooks/{id}", set_webhook),
        ("DELETE", "/webhooks/{id}", remove_webhook),
    ]
    return [web.route(method, "/_admin" + path, _guarded(h)) for method, path, h in table]

"""The Mailchimp sandbox's application: its state, the gateway every request passes, and ``run``.

Every request outside ``/_admin`` is counted. Under ``/3.0/`` it must then carry an account's
credential (``Authorization: Bearer <token>``, or Basic with any user name and the token or API
key as password; else 401 problem+json) and find one of the account's 10 connections free (else
429 problem+json). Then come the armed faults, then the route. Unknown paths and methods answer
404 and 405 as problem+json. One server is both the login host (``/oauth2/…``) and the API host.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from headwater.sandbox import clock, faults, serving
from headwater.sandbox.mailchimp import (
    admin,
    api,
    connections,
    oauth,
    problems,
    samples,
    store,
    webhooks,
)

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class SandboxState:
    """Everything the sandbox knows; the admin surface and Python tests both drive it.

    Parts: ``clock`` (``clock.Clock``), ``store`` (``store.Store``: lists and members),
    ``tokens`` (``oauth.Tokens``), ``connections`` (``connections.Connections``), ``faults``
    (``faults.Faults``), ``webhooks`` (``webhooks.Webhooks``); ``counters()`` reports calls,
    grants, refusals and faults fired.

    Options beyond the seed data: ``accounts`` (names; each has its own tokens, API key and
    connection limit, all see the same lists), ``connection_limit`` (0: none),
    ``exclusive_since`` (``since_last_changed`` leaves out its own second), ``lenient_dates``
    (an unreadable date filter is ignored rather than refused), ``ignore_offsets`` (date filters
    read their wall time as UTC), ``api_endpoint`` (what the metadata names as the API host;
    default: the URL the request came to), ``webhook_retry_delays`` (seconds before each of the
    three retries) and ``frozen_at_ms`` (start with the clock frozen there).
    """

    def __init__(
        self,
        *,
        client_id: str = "sandbox-client",
        client_secret: str = "sandbox-secret",
        accounts: Sequence[str] = ("sandbox",),
        lists: int = 2,
        members: int = 25,
        seed: int = 1,
        connection_limit: int = connections.DEFAULT_LIMIT,
        exclusive_since: bool = False,
        lenient_dates: bool = False,
        ignore_offsets: bool = False,
        api_endpoint: str | None = None,
        webhook_retry_delays: Sequence[float] = webhooks.RETRY_DELAYS,
        frozen_at_ms: int | None = None,
    ) -> None:
        self.clock = clock.Clock()
        if frozen_at_ms is not None:
            self.clock.freeze(frozen_at_ms)
        self.store = store.Store(self.clock, exclusive_since=exclusive_since)
        samples.seed(self.store, lists=lists, members_per_list=members, seed=seed)
        self.tokens = oauth.Tokens(
            self.clock, client_id=client_id, client_secret=client_secret, accounts=accounts
        )
        self.connections = connections.Connections(connection_limit)
        self.faults = faults.Faults(seed, default_path="/3.0/")
        self.webhooks = webhooks.Webhooks(self.store, webhook_retry_delays)
        self.options = api.Options(lenient_dates=lenient_dates, ignore_offsets=ignore_offsets)
        self.api_endpoint = api_endpoint
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()

    def count_call(self, method: str, path: str) -> None:
        with self._lock:
            self.calls[f"{method} {path}"] += 1

    def counters(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": dict(self.calls),
                "grants": dict(self.tokens.grants),
                "grantRefusals": dict(self.tokens.refusals),
                "tooManyConnections": self.connections.refused,
                "peakConnections": self.connections.peak,
                "faultsFired": self.faults.fired_total,
            }

    def reset_counters(self) -> None:
        with self._lock:
            self.calls.clear()
            self.tokens.grants.clear()
            self.tokens.refusals.clear()
            self.connections.refused = 0
            self.connections.peak = 0
            self.faults.fired_total = 0


def _credential(request: web.Request) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            _, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return password
    return ""


async def _answer(request: web.Request, handler: _Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except problems.Problem as exc:
        return exc.response()
    except web.HTTPNotFound:
        return problems.not_found().response()
    except web.HTTPMethodNotAllowed:
        return problems.method_not_allowed().response()
    except web.HTTPException as exc:
        # Answered, not raised, so that a fault can still mangle it.
        headers = {k: v for k, v in exc.headers.items() if k.lower() != "content-length"}
        return web.Response(status=exc.status, body=exc.body, headers=headers)


async def _with_faults(
    state: SandboxState, request: web.Request, handler: _Handler
) -> web.StreamResponse:
    fired = state.faults.firing(request.method, request.path)
    for fault in fired:
        if fault.kind == "latency":
            await asyncio.sleep(fault.delay)
    terminal = next((f for f in fired if f.kind != "latency"), None)
    if terminal is not None and terminal.kind in ("status", "rate_limit"):
        headers = {"Retry-After": str(terminal.retry_after)} if terminal.retry_after else None
        if terminal.body is not None:
            return web.json_response(terminal.body, status=terminal.status, headers=headers)
        problem = (
            problems.too_many_connections()
            if terminal.status == 429
            else problems.server_error(terminal.status)
        )
        return problem.response(headers)
    response = await _answer(request, handler)
    if terminal is not None:
        return await serving.faulted_answer(terminal.kind, request, response)
    return response


def _middleware(state: SandboxState) -> Middleware:
    @web.middleware
    async def gateway(request: web.Request, handler: _Handler) -> web.StreamResponse:
        if request.path.startswith("/_admin"):
            return await handler(request)
        state.count_call(request.method, request.path)
        if not request.path.startswith("/3.0/"):
            return await _with_faults(state, request, handler)
        account = state.tokens.account_for(_credential(request))
        if account is None:
            return problems.unauthorized().response()
        if not state.connections.enter(account):
            return problems.too_many_connections().response()
        try:
            return await _with_faults(state, request, handler)
        finally:
            state.connections.leave(account)

    return gateway


STATE = web.AppKey("state", SandboxState)


def build_app(state: SandboxState) -> web.Application:
    """The sandbox application over ``state``."""
    app = web.Application(middlewares=[_middleware(state)])
    app[STATE] = state
    app.cleanup_ctx.append(state.webhooks.running)
    app.add_routes(oauth.routes(state.tokens, state.api_endpoint))
    app.add_routes(api.routes(state.store, state.options))
    app.add_routes(webhooks.routes(state.webhooks))
    app.add_routes(admin.routes(state))
    return app


def run(
    *,
    host: str,
    port: int,
    client_id: str,
    client_secret: str,
    lists: int,
    members: int,
    seed: int,
    connection_limit: int,
    lenient_dates: bool,
) -> None:
    """Serves the sandbox until interrupted, after printing where and with which credentials."""
    state = SandboxState(
        client_id=client_id,
        client_secret=client_secret,
        lists=lists,
        members=members,
        seed=seed,
        connection_limit=connection_limit,
        lenient_dates=lenient_dates,
    )

    def banner(url: str) -> str:
        account = state.tokens.default_account
        return "\n".join(
            [
                f"Mailchimp sandbox listening on {url} (login host and API host)",
                f"  OAuth client id:     {client_id}",
                f"  OAuth client secret: {client_secret}",
                f"  API key ({account}): {state.tokens.api_key(account)}",
                f"  data: {lists} lists of {members} members (seed {seed}); "
                f"admin: {url}/_admin/state",
            ]
        )

    serving.run_forever(build_app(state), host, port, banner)

"""A faithful local Act-On: OAuth, lists, list download, record CRUD, rate limits and faults.

``build_app(SandboxState(...))`` gives the aiohttp application; ``run(...)`` serves it for
``headwater sandbox acton``. The pieces live beside this module: ``acton_oauth`` (``/authorize``,
``/token``), ``acton_api`` (``/api/1/...``), ``acton_data`` (the store and its filter semantics),
``acton_seed`` (the sample contacts),
``acton_changes`` (atomic batches and between-pages hooks), ``faults``, ``limits``, ``clock`` and
``acton_admin`` (the ``/_admin`` surface for tests, the demo and benchmarks, documented there)
and ``acton_webhooks`` (outgoing webhooks as Svix sends them, and their ``/_admin/webhooks``).

Every request outside ``/_admin`` is counted, then meets the armed faults, then (under ``/api/``)
the bearer check (401 with Act-On's gateway body) and the account's rate limits (429 with
``Retry-After``). All accounts see the same lists; limits and tokens are per account.
Tests may also drive a ``SandboxState`` directly from Python, from any thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from headwater.sandbox import (
    acton_admin,
    acton_api,
    acton_changes,
    acton_data,
    acton_errors,
    acton_oauth,
    acton_seed,
    acton_webhooks,
    clock,
    faults,
    limits,
    serving,
)

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class SandboxState:
    """Everything the sandbox knows; the admin surface and Python tests both drive it.

    Parts: ``clock`` (``clock.Clock``), ``store`` (``acton_data.Store``: lists and contacts),
    ``tokens`` (``acton_oauth.Tokens``), ``limits`` (``limits.RateLimits``), ``faults``
    (``faults.Faults``), ``hooks`` (``acton_changes.PageHooks``); ``batch(ops)`` applies changes
    atomically and ``counters()`` reports calls, grants, rate-limited calls and faults fired.
    """

    def __init__(
        self,
        *,
        client_id: str = "sandbox-client",
        client_secret: str = "sandbox-secret",
        lists: int = 3,
        contacts: int = 25,
        seed: int = 1,
        token_ttl: int = 3600,
        code_ttl: int = 60,
        rate_per_second: float = 0,
        rate_per_day: int = 0,
        accounts: Mapping[str, str] | None = None,
        exclusive_refresh: bool = False,
        inclusive_bounds: bool = False,
        frozen_at_ms: int | None = None,
        webhook_retry_delays: Sequence[float] = acton_webhooks.RETRY_DELAYS,
    ) -> None:
        self.clock = clock.Clock()
        if frozen_at_ms is not None:
            self.clock.freeze(frozen_at_ms)
        self.store = acton_data.Store(self.clock, inclusive_bounds=inclusive_bounds)
        acton_seed.seed(self.store, lists=lists, contacts=contacts, seed=seed)
        self.tokens = acton_oauth.Tokens(
            self.clock,
            client_id=client_id,
            client_secret=client_secret,
            token_ttl=token_ttl,
            code_ttl=code_ttl,
            accounts=accounts,
            exclusive_refresh=exclusive_refresh,
        )
        self.limits = limits.RateLimits(rate_per_second, rate_per_day)
        self.faults = faults.Faults(seed)
        self.hooks = acton_changes.PageHooks()
        self.webhooks = acton_webhooks.Webhooks(self.store, webhook_retry_delays)
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.rate_limited = 0

    def batch(self, ops: Sequence[Mapping[str, Any]], *, at_ms: int | None = None) -> list[str]:
        """Applies changes atomically at one time; see ``acton_changes``."""
        return acton_changes.apply_batch(self.store, ops, at_ms=at_ms)

    def count_call(self, method: str, path: str) -> None:
        with self._lock:
            self.calls[f"{method} {path}"] += 1

    def count_rate_limited(self) -> None:
        with self._lock:
            self.rate_limited += 1

    def counters(self) -> dict[str, Any]:
        """Calls per ``METHOD path``, token grants and refusals by grant type, limits and faults."""
        with self._lock:
            return {
                "calls": dict(self.calls),
                "grants": dict(self.tokens.grants),
                "grantRefusals": dict(self.tokens.refusals),
                "rateLimited": self.rate_limited,
                "faultsFired": self.faults.fired_total,
            }

    def reset_counters(self) -> None:
        with self._lock:
            self.calls.clear()
            self.tokens.grants.clear()
            self.tokens.refusals.clear()
            self.rate_limited = 0
            self.faults.fired_total = 0


def _json_error(
    error: acton_errors.ActonError, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.json_response(error.body, status=error.status, headers=headers)


def _bearer(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def _answer(
    state: SandboxState, request: web.Request, handler: _Handler
) -> web.StreamResponse:
    try:
        if request.path.startswith("/api/"):
            account = state.tokens.account_for(_bearer(request))
            if account is None:
                raise acton_errors.unauthorized()
            wait = state.limits.admit(account)
            if wait is not None:
                state.count_rate_limited()
                return _json_error(acton_errors.rate_limited(), {"Retry-After": str(wait)})
        return await handler(request)
    except acton_errors.ActonError as exc:
        return _json_error(exc)
    except web.HTTPNotFound:
        return _json_error(acton_errors.not_found())
    except web.HTTPException as exc:
        # Answered, not raised, so that a fault can still mangle it.
        headers = {k: v for k, v in exc.headers.items() if k.lower() != "content-length"}
        return web.Response(status=exc.status, body=exc.body, headers=headers)


def _middleware(state: SandboxState) -> Middleware:
    @web.middleware
    async def gateway(request: web.Request, handler: _Handler) -> web.StreamResponse:
        if request.path.startswith("/_admin"):
            return await handler(request)
        state.count_call(request.method, request.path)
        fired = state.faults.firing(request.method, request.path)
        for fault in fired:
            if fault.kind == "latency":
                await asyncio.sleep(fault.delay)
        terminal = next((f for f in fired if f.kind != "latency"), None)
        if terminal is not None and terminal.kind in ("status", "rate_limit"):
            headers = {"Retry-After": str(terminal.retry_after)} if terminal.retry_after else None
            if terminal.body is not None:
                return web.json_response(terminal.body, status=terminal.status, headers=headers)
            error = (
                acton_errors.rate_limited()
                if terminal.status == 429
                else acton_errors.server_error(terminal.status)
            )
            return _json_error(error, headers)
        response = await _answer(state, request, handler)
        if terminal is not None:
            return await serving.faulted_answer(terminal.kind, request, response)
        return response

    return gateway


STATE = web.AppKey("state", SandboxState)


def build_app(state: SandboxState) -> web.Application:
    """The sandbox application over ``state``."""
    app = web.Application(middlewares=[_middleware(state)])
    app[STATE] = state
    app.add_routes(acton_oauth.routes(state.tokens))
    app.add_routes(acton_api.routes(state.store, state.hooks))
    app.add_routes(acton_admin.routes(state))
    app.cleanup_ctx.append(state.webhooks.running)
    return app


def run(
    *,
    host: str,
    port: int,
    client_id: str,
    client_secret: str,
    lists: int,
    contacts: int,
    seed: int,
    token_ttl: int,
    rate_per_second: float,
    rate_per_day: int,
) -> None:
    """Serves the sandbox until interrupted, after printing where and with which credentials."""
    state = SandboxState(
        client_id=client_id,
        client_secret=client_secret,
        lists=lists,
        contacts=contacts,
        seed=seed,
        token_ttl=token_ttl,
        rate_per_second=rate_per_second,
        rate_per_day=rate_per_day,
    )

    def banner(url: str) -> str:
        username = state.tokens.default_username
        return "\n".join(
            [
                f"Act-On sandbox listening on {url}",
                f"  OAuth client id:     {client_id}",
                f"  OAuth client secret: {client_secret}",
                f"  password grant:      {username} / {state.tokens.accounts[username]}",
                f"  data: {lists} lists of {contacts} contacts (seed {seed}); "
                f"admin: {url}/_admin/state",
            ]
        )

    serving.run_forever(build_app(state), host, port, banner)

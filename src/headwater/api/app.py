"""The FastAPI application: routers, the request id, and every error in one JSON shape.

Errors answer ``{"requestId","message","providerMessage"?,"errors":[{"field","problem"}]}``:
HeadwaterError subclasses by their ``status``, validation problems as 400 naming the field (a body
that is not JSON names the line and column), and anything unexpected as a logged 500.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headwater import __version__, logs
from headwater.api import auth, auth_first, body, notification, openapi, route_hints
from headwater.bootstrap import Container
from headwater.errors import HeadwaterError, InputError, ProviderError, StorageError

log = logging.getLogger(__name__)

BASE_PATH = "/elements/api-v2"
REQUEST_ID_HEADER = "X-Request-Id"


def routers() -> list[APIRouter]:
    """The routers served under ``BASE_PATH``; add a resource's router here."""
    from headwater.api.routes import (
        credentials,
        deliveries,
        elements,
        events,
        hub,
        inbound,
        instances,
        operations,
        pollers,
    )

    return [
        inbound.router,
        elements.router,
        operations.router,
        instances.router,
        hub.router,
        deliveries.router,
        pollers.router,
        events.router,
        credentials.router,
    ]


def create_app(container: Container) -> FastAPI:
    """The API of a built container (the caller owns the container's lifetime)."""
    from headwater.api.routes import health
    from headwater.ui import app as ui_app

    app = FastAPI(
        title="Headwater",
        version=__version__,
        summary="Polls SaaS APIs and delivers signed, durable webhooks (Cloud Elements format).",
        redirect_slashes=False,  # a trailing slash gets a 404 that names the path without it
    )
    app.state.container = container
    for router in routers():
        app.include_router(router, prefix=BASE_PATH)
    app.include_router(health.router)
    ui_app.install(app)
    notification.declare(app)
    openapi.install(app, BASE_PATH)
    app.add_exception_handler(HeadwaterError, _headwater_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.state.auth_gate = auth.Gate(container)
    # the last added is the outermost; a route reading its body goes through auth_first, then body
    app.add_middleware(auth_first.AuthFirstMiddleware, gate=app.state.auth_gate)
    app.add_middleware(body.BodyLimitMiddleware, max_bytes=container.settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware)
    return app


def request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or _new_request_id())


def error_response(
    request: Request,
    status: int,
    message: str,
    problems: Sequence[tuple[str, str]] = (),
    provider_message: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An error in the one JSON shape of the API."""
    body: dict[str, Any] = {"requestId": request_id(request), "message": message}
    if provider_message is not None:
        body["providerMessage"] = provider_message
    body["errors"] = [{"field": field, "problem": problem} for field, problem in problems]
    return JSONResponse(body, status_code=status, headers=headers)


async def _headwater_error(request: Request, error: HeadwaterError) -> JSONResponse:
    problems = error.problems if isinstance(error, InputError) else ()
    provider = error.provider_message if isinstance(error, ProviderError) else None
    headers = None
    retry_after = getattr(error, "retry_after", None)
    if isinstance(retry_after, int | float) and retry_after > 0:
        headers = {"Retry-After": str(max(1, round(retry_after)))}
    message = error.message
    if isinstance(error, StorageError):
        # the driver's text can quote SQL and parameters: logged, not answered
        log.error("request %s: %s", request_id(request), error.message)
        message = "The database is unavailable; try again shortly."
    elif error.status >= 500:
        log.warning("request %s failed: %s", request_id(request), error.message)
    return error_response(request, error.status, message, problems, provider, headers)


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    problems: list[tuple[str, str]] = []
    for item in error.errors():
        if item.get("type") == "json_invalid":
            return _json_error(request, error.body, item)
        loc = tuple(item.get("loc", ()))
        if loc == ("body",) and item.get("type") == "missing":
            problems.append(("body", "the request body is empty; send a JSON object"))
            continue
        problems.append((_field(loc), _problem(item)))
    message = "; ".join(f"{f}: {p}" if f else p for f, p in problems) or "invalid request"
    return error_response(request, 400, message, problems)


def _json_error(request: Request, doc: object, item: dict[str, Any]) -> JSONResponse:
    text = doc.decode("utf-8", "replace") if isinstance(doc, bytes) else str(doc or "")
    try:
        json.loads(text)
    except json.JSONDecodeError as decode_error:
        problem = _json_problem(text, decode_error)
    else:
        problem = str(item.get("ctx", {}).get("error", "not valid JSON"))
    return error_response(
        request, 400, f"The request body is not valid JSON: {problem}", [("body", problem)]
    )


_HINTS = {
    "Expecting ',' delimiter": "is a comma missing before it?",
    "Expecting property name enclosed in double quotes": "a trailing comma, or a quote missing?",
    "Unterminated string starting at": "is a closing quote missing?",
    "Invalid control character at": "is a closing quote missing before the line ends?",
    "Expecting ':' delimiter": "is a quote unbalanced?",
}


def _json_problem(text: str, error: json.JSONDecodeError) -> str:
    """Where and what: ``Expecting ',' delimiter at line 9, column 6 (near …); hint``."""
    if not text.strip():
        return "the body is empty"
    line = text.splitlines()[error.lineno - 1] if text.splitlines() else ""
    start = max(0, error.colno - 31)
    near = line[start : error.colno + 20].strip()
    where = f"{error.msg} at line {error.lineno}, column {error.colno}"
    if near:
        where += f" (near {near!r})"
    hint = _HINTS.get(error.msg)
    return f"{where}: {hint}" if hint else where


def _field(loc: Sequence[object]) -> str:
    parts = [str(part) for part in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) if parts else "body"


def _problem(item: dict[str, Any]) -> str:
    message = str(item.get("msg", "invalid"))
    return message.removeprefix("Value error, ")


async def _http_error(request: Request, error: HTTPException) -> JSONResponse:
    if error.status_code in (404, 405) and error.detail in ("Not Found", "Method Not Allowed"):
        return _no_route(request, error)
    messages = {404: "Not found.", 405: "Method not allowed."}
    message = error.detail if isinstance(error.detail, str) else messages.get(error.status_code, "")
    return error_response(
        request,
        error.status_code,
        message or "HTTP error",
        headers=dict(error.headers) if error.headers else None,
    )


def _no_route(request: Request, error: HTTPException) -> JSONResponse:
    """No route serves this method and path: say what does."""
    method, path = request.method, request.url.path
    paths = request.app.openapi().get("paths", {})
    allowed = route_hints.allowed_methods(paths, path)
    if error.status_code == 405 and not allowed:  # a route the description leaves out
        given = (error.headers or {}).get("Allow", "")
        allowed = sorted(m.strip() for m in given.split(",") if m.strip())
    if error.status_code == 405 and allowed:
        problem = f"{method} is not allowed here; allowed: {', '.join(allowed)}"
        return error_response(
            request,
            405,
            f"Method {method} is not allowed on {path}; allowed: {', '.join(allowed)}.",
            [("method", problem)],
            headers={"Allow": ", ".join(allowed)},
        )
    message = f"No route matches {method} {path}."
    nearest = route_hints.nearest_path(paths, path, BASE_PATH)
    if nearest is not None:
        problem = f"no such route; did you mean {nearest}?"
    elif not path.startswith(BASE_PATH + "/"):
        problem = f"no such route; the API is under {BASE_PATH} (described at /docs)"
    else:
        problem = "no such route (the API is described at /docs)"
    return error_response(
        request, 404, f"{message} {problem[0].upper()}{problem[1:]}.", [("path", problem)]
    )


def _new_request_id() -> str:
    return "req_" + uuid.uuid4().hex


class RequestIdMiddleware:
    """Gives every request an id (answered in ``X-Request-Id``) and turns crashes into a 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.lower().encode(), rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            with logs.bound(request_id=rid):
                await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("request %s %s %s crashed", rid, scope.get("method"), scope.get("path"))
            if started:
                raise
            response = JSONResponse(
                {"requestId": rid, "message": "Internal error; it was logged.", "errors": []},
                status_code=500,
            )
            await response(scope, receive, send_with_id)

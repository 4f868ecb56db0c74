"""Signing in and out: with the organization's and the user's secrets (checked as the API
checks its Authorization header, failures throttled per address), or with a one-time link."""

from __future__ import annotations

import secrets as random_secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from headwater.api import auth
from headwater.errors import AuthenticationError, TooManyFailures
from headwater.storage import tenants
from headwater.ui import session as sessions
from headwater.ui import web

router = APIRouter(route_class=web.PageRoute, include_in_schema=False)

_SIGN_IN = "sign-in"


def _safe_next(target: str) -> str:
    """Only a path of this site: never another host."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _signed_in(request: Request, who: sessions.Session, target: str) -> Response:
    response = web.redirect(_safe_next(target))
    web.set_cookie(
        response,
        request,
        sessions.SESSION_COOKIE,
        who.cookie(web.signer(request)),
        max_age=sessions.SESSION_SECONDS,
    )
    response.delete_cookie(sessions.PRE_COOKIE, path="/sign-in")
    return response


def _form(
    request: Request, status: int = 200, errors: dict[str, str] | None = None, **values: Any
) -> Response:
    nonce = random_secrets.token_urlsafe(16)
    response = web.page(
        request,
        "sign_in.html",
        status,
        who=None,
        sign_in_csrf=web.signer(request).token_for(_SIGN_IN, nonce),
        errors=errors or {},
        next=_safe_next(values.pop("next", "") or request.query_params.get("next", "/")),
        organization=values.pop("organization", ""),
        user=values.pop("user", ""),
    )
    web.set_cookie(response, request, sessions.PRE_COOKIE, nonce, max_age=3600, path="/sign-in")
    return response


async def _authenticate(request: Request, credentials: auth.Credentials) -> tenants.Principal:
    """The holder of ``credentials``, through the API's gate: failures counted per address, and
    an address that failed too often refused before its secrets are looked at."""
    gate = auth.gate(request)
    wait = gate.failures.retry_after(
        request.client.host if request.client else "unknown", gate.clock()
    )
    if wait:
        raise TooManyFailures(
            f"Too many failed sign-ins from this address; try again in {wait} s.", retry_after=wait
        )
    try:
        return await auth.authenticate(gate.container, credentials)
    except AuthenticationError:
        gate.failed(request.scope)
        raise


@router.get("/sign-in")
async def sign_in_page(request: Request) -> Response:
    if web.current(request) is not None:
        return web.redirect(_safe_next(request.query_params.get("next", "/")))
    return _form(request)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    fields = await web.form(request)
    organization = web.first(fields, "organization").strip()
    user = web.first(fields, "user").strip()
    target = web.first(fields, "next", "/")
    nonce = request.cookies.get(sessions.PRE_COOKIE, "")
    expected = web.signer(request).token_for(_SIGN_IN, nonce)
    given = web.first(fields, "csrf").encode()
    if not nonce or not random_secrets.compare_digest(given, expected.encode()):
        expired = {"form": "The sign-in form had expired; it is fresh now: sign in again."}
        return _form(request, 403, expired, next=target, organization=organization)
    errors: dict[str, str] = {}
    if not organization:
        errors["organization"] = "required: your organization's secret"
    if not user:
        errors["user"] = "required: your user secret"
    if errors:
        return _form(request, 400, errors, next=target, organization=organization, user=user)
    try:
        principal = await _authenticate(request, auth.Credentials(user, organization))
    except (AuthenticationError, TooManyFailures) as error:
        status = error.status
        errors["form"] = error.message
        return _form(request, status, errors, next=target, organization=organization)
    return _signed_in(request, sessions.Session.new(principal), target)


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    who = web.current(request)
    if who is not None:
        await web.checked_form(request, who)
    response = web.redirect("/sign-in")
    response.delete_cookie(sessions.SESSION_COOKIE, path="/")
    return response


@router.get("/sign-in/link/{token}")
async def sign_in_link(request: Request, token: str) -> Response:
    """Signs in with a one-time link (``POST /sign-in/links`` makes one)."""
    state = request.app.state
    used = getattr(state, "ui_used_links", None)
    if not isinstance(used, sessions.UsedLinks):
        used = state.ui_used_links = sessions.UsedLinks()
    principal = sessions.read_link(web.signer(request), token, used)
    if principal is None:
        errors = {"form": "That sign-in link was used already or has expired; sign in here."}
        return _form(request, 400, errors)
    return _signed_in(request, sessions.Session.new(principal), "/")


@router.post("/sign-in/links")
async def make_sign_in_link(request: Request) -> Response:
    """A one-time sign-in link for the caller of the API's Authorization header (the demo
    prints one): ``{"url": …, "expiresInSeconds": …}``."""
    try:
        principal = await auth.gate(request).principal(request.scope)
    except (AuthenticationError, TooManyFailures) as error:
        return JSONResponse({"message": error.message}, status_code=error.status)
    token = sessions.sign_in_link(web.signer(request), principal)
    url = str(request.base_url).rstrip("/") + f"/sign-in/link/{token}"
    return JSONResponse({"url": url, "expiresInSeconds": sessions.LINK_SECONDS})

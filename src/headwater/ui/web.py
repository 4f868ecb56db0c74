"""What every page shares: templates, the signed-in session, CSRF, form bodies, error pages.

Routes use :class:`PageRoute`, which turns Headwater's errors into HTML pages (a 404 page for an
instance of another organization, exactly as the API answers 404) and a missing session into a
redirect to the sign-in page.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, cast

import jinja2
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute

from headwater.bootstrap import Container
from headwater.errors import HeadwaterError, InputError, NotFoundError
from headwater.ui import session as sessions

HERE = Path(__file__).resolve().parent
MAX_FORM_BYTES = 256 * 1024
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class SignInRequired(HeadwaterError):
    """Sign in to see this page."""

    status = 401


class CsrfRefused(HeadwaterError):
    """The form was not sent from this site's page (its CSRF token is missing or wrong); reload
    the page and try again."""

    status = 403


def _when(value: dt.datetime | str | None) -> str:
    if value is None:
        return "—"
    moment: dt.datetime
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    else:
        moment = value
    if moment.tzinfo is None:  # stored times are UTC
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters["when"] = _when
templates.filters["pretty"] = _pretty


def container(request: Request) -> Container:
    return cast(Container, request.app.state.container)


def signer(request: Request) -> sessions.Signer:
    state = request.app.state
    found = getattr(state, "ui_signer", None)
    if not isinstance(found, sessions.Signer):
        found = state.ui_signer = sessions.Signer.of(container(request).secrets)
    return found


def current(request: Request) -> sessions.Session | None:
    """The signed-in session of the request, if any."""
    return sessions.Session.read(signer(request), request.cookies.get(sessions.SESSION_COOKIE))


def required(request: Request) -> sessions.Session:
    """The signed-in session; SignInRequired (a redirect to the sign-in page) when none."""
    found = current(request)
    if found is None:
        raise SignInRequired()
    return found


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(
    response: Response,
    request: Request,
    name: str,
    value: str,
    *,
    max_age: int,
    path: str = "/",
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="lax",
        secure=secure(request),
    )


async def form(request: Request) -> dict[str, list[str]]:
    """The url-encoded body of a form post, each name with its values in order."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InputError("The form is too large.")
    text = body.decode("utf-8", "replace")
    found: dict[str, list[str]] = {}
    for name, value in urllib.parse.parse_qsl(text, keep_blank_values=True):
        found.setdefault(name, []).append(value)
    return found


def first(fields: dict[str, list[str]], name: str, default: str = "") -> str:
    values = fields.get(name)
    return values[0] if values else default


async def checked_form(request: Request, who: sessions.Session) -> dict[str, list[str]]:
    """The posted form of a signed-in user, after its CSRF token is checked."""
    fields = await form(request)
    if not who.csrf_ok(first(fields, "csrf") or None):
        raise CsrfRefused()
    return fields


def page(
    request: Request,
    template: str,
    status: int = 200,
    who: sessions.Session | None = None,
    **context: Any,
) -> HTMLResponse:
    """The page ``template`` rendered with ``context`` (plus the session and its CSRF token)."""
    who = who if who is not None else current(request)
    html = templates.get_template(template).render(
        request=request,
        who=who,
        csrf=who.csrf if who else "",
        path=request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def error_page(request: Request, error: HeadwaterError) -> Response:
    if isinstance(error, SignInRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        query = urllib.parse.urlencode({"next": target}) if request.method == "GET" else ""
        return redirect("/sign-in" + (f"?{query}" if query else ""))
    title = "Not found" if isinstance(error, NotFoundError) else "Something went wrong"
    return page(request, "error.html", error.status, title=title, message=error.message)


class PageRoute(APIRoute):
    """A route whose errors are answered as pages rather than JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except HeadwaterError as error:
                return error_page(request, error)
            except RequestValidationError:
                return error_page(request, NotFoundError("No such page."))

        return answer

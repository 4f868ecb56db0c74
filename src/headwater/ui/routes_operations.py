"""The operations page: the organization's operations endpoint (where notices go when a poller
disables itself, an instance becomes invalid, a subscription is deactivated or a backlog grows,
and when each recovers), set and removed through the same service as
``PUT``/``DELETE /notifications/operations``. The key is never shown, but once: after the save
that generated it (or set it)."""

from __future__ import annotations

import urllib.parse

from fastapi import APIRouter, Request
from fastapi.responses import Response

from headwater.delivery import operations
from headwater.errors import InputError, NotFoundError
from headwater.ui import session as sessions
from headwater.ui import shown_once, web

router = APIRouter(route_class=web.PageRoute, include_in_schema=False)

PATH = "/operations"
FIELDS = {"url": "ops-url", "signatureKey": "ops-key"}
NOTICES = {
    "saved": "Operations notifications go to the URL below.",
    "removed": "Operations notifications stopped: no URL is set.",
}


async def _endpoint(request: Request, who: sessions.Session) -> operations.Endpoint | None:
    try:
        return await web.container(request).operations.get(who.organization_id)
    except NotFoundError:
        return None


async def _render(
    request: Request,
    who: sessions.Session,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    endpoint = await _endpoint(request, who)
    flash = shown_once.take(request, organization=who.organization_id, sid=who.sid)
    response = web.page(
        request,
        "operations.html",
        status,
        who=who,
        endpoint=endpoint,
        new_key=flash,
        notice=NOTICES.get(request.query_params.get("notice", ""), ""),
        errors=errors or {},
        typed=typed or {"url": endpoint.url if endpoint else ""},
    )
    if flash is not None:
        shown_once.forget(response, PATH)
    return response


@router.get(PATH)
async def operations_page(request: Request) -> Response:
    return await _render(request, web.required(request))


@router.post(PATH)
async def save(request: Request) -> Response:
    who = web.required(request)
    fields = await web.checked_form(request, who)
    typed = {"url": web.first(fields, "url"), "key": web.first(fields, "key")}
    try:
        saved = await web.container(request).operations.put(
            who.organization_id, url=typed["url"], signature_key=typed["key"] or None
        )
    except InputError as error:
        errors = {
            FIELDS.get(name, "ops-url"): problem
            for name, problem in error.problems or [("url", error.message)]
        }
        return await _render(request, who, status=400, errors=errors, typed=typed)
    response = web.redirect(f"{PATH}?{urllib.parse.urlencode({'notice': 'saved'})}")
    if saved.signature_key is not None and not typed["key"]:  # generated: shown this once
        shown_once.keep(
            response,
            request,
            PATH,
            saved.signature_key,
            organization=who.organization_id,
            sid=who.sid,
        )
    return response


@router.post(PATH + "/remove")
async def remove(request: Request) -> Response:
    who = web.required(request)
    await web.checked_form(request, who)
    try:
        await web.container(request).operations.delete(who.organization_id)
    except NotFoundError as error:
        return await _render(request, who, status=error.status, errors={"remove": error.message})
    return web.redirect(f"{PATH}?{urllib.parse.urlencode({'notice': 'removed'})}")

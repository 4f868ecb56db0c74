"""Creating an instance: the element's form, the provider's authorize page, the callback.

The form is checked with the API's rules first; then it is sealed (with a random ``state`` and
the session's id) into a short-lived cookie, and the browser goes to the provider. The callback
page accepts the code only with that ``state`` in that session, creates the instance through the
instances service, and lands on it with its signature key shown once.
"""

from __future__ import annotations

import base64
import json
import secrets as random_secrets
import time
import zlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from headwater.elements import element
from headwater.errors import HeadwaterError, InputError, NotFoundError, ProviderError
from headwater.instances import service
from headwater.ui import data, shown_once, web
from headwater.ui import instance_form as forms
from headwater.ui import session as sessions

router = APIRouter(route_class=web.PageRoute, include_in_schema=False)

PENDING_COOKIE = "hw_pending"
PENDING_SECONDS = 15 * 60
CALLBACK_PATH = "/oauth/callback"


def callback_url(request: Request) -> str:
    """Headwater's own OAuth callback page, to register with the provider's OAuth app."""
    return str(request.base_url).rstrip("/") + CALLBACK_PATH


def _element(request: Request, key: str) -> element.Element:
    try:
        return web.container(request).registry.get(key)
    except NotFoundError:
        raise NotFoundError(f"No element with key {key!r}.") from None


def _form_page(
    request: Request, who: sessions.Session, form: forms.InstanceForm, status: int = 200
) -> Response:
    of = _element(request, form.element_key)
    return web.page(
        request,
        "new_instance.html",
        status,
        who=who,
        form=form,
        element=of,
        methods=sorted(of.event_methods),
        callback=callback_url(request),
    )


@router.get("/instances/new")
async def new_instance(request: Request, element: str = "") -> Response:
    who = web.required(request)
    if not element:
        elements = web.container(request).registry.all()
        return web.page(request, "choose_element.html", who=who, elements=elements)
    of = _element(request, element)
    return _form_page(request, who, forms.InstanceForm.initial(of, callback_url(request)))


@router.post("/instances/new")
async def submit_instance(request: Request) -> Response:
    who = web.required(request)
    fields = await web.checked_form(request, who)
    of = _element(request, web.first(fields, "element"))
    form = forms.InstanceForm.read(of.key, fields)
    copy = web.first(fields, "copy")
    if copy:
        form.copy_resource(int(copy) if copy.isdigit() else -1)
        return _form_page(request, who, form)
    configuration = form.configuration()
    try:  # every problem at once: the form's own and the API's
        data.validate(web.container(request), of, configuration)
    except InputError as error:
        form.place(error.problems or [("", error.message)])
    if form.errors:
        return _form_page(request, who, form, 400)
    state = random_secrets.token_urlsafe(24)
    pending = {"state": state, "sid": who.sid, "at": time.time(), "form": form.dump()}
    sealed = web.container(request).secrets.seal({"z": _pack(pending)})
    target = of.authorize_url(
        client_id=form.values["oauth.api.key"].strip(),
        redirect_uri=form.values["oauth.callback.url"].strip(),
        state=state,
    )
    response = web.redirect(target)
    web.set_cookie(
        response, request, PENDING_COOKIE, sealed, max_age=PENDING_SECONDS, path=CALLBACK_PATH
    )
    return response


def _pack(value: dict[str, Any]) -> str:
    return base64.b64encode(zlib.compress(json.dumps(value).encode())).decode()


def _unpack(text: str) -> dict[str, Any]:
    found = json.loads(zlib.decompress(base64.b64decode(text)))
    if not isinstance(found, dict):
        raise ValueError("not an object")
    return found


def _pending(request: Request, who: sessions.Session, state: str) -> forms.InstanceForm:
    """The form sealed for this ``state`` in this session; InputError when there is none."""
    sealed = request.cookies.get(PENDING_COOKIE)
    stale = InputError(
        "This authorization does not match a form of yours (it expired, was used already, or "
        "began in another session). Fill in the form again."
    )
    if not sealed:
        raise stale
    try:
        pending = _unpack(str(web.container(request).secrets.open(sealed)["z"]))
    except (HeadwaterError, KeyError, ValueError, zlib.error):
        raise stale from None
    fresh = time.time() - float(pending.get("at", 0)) < PENDING_SECONDS
    same = random_secrets.compare_digest(str(pending.get("state", "")).encode(), state.encode())
    if not (fresh and same and pending.get("sid") == who.sid):
        raise stale
    return forms.InstanceForm.load(pending["form"])


@router.get(CALLBACK_PATH)
async def oauth_callback(
    request: Request, state: str = "", code: str = "", error: str = "", error_description: str = ""
) -> Response:
    who = web.required(request)
    form = _pending(request, who, state)
    c = web.container(request)
    try:
        if error or not code:
            raise InputError(
                problems=[
                    (
                        "",
                        "The provider did not authorize: "
                        + (error_description or error or "it sent no code"),
                    )
                ]
            )
        created = await c.instances.create(
            who.principal,
            service.InstanceInput(
                element_key=form.element_key,
                name=form.name,
                configuration=form.configuration(),
                code=code,
            ),
        )
    except InputError as failure:
        form.place(failure.problems or [("", failure.message)])
        return _clear(_form_page(request, who, form, 400))
    except ProviderError as failure:
        detail = failure.provider_message or ""
        form.problem(forms.FORM, failure.message + (f" ({detail})" if detail else ""))
        return _clear(_form_page(request, who, form, failure.status))
    response = _clear(web.redirect(f"/instances/{created.id}"))
    key = created.configuration.get("event.notification.signature.key")
    if isinstance(key, str) and key != "********":
        shown_once.keep(response, request, f"/instances/{created.id}", key, instance=created.id)
    return response


def _clear(response: Response) -> Response:
    response.delete_cookie(PENDING_COOKIE, path=CALLBACK_PATH)
    return response

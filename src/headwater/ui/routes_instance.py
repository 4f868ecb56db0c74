"""An instance's page: its pollers, events (filtered) and deliveries, and what can be done there:
poll now, check for deletes, resume a poller, release queued notifications, replay a time range,
send a test notification. An instance of another organization is not found, as in the API."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from headwater.errors import HeadwaterError, InputError
from headwater.ui import data, shown_once, web
from headwater.ui import session as sessions

router = APIRouter(route_class=web.PageRoute, include_in_schema=False)

EVENT_TYPES = ("CREATED", "UPDATED", "DELETED")
FILTERS = ("resource", "type", "object", "since", "until")
ACTIONS = {"run": "polled", "reconcile": "reconcile", "resume": "resumed", "pause": "paused"}
NOTICES = {
    "polled": "Poller {0} will poll now.",
    "reconcile": "Poller {0} will poll and check for deleted records now.",
    "resumed": "Poller {0} resumed; it polls now.",
    "paused": "Poller {0} paused.",
    "released": "Released {0} queued notification(s); they are sent again in order.",
    "replayed": "Replaying {0} event(s) as new notifications.",
    "test": "Test notification sent: {0}.",
}


def _time(text: str, field: str, errors: dict[str, str]) -> dt.datetime | None:
    """A time typed in a form (UTC when no offset is given); the problem recorded if unreadable."""
    text = text.strip()
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        errors[field] = "not a date and time (e.g. 2026-11-29T10:00)"
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _stamp(value: dt.datetime) -> str:
    return data.quote(value.isoformat().replace("+00:00", "Z"))


def event_filter(given: dict[str, str], errors: dict[str, str]) -> str:
    """The CEQL ``where`` of the event filters typed; problems recorded by filter."""
    parts: list[str] = []
    if given.get("resource"):
        parts.append(f"objectType={data.quote(given['resource'])}")
    if given.get("type"):
        if given["type"] not in EVENT_TYPES:
            errors["type"] = f"one of {', '.join(EVENT_TYPES)}"
        else:
            parts.append(f"eventType={data.quote(given['type'])}")
    if given.get("object"):
        parts.append(f"objectId={data.quote(given['object'])}")
    since = _time(given.get("since", ""), "since", errors)
    until = _time(given.get("until", ""), "until", errors)
    if since is not None:
        parts.append(f"date>={_stamp(since)}")
    if until is not None:
        parts.append(f"date<{_stamp(until)}")
    return " and ".join(parts)


async def render(
    request: Request,
    who: sessions.Session,
    instance_id: int,
    *,
    status: int = 200,
    notice: str = "",
    problems: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    """The instance page; ``problems`` by field of its forms, ``typed`` what was typed there."""
    c = web.container(request)
    instance = await c.instances.get(who.principal, instance_id)
    query = request.query_params
    filters = {name: query.get(name, "").strip() for name in FILTERS}
    errors = dict(problems or {})
    where = event_filter(filters, errors)
    found: list[Any] = []
    before = query.get("before", "")
    if not any(name in errors for name in FILTERS):
        try:
            found = await data.events_page(
                c,
                who.principal,
                instance_id,
                where or None,
                before_id=int(before) if before.isdigit() else None,
                limit=51,
            )
        except InputError as error:
            errors["object"] = "; ".join(p for _, p in error.problems) or error.message
    more = len(found) > 50
    found = found[:50]
    pollers = await data.pollers(c, instance)
    flash = shown_once.take(request, instance=instance_id)
    response = web.page(
        request,
        "instance.html",
        status,
        who=who,
        instance=instance,
        element=_element_name(request, instance.element_key),
        pollers=pollers,
        polling=data.polling_active(instance),
        subscription=await data.subscription(c, who.principal, instance_id),
        events=found,
        more_events=found[-1].id if more else None,
        filters=filters,
        event_types=EVENT_TYPES,
        deliveries=await data.deliveries(c, who.principal, instance_id),
        notice=notice or _notice(query.get("notice", ""), query.get("about", "")),
        errors=errors,
        typed=typed or {},
        new_key=flash,
        default_overlap_hours=c.settings.signature_overlap_seconds / 3600,
    )
    if flash is not None:
        shown_once.forget(response, f"/instances/{instance_id}")
    return response


def _element_name(request: Request, key: str) -> str:
    try:
        return web.container(request).registry.get(key).name
    except HeadwaterError:
        return key


def _notice(code: str, about: str) -> str:
    template = NOTICES.get(code)
    return template.format(about) if template else ""


def _done(instance_id: int, notice: str, about: object, anchor: str) -> Response:
    query = urllib.parse.urlencode({"notice": notice, "about": str(about)})
    return web.redirect(f"/instances/{instance_id}?{query}#{anchor}")


@router.get("/instances/{instance_id:int}")
async def instance_page(request: Request, instance_id: int) -> Response:
    return await render(request, web.required(request), instance_id)


@router.post("/instances/{instance_id:int}/pollers/{resource}/{action}")
async def poller_action(request: Request, instance_id: int, resource: str, action: str) -> Response:
    who = web.required(request)
    await web.checked_form(request, who)
    if action not in ACTIONS:
        raise InputError(f"No poller action {action!r}.")
    c = web.container(request)
    instance = await c.instances.get(who.principal, instance_id)
    try:
        await data.poller_action(c, instance, resource, action)
    except HeadwaterError as error:
        if error.status == 404:
            raise
        problems = {f"poller-{resource}": error.message}
        return await render(request, who, instance_id, status=error.status, problems=problems)
    return _done(instance_id, ACTIONS[action], resource, "pollers")


@router.post("/instances/{instance_id:int}/deliveries/release")
async def release(request: Request, instance_id: int) -> Response:
    who = web.required(request)
    await web.checked_form(request, who)
    c = web.container(request)
    await c.instances.get(who.principal, instance_id)
    count = await data.release(c, who.principal, instance_id)
    return _done(instance_id, "released", count, "deliveries")


@router.post("/instances/{instance_id:int}/replay")
async def replay(request: Request, instance_id: int) -> Response:
    who = web.required(request)
    fields = await web.checked_form(request, who)
    c = web.container(request)
    await c.instances.get(who.principal, instance_id)
    typed = {"from": web.first(fields, "from"), "to": web.first(fields, "to")}
    errors: dict[str, str] = {}
    start = _time(typed["from"], "replay-from", errors)
    end = _time(typed["to"], "replay-to", errors)
    if start is None and "replay-from" not in errors:
        errors["replay-from"] = "required: the start of the range"
    if end is None and "replay-to" not in errors:
        errors["replay-to"] = "required: the end of the range"
    if start is not None and end is not None and end <= start:
        errors["replay-to"] = "must be later than the start"
    if not errors and start is not None and end is not None:
        try:
            replayed = await data.replay(c, who.principal, instance_id, start, end)
        except HeadwaterError as error:
            if error.status == 404:
                raise
            problems = getattr(error, "problems", None) or [("", error.message)]
            errors["replay-to"] = "; ".join(p for _, p in problems)
        else:
            return _done(instance_id, "replayed", replayed.event_count, "deliveries")
    return await render(request, who, instance_id, status=400, problems=errors, typed=typed)


@router.post("/instances/{instance_id:int}/test-notification")
async def test_notification(request: Request, instance_id: int) -> Response:
    who = web.required(request)
    await web.checked_form(request, who)
    c = web.container(request)
    await c.instances.get(who.principal, instance_id)
    try:
        sent = await data.send_test(c, who.principal, instance_id)
    except HeadwaterError as error:
        if error.status == 404:
            raise
        problems = {"test": error.message}
        return await render(request, who, instance_id, status=error.status, problems=problems)
    return _done(instance_id, "test", sent.delivery.status, "deliveries")


@router.get("/instances/{instance_id:int}/events/{event_id:int}")
async def event_page(request: Request, instance_id: int, event_id: int) -> Response:
    """One event: its record, and the notification that carried it with its attempts."""
    who = web.required(request)
    c = web.container(request)
    instance = await c.instances.get(who.principal, instance_id)
    found = await data.event(c, who.principal, instance_id, event_id)
    sent = []
    if found.notification_id:
        where = f"notificationId={data.quote(found.notification_id)}"
        sent = await data.deliveries(c, who.principal, instance_id, where=where, limit=5)
    return web.page(
        request,
        "event.html",
        who=who,
        instance=instance,
        event=found,
        deliveries=sent,
        messages={view.delivery.id: data.message(view) for view in sent},
    )

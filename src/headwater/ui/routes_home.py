"""The home page: every instance of the organization with its health, and the last day's chart."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import Response

from headwater.ui import chart, data, health, web

router = APIRouter(route_class=web.PageRoute, include_in_schema=False)

PAGE = 200


@router.get("/")
async def home(request: Request) -> Response:
    who = web.required(request)
    c = web.container(request)
    instances = []
    after: int | None = None
    while True:
        batch = await c.instances.page(who.principal, after_id=after, limit=PAGE)
        instances.extend(batch)
        if len(batch) < PAGE:
            break
        after = batch[-1].id
    rows = []
    for instance in instances:
        pollers = await data.pollers(c, instance)
        subscription = await data.subscription(c, who.principal, instance.id)
        rows.append(
            health.of(instance, pollers, subscription, polling=data.polling_active(instance))
        )
    now = dt.datetime.now(dt.UTC)
    activity = await data.activity(c, who.principal, now - dt.timedelta(hours=chart.HOURS))
    drawn = chart.build(activity.event_dates, activity.failure_dates, now)
    return web.page(request, "home.html", who=who, rows=rows, chart=drawn)

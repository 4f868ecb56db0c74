"""Rotating an instance's signature key from its page, through the same service as
``POST /instances/{id}/signature-key/rotate``: the new key is shown once on the instance page,
whose signature-key panel then shows both fingerprints until the overlap ends."""

from __future__ import annotations

import math

from fastapi import APIRouter, Request
from fastapi.responses import Response

from headwater.errors import ConflictError, InputError
from headwater.instances import signature_keys
from headwater.ui import routes_instance, shown_once, web

router = APIRouter(route_class=web.PageRoute, include_in_schema=False)

OVERLAP_FIELD = "rotate-overlap"
ROTATE_FIELD = "rotate"
MAX_HOURS = signature_keys.MAX_OVERLAP_SECONDS / 3600


def overlap_seconds(typed: str) -> float | None:
    """The overlap typed in hours, in seconds (None when left empty: the server's default);
    InputError naming the field when it is not a number of hours from 0 to 30 days."""
    text = typed.strip()
    if not text:
        return None
    try:
        hours = float(text)
    except ValueError:
        hours = math.nan
    if not math.isfinite(hours) or not 0 <= hours <= MAX_HOURS:
        raise InputError(
            problems=[(OVERLAP_FIELD, f"a number of hours from 0 to {MAX_HOURS:g} (30 days)")]
        )
    return hours * 3600


@router.post("/instances/{instance_id:int}/signature-key/rotate")
async def rotate(request: Request, instance_id: int) -> Response:
    who = web.required(request)
    fields = await web.checked_form(request, who)
    c = web.container(request)
    await c.instances.get(who.principal, instance_id)  # another organization's: not found
    typed = {"overlap": web.first(fields, "overlap")}
    try:
        seconds = overlap_seconds(typed["overlap"])
        rotated = await c.signature_keys.rotate(who.principal, instance_id, overlap_seconds=seconds)
    except InputError as error:
        problems = {
            OVERLAP_FIELD if name == "overlapSeconds" else name: problem
            for name, problem in error.problems or [(OVERLAP_FIELD, error.message)]
        }
        return await routes_instance.render(
            request, who, instance_id, status=400, problems=problems, typed=typed
        )
    except ConflictError as error:
        return await routes_instance.render(
            request,
            who,
            instance_id,
            status=error.status,
            problems={ROTATE_FIELD: error.message},
            typed=typed,
        )
    path = f"/instances/{instance_id}"
    response = web.redirect(f"{path}#signature-key")
    shown_once.keep(response, request, path, rotated.key, instance=instance_id, rotated=True)
    return response

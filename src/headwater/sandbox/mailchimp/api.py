"""The sandbox's Marketing API v3 (``/3.0``): lists and list members.

- ``GET /3.0/ping``; ``GET /3.0/lists`` → ``{"lists","total_items","constraints","_links"}``;
  ``GET /3.0/lists/{list_id}``.
- ``GET /3.0/lists/{list_id}/members`` with ``count`` (default 10, at most 1000), ``offset``,
  ``status``, ``since_last_changed``/``before_last_changed``, ``since_timestamp_opt``/
  ``before_timestamp_opt`` (ISO 8601; see ``dates``), ``unique_email_id``, ``email_type``,
  ``vip_only``, ``sort_field``/``sort_dir`` → ``{"members","list_id","total_items","_links"}``;
  filter semantics are in ``filters``.
- ``POST …/members``; ``GET|PUT|PATCH|DELETE …/members/{subscriber_hash}`` (the hash, or the
  email address); ``POST …/members/{subscriber_hash}/actions/delete-permanent``. ``DELETE``
  archives and answers 204.
- ``fields`` and ``exclude_fields`` (comma-separated, dotted: ``members.email_address``) shape any
  ``GET`` answer.

A value that cannot be read (a count over 1000, an unknown status, a date that is not ISO 8601,
such as ``…T10:00:00 00:00`` when a ``+`` went unencoded) is answered 400 problem+json naming the
parameter, unless the sandbox runs with ``lenient_dates``: users report real Mailchimp silently
ignoring a ``since_last_changed`` it cannot read (returning every member), and that mode
reproduces it for dates.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from headwater.sandbox.mailchimp import dates, filters, members, problems, store

DEFAULT_COUNT = 10
MAX_COUNT = 1000


@dataclass(frozen=True)
class Options:
    """How strictly the API reads dates."""

    lenient_dates: bool = False
    ignore_offsets: bool = False


def _int(query: Mapping[str, str], name: str, default: int, maximum: int | None = None) -> int:
    raw = query.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise problems.invalid(name, f"The value {raw!r} is not an integer.") from None
    if value < 0 or (maximum is not None and value > maximum):
        bound = f" and at most {maximum}" if maximum is not None else ""
        raise problems.invalid(name, f"The value must be at least 0{bound}.")
    return value


def _choice(query: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    if raw not in allowed:
        raise problems.invalid(name, f"The value must be one of: {', '.join(allowed)}.")
    return raw


def _date(query: Mapping[str, str], name: str, options: Options) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return dates.parse(raw, ignore_offset=options.ignore_offsets)
    except dates.MalformedDate:
        if options.lenient_dates:
            return None
        raise problems.invalid(
            name,
            f"The value {raw!r} is not an ISO 8601 date-time such as 2015-10-21T15:41:36+00:00 "
            "(a '+' in a query string must be sent as %2B).",
        ) from None


def _paths(raw: str) -> list[list[str]]:
    return [p.strip().split(".") for p in raw.split(",") if p.strip()]


def _keep(value: Any, paths: list[list[str]]) -> Any:
    if isinstance(value, list):
        return [_keep(item, paths) for item in value]
    if not isinstance(value, dict) or any(not p for p in paths):
        return value
    kept: dict[str, Any] = {}
    for key, item in value.items():
        below = [p[1:] for p in paths if p and p[0] == key]
        if below:
            kept[key] = item if any(not p for p in below) else _keep(item, below)
    return kept


def _drop(value: Any, paths: list[list[str]]) -> Any:
    if isinstance(value, list):
        return [_drop(item, paths) for item in value]
    if not isinstance(value, dict):
        return value
    dropped: dict[str, Any] = {}
    for key, item in value.items():
        below = [p[1:] for p in paths if p and p[0] == key]
        if any(not p for p in below):
            continue
        dropped[key] = _drop(item, below) if below else item
    return dropped


def shaped(request: web.Request, body: dict[str, Any], status: int = 200) -> web.Response:
    """``body`` with ``fields``/``exclude_fields`` applied, as JSON."""
    if request.query.get("fields"):
        body = _keep(body, _paths(request.query["fields"]))
    if request.query.get("exclude_fields"):
        body = _drop(body, _paths(request.query["exclude_fields"]))
    return web.json_response(body, status=status)


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, or a 400 problem."""
    raw = await request.read()
    try:
        body = json.loads(raw or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise problems.Problem(
            400, "JSON Parse Error", f"We encountered an unspecified JSON parsing error: {exc}"
        ) from None
    if not isinstance(body, dict):
        raise problems.Problem(400, "JSON Parse Error", "The request body must be a JSON object.")
    return body


def _member_query(request: web.Request, options: Options) -> filters.Query:
    query = request.query
    vip = query.get("vip_only", "").lower()
    if vip not in ("", "true", "false"):
        raise problems.invalid("vip_only", "The value must be true or false.")
    return filters.Query(
        status=_choice(query, "status", members.STATUSES),
        since_last_changed=_date(query, "since_last_changed", options),
        before_last_changed=_date(query, "before_last_changed", options),
        since_timestamp_opt=_date(query, "since_timestamp_opt", options),
        before_timestamp_opt=_date(query, "before_timestamp_opt", options),
        unique_email_id=query.get("unique_email_id") or None,
        email_type=_choice(query, "email_type", ("html", "text")),
        vip_only=vip == "true",
        sort_field=_choice(query, "sort_field", members.SORT_FIELDS),
        sort_dir=_choice(query, "sort_dir", ("ASC", "DESC")) or "ASC",
    )


def routes(data: store.Store, options: Options) -> list[web.RouteDef]:
    """The ``/3.0`` routes over ``data``."""

    async def ping(request: web.Request) -> web.Response:
        return web.json_response({"health_status": "Everything's Chimpy!"})

    async def list_lists(request: web.Request) -> web.Response:
        offset = _int(request.query, "offset", 0)
        count = _int(request.query, "count", DEFAULT_COUNT, MAX_COUNT)
        with data.lock:
            found = [a.to_json() for a in data.lists()]
        return shaped(
            request,
            {
                "lists": found[offset : offset + count],
                "total_items": len(found),
                "constraints": {
                    "may_create": True,
                    "max_instances": 100,
                    "current_total_instances": len(found),
                },
                "_links": [{"rel": "self", "href": "/3.0/lists", "method": "GET"}],
            },
        )

    async def get_list(request: web.Request) -> web.Response:
        with data.lock:
            answer = data.get_list(request.match_info["list_id"]).to_json()
        return shaped(request, answer)

    async def list_members(request: web.Request) -> web.Response:
        list_id = request.match_info["list_id"]
        offset = _int(request.query, "offset", 0)
        count = _int(request.query, "count", DEFAULT_COUNT, MAX_COUNT)
        query = _member_query(request, options)
        with data.lock:
            found = data.query(list_id, query)
            page = [m.to_json(list_id) for m in found[offset : offset + count]]
        return shaped(
            request,
            {
                "members": page,
                "list_id": list_id,
                "total_items": len(found),
                "_links": [
                    {"rel": "self", "href": f"/3.0/lists/{list_id}/members", "method": "GET"}
                ],
            },
        )

    async def add_member(request: web.Request) -> web.Response:
        list_id = request.match_info["list_id"]
        body = await json_body(request)
        with data.lock:
            return shaped(request, data.add(list_id, body).to_json(list_id))

    async def get_member(request: web.Request) -> web.Response:
        info = request.match_info
        with data.lock:
            return shaped(request, data.get(info["list_id"], info["hash"]).to_json(info["list_id"]))

    async def upsert_member(request: web.Request) -> web.Response:
        info = request.match_info
        body = await json_body(request)
        with data.lock:
            member = data.upsert(info["list_id"], info["hash"], body)
            return shaped(request, member.to_json(info["list_id"]))

    async def patch_member(request: web.Request) -> web.Response:
        info = request.match_info
        body = await json_body(request)
        with data.lock:
            member = data.update(info["list_id"], info["hash"], body)
            return shaped(request, member.to_json(info["list_id"]))

    async def archive_member(request: web.Request) -> web.Response:
        data.archive(request.match_info["list_id"], request.match_info["hash"])
        return web.Response(status=204)

    async def delete_permanent(request: web.Request) -> web.Response:
        data.delete_permanent(request.match_info["list_id"], request.match_info["hash"])
        return web.Response(status=204)

    member = "/3.0/lists/{list_id}/members/{hash}"
    return [
        web.get("/3.0/ping", ping),
        web.get("/3.0/lists", list_lists),
        web.get("/3.0/lists/{list_id}", get_list),
        web.get("/3.0/lists/{list_id}/members", list_members),
        web.post("/3.0/lists/{list_id}/members", add_member),
        web.get(member, get_member),
        web.put(member, upsert_member),
        web.patch(member, patch_member),
        web.delete(member, archive_member),
        web.post(member + "/actions/delete-permanent", delete_permanent),
    ]

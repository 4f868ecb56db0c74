"""The sandbox's Act-On data API (``/api/1``): lists, list download and contact records.

- ``GET /api/1/list?listingtype=CONTACT_LIST&count=&offset=`` → ``{"offset","count","totalCount",
  "result":[…]}`` (another listing type lists nothing);
- ``GET /api/1/list/{listid}?count=&offset=&modafter=&modbefore=&createdafter=&createdbefore=&
  fields=&datequalifiers=true`` → ``{"listId","offset","count","totalCount","emailColumn","headers",
  "data"}``; rows are arrays of strings aligned with ``headers``, ``_contact_id_`` first; ``count``
  defaults to and is capped at 1000; ``fields`` is ``;``-separated; ``datequalifiers=true`` appends
  ``__created_date`` and ``__modified_date`` (epoch milliseconds, as strings) and cannot be combined
  with ``fields``; filter semantics are described in ``acton_data``;
- ``POST /api/1/list/{listid}/record`` inserts, ``PUT …/record?email=`` upserts the first record
  with that email, ``PUT …/record/{rid}`` updates, ``GET …/record/{rid}`` answers a bare array,
  ``DELETE …/record/{rid}`` and ``DELETE …/record?contactids=a,b`` (at most 100) delete.

Errors are Act-On's: an unknown list 400 ``{"errorCode":10004,…}``, an unknown contact 400
``{"errorCode":10008,…}``, an unknown column 400 ``{"errorCode":"10010",…}``.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from headwater.sandbox import acton_changes, acton_data, acton_errors

MAX_COUNT = 1000
MAX_DELETE = 100
CREATED_DATE = "__created_date"
MODIFIED_DATE = "__modified_date"


def _int(request: web.Request, name: str, default: int | None) -> int | None:
    raw = request.query.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise acton_errors.bad_request(f"Invalid value for {name}: {raw!r}") from None
    if value < 0:
        raise acton_errors.bad_request(f"Invalid value for {name}: {raw!r}")
    return value


def _page(request: web.Request) -> tuple[int, int]:
    offset = _int(request, "offset", 0) or 0
    count = min(_int(request, "count", MAX_COUNT) or 0, MAX_COUNT)
    return offset, count


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise acton_errors.bad_request("The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise acton_errors.bad_request("The request body must be a JSON object")
    return body


def routes(store: acton_data.Store, hooks: acton_changes.PageHooks) -> list[web.RouteDef]:
    """The data routes over ``store``; downloads feed ``hooks``."""

    async def list_lists(request: web.Request) -> web.Response:
        offset, count = _page(request)
        kind = request.query.get("listingtype", "CONTACT_LIST").upper()
        lists = store.lists() if kind == "CONTACT_LIST" else []
        page = [found.summary() for found in lists[offset : offset + count]]
        return web.json_response(
            {"offset": offset, "count": len(page), "totalCount": len(lists), "result": page}
        )

    async def download(request: web.Request) -> web.Response:
        list_id = request.match_info["listid"]
        offset, count = _page(request)
        window = acton_data.Window(
            modafter=_int(request, "modafter", None),
            modbefore=_int(request, "modbefore", None),
            createdafter=_int(request, "createdafter", None),
            createdbefore=_int(request, "createdbefore", None),
        )
        qualifiers = request.query.get("datequalifiers", "").lower() == "true"
        fields = [f for f in request.query.get("fields", "").split(";") if f]
        if fields and qualifiers:
            raise acton_errors.bad_request("fields cannot be combined with datequalifiers")
        # Read under the store's lock: a batch applied meanwhile is seen whole or not at all.
        with store.lock:
            found, total, contacts = store.download(list_id, window, offset=offset, count=count)
            columns = [f for f in fields if f != acton_data.CONTACT_ID] or found.headings
            if any(c not in found.headings for c in columns):
                raise acton_errors.invalid_column()
            headers = [acton_data.CONTACT_ID, *columns]
            rows = [found.row(c, columns) for c in contacts]
            if qualifiers:
                headers += [CREATED_DATE, MODIFIED_DATE]
                for row, contact in zip(rows, contacts, strict=True):
                    row += [str(contact.created_ms), str(contact.modified_ms)]
        answer = {
            "listId": list_id,
            "offset": offset,
            "count": len(rows),
            "totalCount": total,
            "emailColumn": headers.index(acton_data.EMAIL) if acton_data.EMAIL in headers else -1,
            "headers": headers,
            "data": rows,
        }
        response = web.json_response(answer)
        hooks.downloaded(store, list_id)
        return response

    async def insert(request: web.Request) -> web.Response:
        contact_id = store.insert(request.match_info["listid"], await _body(request))
        return web.json_response(
            {
                "status": "success",
                "message": "Record inserted",
                "id": contact_id,
                "contact_id": contact_id,
            }
        )

    async def upsert(request: web.Request) -> web.Response:
        email = request.query.get("email", "")
        if not email:
            raise acton_errors.bad_request("Missing parameter - email")
        contact_id, inserted = store.upsert(
            request.match_info["listid"], email, await _body(request)
        )
        message = "Record inserted" if inserted else "Record updated"
        return web.json_response(
            {"status": "success", "message": message, "id": contact_id, "contact_id": contact_id}
        )

    async def update(request: web.Request) -> web.Response:
        info = request.match_info
        store.update(info["listid"], info["rid"], await _body(request))
        return web.json_response({"status": "success", "message": "Record updated"})

    async def get(request: web.Request) -> web.Response:
        with store.lock:
            found, contact = store.get(request.match_info["listid"], request.match_info["rid"])
            row = found.row(contact, found.headings)
        return web.json_response(row)

    async def delete(request: web.Request) -> web.Response:
        store.delete(request.match_info["listid"], request.match_info["rid"])
        return web.json_response({"status": "success", "message": "Record deleted"})

    async def delete_many(request: web.Request) -> web.Response:
        ids = [i for i in request.query.get("contactids", "").split(",") if i]
        if not ids or len(ids) > MAX_DELETE:
            raise acton_errors.bad_request(f"contactids must list 1 to {MAX_DELETE} ids")
        deleted, failed = store.delete_many(request.match_info["listid"], ids)
        return web.json_response(
            {
                "success_count": deleted,
                "fail_count": len(failed),
                "failedList": [{"id": i, "reason": "Invalid contact id"} for i in failed],
            }
        )

    record = "/api/1/list/{listid}/record"
    return [
        web.get("/api/1/list", list_lists),
        web.get("/api/1/list/", list_lists),
        web.get("/api/1/list/{listid}", download),
        web.post(record, insert),
        web.put(record, upsert),
        web.delete(record, delete_many),
        web.get(record + "/{rid}", get),
        web.put(record + "/{rid}", update),
        web.delete(record + "/{rid}", delete),
    ]

"""Act-On's marketing hub: lists and contacts, normalized, callable in-process or over HTTP.

Lists read ``{"id", "name", "folderName", "size", "tsLastModified"}``. Contacts are JSON objects
keyed by column heading, with ``_contact_id_`` (``"l-0001:7"``) and ``__created_date`` and
``__modified_date`` as epoch-millisecond integers.

A contact listing takes a CEQL ``where`` subset: ``modafter``, ``modbefore``, ``createdafter``
and ``createdbefore`` compared with ``=`` to a quoted epoch-milliseconds value (Act-On applies
them), ``=`` on a column (applied here, after download) and ``and``; and ``fields`` (comma or
semicolon separated column headings): only those columns, so ``fields=_contact_id_`` is an
ids-only listing.

One contact (read, created or changed) comes from Act-On's record endpoint, a bare array aligned
with the list's columns: it carries ``__created_date`` and ``__modified_date`` only when Act-On
includes them there (listings always do).

Paging tokens are opaque to callers (see :mod:`headwater.elements.hub_tokens`). A contact page
may hold fewer than ``page_size`` records when a column filter applies; follow the token until
there is none.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping

from headwater import errors
from headwater.elements import base, hub_tokens
from headwater.elements.acton import client as acton
from headwater.elements.acton import query as hub_query
from headwater.elements.acton import results as acton_results

DEFAULT_PAGE_SIZE = base.DEFAULT_PAGE_SIZE
MAX_PAGE_SIZE = 1000
_MAX_SCANS = 10  # Act-On pages read for one hub page when a column filter drops rows
_BASE = ("elements", "api-v2")


def list_record(raw: Mapping[str, object]) -> dict[str, object]:
    """An Act-On list as a hub list."""
    size, modified = raw.get("sourceSize"), raw.get("tsLastModified")
    return {
        "id": raw.get("id"),
        "name": raw.get("name"),
        "folderName": raw.get("folderName"),
        "size": _integer(size),
        "tsLastModified": _integer(modified),
    }


def _integer(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


# -- dispatch --------------------------------------------------------------------------------


async def fetch(
    client: acton.ActonClient,
    url: str,
    *,
    page_size: int,
    page_token: str | None,
    read_past_shift: bool = False,
) -> base.HubPage:
    """One page of the hub resource at ``url`` (path and query, e.g. what a poller holds).

    ``/hubs/marketing/lists``, ``/hubs/marketing/lists/{listId}/contacts`` (with ``where`` and
    ``fields`` in the query) and ``/hubs/marketing/lists/{listId}/contacts/{contactId}``; an
    ``/elements/api-v2`` prefix is accepted. ``read_past_shift``: see :func:`list_contacts`.
    """
    split = urllib.parse.urlsplit(url)
    parts = [urllib.parse.unquote(p) for p in split.path.split("/") if p]
    if tuple(parts[:2]) == _BASE:
        parts = parts[2:]
    query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
    if parts[:2] == ["hubs", "marketing"]:
        rest = parts[2:]
        if rest == ["lists"]:
            return await list_lists(client, page_size=page_size, page_token=page_token)
        if len(rest) == 3 and rest[0] == "lists" and rest[2] == "contacts":
            return await list_contacts(
                client,
                rest[1],
                where=_last(query, "where"),
                fields=_last(query, "fields"),
                page_size=page_size,
                page_token=page_token,
                read_past_shift=read_past_shift,
            )
        if len(rest) == 4 and rest[0] == "lists" and rest[2] == "contacts":
            return base.HubPage([await get_contact(client, rest[1], rest[3])], None)
    raise errors.NotFoundError(f"The marketing hub has no resource at {split.path}")


def _last(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _page_size(page_size: int) -> int:
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise errors.InputError(problems=[("pageSize", f"must be between 1 and {MAX_PAGE_SIZE}")])
    return page_size


# -- lists -----------------------------------------------------------------------------------


async def list_lists(
    client: acton.ActonClient, *, page_size: int = DEFAULT_PAGE_SIZE, page_token: str | None = None
) -> base.HubPage:
    """A page of the account's contact lists."""
    size = _page_size(page_size)
    position = hub_tokens.decode(page_token, "lists")
    page = await client.get_lists(count=size, offset=position.offset)
    end = position.offset + len(page.lists)
    more = bool(page.lists) and (page.total_count < 0 or end < page.total_count)
    last = str(page.lists[-1].get("id", "")) if page.lists else None
    token = hub_tokens.encode("lists", end, last) if more else None
    return base.HubPage([list_record(raw) for raw in page.lists], token)


# -- contacts --------------------------------------------------------------------------------


async def list_contacts(
    client: acton.ActonClient,
    list_id: str,
    *,
    where: str | None = None,
    fields: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    page_token: str | None = None,
    read_past_shift: bool = False,
) -> base.HubPage:
    """A page of a list's contacts matching ``where``, with the ``fields`` asked for.

    An unknown list raises ``ProviderNotFound``. A token whose last row has moved (rows before it
    were deleted since) raises ``base.PagesShifted`` (a ``ConflictError``): start again from the
    first page. The error carries the page as read from where the previous one ended; with
    ``read_past_shift`` (for a caller that will not start again), from further back, so that rows
    that deletes moved up are not skipped (one more Act-On call, on a shift only).
    """
    size = _page_size(page_size)
    query = hub_query.ContactQuery.parse(where, fields)
    query_key = query.fingerprint(list_id)
    position = hub_tokens.decode(page_token, "contacts", query_key)
    act_on_fields, datequalifiers = query.download_options()
    # re-read the last row of the previous page, to check that the rows have not shifted
    offset = position.offset - 1 if position.last_id else position.offset
    count = size if not query.equals else acton.MAX_COUNT
    records: list[dict[str, object]] = []
    verify = position.last_id
    shifted: str | None = None

    async def download(at: int, rows: int) -> acton_results.ListPage:
        return await client.get_list_page(
            list_id,
            offset=at,
            count=rows,
            fields=act_on_fields,
            datequalifiers=datequalifiers,
            modafter=query.dates.get("modafter"),
            modbefore=query.dates.get("modbefore"),
            createdafter=query.dates.get("createdafter"),
            createdbefore=query.dates.get("createdbefore"),
        )

    for scan in range(_MAX_SCANS):
        try:
            page = await download(offset, count + (1 if verify else 0))
        except errors.ProviderRefusal:
            if scan == 0 and act_on_fields:
                # Act-On refuses an unknown column without naming it; name it for the caller
                query.check_columns(list_id, await _headers(client, list_id))
            raise
        if scan == 0:
            query.check_columns(list_id, page.headers)
        rows = page.rows
        start = offset
        if verify:
            if not rows or rows[0][:1] != [verify]:
                shifted = (
                    f"List {list_id} changed while it was being paged (contact {verify} is no "
                    "longer where the previous page ended); start again from the first page"
                )
                # rows deleted before it moved unread rows up: read from as far back as one
                # Act-On call allows, on from the previous page's last row if it is still there
                back = min(offset, max(size, acton.MAX_COUNT - count - 1)) if read_past_shift else 0
                if back:
                    page = await download(offset - back, count + 1 + back)
                    rows, start = page.rows, offset - back
                ids = [row[:1] for row in rows[: back + 1]]
                if [verify] in ids:
                    cut = ids.index([verify]) + 1
                    rows, start = rows[cut:], start + cut
            else:
                rows, start = rows[1:], start + 1
            verify = None
        for index, row in enumerate(rows):
            selected = query.select(hub_query.contact_record(page.headers, row))
            if selected is not None:
                records.append(selected)
            if len(records) == size:
                end = start + index + 1
                more = page.total_count < 0 or end < page.total_count
                token = hub_tokens.encode("contacts", end, row[0], query_key) if more else None
                return _answer(base.HubPage(records, token), shifted)
        end = start + len(rows)
        if not rows or (page.total_count >= 0 and end >= page.total_count):
            return _answer(base.HubPage(records, None), shifted)
        offset = end
    last_id = rows[-1][0] if rows else None
    return _answer(
        base.HubPage(records, hub_tokens.encode("contacts", offset, last_id, query_key)), shifted
    )


def _answer(page: base.HubPage, shifted: str | None) -> base.HubPage:
    if shifted is not None:
        raise base.PagesShifted(shifted, page=page)
    return page


def contact_id(list_id: str, contact: str) -> str:
    """The full contact id: ``7`` in list ``l-0001`` is ``l-0001:7``."""
    return contact if ":" in contact else f"{list_id}:{contact}"


async def get_contact(client: acton.ActonClient, list_id: str, contact: str) -> dict[str, object]:
    """One contact of a list; an unknown list or contact raises ``ProviderNotFound``."""
    headers = await _headers(client, list_id)
    row = await client.get_record(list_id, contact_id(list_id, contact))
    return hub_query.contact_record(headers, row)


async def create_contact(
    client: acton.ActonClient, list_id: str, body: object
) -> dict[str, object]:
    """Add a contact to a list; returns it as the hub reads it."""
    written = await client.insert(list_id, _values(body))
    if written.id is None:
        raise errors.ProviderUnavailable(
            f"Act-On answered POST /api/1/list/{list_id}/record without the new record's id"
        )
    return await get_contact(client, list_id, written.id)


async def update_contact(
    client: acton.ActonClient, list_id: str, contact: str, body: object, *, replace: bool = False
) -> dict[str, object]:
    """Change a contact: the given columns (``replace``: and every other column emptied)."""
    values = _values(body)
    full_id = contact_id(list_id, contact)
    if replace:
        headers = await _headers(client, list_id)
        columns = [
            h for h in headers if h != hub_query.CONTACT_ID and h not in hub_query.DATE_COLUMNS
        ]
        values = {column: values.get(column, "") for column in columns} | values
    await client.update(list_id, full_id, values)
    return await get_contact(client, list_id, full_id)


async def delete_contact(client: acton.ActonClient, list_id: str, contact: str) -> None:
    """Delete a contact; an unknown one raises ``ProviderNotFound``."""
    await client.delete(list_id, contact_id(list_id, contact))


async def _headers(client: acton.ActonClient, list_id: str) -> list[str]:
    page = await client.get_list_page(list_id, count=1, datequalifiers=True)
    return page.headers


def _values(body: object) -> dict[str, str]:
    """A contact body as Act-On takes it: headings to strings; read-only columns dropped."""
    if not isinstance(body, dict):
        raise errors.InputError(
            problems=[("body", "must be a JSON object keyed by column heading")]
        )
    values: dict[str, str] = {}
    for key, value in body.items():
        if key in hub_query.READ_ONLY:
            continue
        if value is None:
            values[key] = ""
        elif isinstance(value, bool):
            values[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            values[key] = str(value)
        else:
            raise errors.InputError(problems=[(key, "must be a string, a number or a boolean")])
    return values

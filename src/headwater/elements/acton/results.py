"""What :class:`~headwater.elements.acton.client.ActonClient` returns, read from Act-On's
decoded JSON.

Each reader checks the shape Act-On documents and raises ``errors.ProviderUnavailable`` (see
:func:`headwater.elements.acton.answers.malformed`) when the body is JSON of another shape.
"""

from __future__ import annotations

import dataclasses

from headwater.elements.acton import answers


@dataclasses.dataclass(frozen=True)
class ListsPage:
    """One page of ``GET /api/1/list``: list metadata objects as Act-On returns them."""

    offset: int
    total_count: int
    lists: list[dict[str, object]]


@dataclasses.dataclass(frozen=True)
class ListPage:
    """One page of a list download: rows of strings aligned with ``headers``."""

    list_id: str
    offset: int
    total_count: int
    headers: list[str]
    rows: list[list[str]]
    email_column: int | None

    def records(self) -> list[dict[str, str]]:
        """The rows as objects keyed by column heading."""
        return [dict(zip(self.headers, row, strict=False)) for row in self.rows]


@dataclasses.dataclass(frozen=True)
class Written:
    """The answer to an insert, upsert or update: the record id (when given) and the message."""

    id: str | None
    message: str


@dataclasses.dataclass(frozen=True)
class Deleted:
    """The answer to a bulk delete."""

    success_count: int
    failed: list[tuple[str, str]]  # (contact id, Act-On's reason)


def lists_page(data: object, path: str, *, offset: int) -> ListsPage:
    """A page of ``GET /api/1/list``; ``offset`` is the one asked for."""
    found = _mapping(data, "GET", path)
    result = found.get("result")
    if not isinstance(result, list) or not all(isinstance(item, dict) for item in result):
        raise answers.malformed("GET", path, "its 'result' is not an array of objects")
    return ListsPage(
        offset=_int(found.get("offset", offset), "GET", path, "offset"),
        total_count=_int(found.get("totalCount", -1), "GET", path, "totalCount"),
        lists=result,
    )


def list_page(data: object, path: str, *, list_id: str, offset: int) -> ListPage:
    """A page of a list download; ``list_id`` and ``offset`` are the ones asked for."""
    found = _mapping(data, "GET", path)
    headers = found.get("headers")
    rows = found.get("data")
    if not isinstance(headers, list) or not all(isinstance(h, str) for h in headers):
        raise answers.malformed("GET", path, "its 'headers' is not an array of strings")
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise answers.malformed("GET", path, "its 'data' is not an array of rows")
    email_column = found.get("emailColumn")
    return ListPage(
        list_id=str(found.get("listId", list_id)),
        offset=_int(found.get("offset", offset), "GET", path, "offset"),
        total_count=_int(found.get("totalCount", -1), "GET", path, "totalCount"),
        headers=headers,
        rows=[[_cell(cell) for cell in row] for row in rows],
        email_column=email_column if isinstance(email_column, int) else None,
    )


def record(data: object, path: str) -> list[str]:
    """One record: a bare array of cells aligned with the list's headers."""
    if not isinstance(data, list):
        raise answers.malformed("GET", path, "it is not an array")
    return [_cell(cell) for cell in data]


def written(data: object, method: str, path: str) -> Written:
    """The answer to an insert, upsert or update."""
    found = _mapping(data, method, path)
    record_id = found.get("id", found.get("contact_id"))
    return Written(
        id=record_id if isinstance(record_id, str) else None,
        message=str(found.get("message", "")),
    )


def deleted(data: object, path: str) -> Deleted:
    """The answer to one bulk delete call."""
    found = _mapping(data, "DELETE", path)
    success_count = _int(found.get("success_count", 0), "DELETE", path, "success_count")
    failed_list = found.get("failedList")
    failed = [
        (str(item.get("id", "")), str(item.get("reason", "")))
        for item in (failed_list if isinstance(failed_list, list) else [])
        if isinstance(item, dict)
    ]
    return Deleted(success_count=success_count, failed=failed)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _int(value: object, method: str, path: str, name: str) -> int:
    if isinstance(value, bool):
        raise answers.malformed(method, path, f"its '{name}' is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    raise answers.malformed(method, path, f"its '{name}' is not a number")


def _mapping(data: object, method: str, path: str) -> dict[str, object]:
    if not isinstance(data, dict):
        raise answers.malformed(method, path, "it is not a JSON object")
    return data

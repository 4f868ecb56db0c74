"""Paging conventions: ``pageSize`` (default 200, max 1000), ``nextPage`` tokens, and the
``Elements-Next-Page-Token`` response header. List endpoints answer a JSON array."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import Depends, Query
from fastapi.responses import JSONResponse

from headwater.api import ids
from headwater.errors import InputError

DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = 1000
NEXT_PAGE_HEADER = "Elements-Next-Page-Token"


@dataclasses.dataclass(frozen=True)
class PageRequest:
    """What page the caller asked for: ``size`` items after the opaque ``token``."""

    size: int
    token: str | None

    def after_id(self) -> int | None:
        """The id a keyset page starts after (tokens made by :func:`id_token`)."""
        if self.token is None:
            return None
        state = decode(self.token)
        after = state.get("after")
        if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= ids.MAX_ID:
            raise InputError(problems=[("nextPage", "not a page token of this list")])
        return after


def page_request(
    page_size: Annotated[
        int,
        Query(
            alias="pageSize",
            ge=1,
            le=MAX_PAGE_SIZE,
            description=f"Items per page (default {DEFAULT_PAGE_SIZE}, at most {MAX_PAGE_SIZE}).",
        ),
    ] = DEFAULT_PAGE_SIZE,
    next_page: Annotated[
        str | None,
        Query(
            alias="nextPage",
            max_length=2000,
            description=f"The `{NEXT_PAGE_HEADER}` header of the previous page.",
        ),
    ] = None,
) -> PageRequest:
    return PageRequest(size=page_size, token=next_page or None)


Page = Annotated[PageRequest, Depends(page_request)]


def encode(state: Mapping[str, Any]) -> str:
    """An opaque, URL-safe token holding ``state``."""
    raw = json.dumps(dict(state), separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str) -> dict[str, Any]:
    """The state of a token made by :func:`encode`; InputError naming ``nextPage`` otherwise."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        state = json.loads(raw)
    except (binascii.Error, ValueError):
        raise InputError(problems=[("nextPage", "not a valid page token")]) from None
    if not isinstance(state, dict):
        raise InputError(problems=[("nextPage", "not a valid page token")])
    return state


def id_token(last_id: int) -> str:
    return encode({"after": last_id})


def split(rows: Sequence[Any], request: PageRequest) -> tuple[list[Any], bool]:
    """Rows fetched with ``limit=request.size + 1`` → (this page, whether more remain)."""
    return list(rows[: request.size]), len(rows) > request.size


def respond(items: Sequence[Any], next_token: str | None) -> JSONResponse:
    """A JSON array, with the next page's token in a header when more remain."""
    headers = {NEXT_PAGE_HEADER: next_token} if next_token else None
    return JSONResponse(content=list(items), headers=headers)

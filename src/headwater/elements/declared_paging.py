"""Paging styles of declared hubs: what a page's request adds, and where the next page starts.

- ``offset``: ``offsetParam`` and ``sizeParam``; the listing ends on a short or empty page, or
  when ``totalField`` says no more records match.
- ``pageNumber``: ``pageParam`` (from ``firstPage``) and ``sizeParam``; ends on a short page.
- ``pageToken``: ``tokenParam`` carries the answer's ``nextTokenField``; ends when it is empty
  (and, as a guard against a provider that loops, when it repeats the token just sent).
- ``link``: the answer's ``Link: <…>; rel="next"`` header (RFC 8288) is the next page's URL; it
  must stay on the provider's host, since the hub's page token carries it.

The position travels in the hub's opaque page token (:mod:`headwater.elements.hub_tokens`).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping, Sequence

from headwater import errors
from headwater.domain import paths
from headwater.elements import declaration, hub_tokens

_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")
_REL = re.compile(r"""rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", re.IGNORECASE)


def page_size(paging: declaration.Paging | None, asked: int) -> int:
    """``asked`` within 1 and the declared maximum."""
    size = max(1, int(asked))
    if paging is not None and paging.max_page_size is not None:
        size = min(size, paging.max_page_size)
    return size


def start(paging: declaration.Paging | None) -> hub_tokens.Position:
    """The position of a listing's first page."""
    if paging is not None and paging.style == "pageNumber":
        return hub_tokens.Position(offset=paging.first_page)
    return hub_tokens.Position()


def params(
    paging: declaration.Paging | None, position: hub_tokens.Position, size: int
) -> list[tuple[str, str]]:
    """The query parameters that ask for the page at ``position`` (none for a next link, which
    carries its own)."""
    if paging is None:
        return []
    sized = [(paging.size_param, str(size))] if paging.size_param else []
    if paging.style == "offset" and paging.offset_param:
        return [(paging.offset_param, str(position.offset)), *sized]
    if paging.style == "pageNumber" and paging.page_param:
        return [(paging.page_param, str(position.offset)), *sized]
    if paging.style == "pageToken" and paging.token_param and position.cursor is not None:
        return [(paging.token_param, position.cursor), *sized]
    if paging.style == "link" and position.cursor is not None:
        return []
    return sized


def following(
    paging: declaration.Paging | None,
    position: hub_tokens.Position,
    size: int,
    *,
    body: object,
    headers: Mapping[str, str],
    records: Sequence[object],
    request_url: str,
) -> hub_tokens.Position | None:
    """Where the next page starts, or None when this page was the last."""
    if paging is None:
        return None
    if paging.style == "offset":
        offset = position.offset + len(records)
        total = _total(body, paging.total_field)
        if not records or (total is not None and offset >= total):
            return None
        if total is None and len(records) < size:
            return None
        return hub_tokens.Position(offset=offset)
    if paging.style == "pageNumber":
        if len(records) < size:
            return None
        return hub_tokens.Position(offset=position.offset + 1)
    if paging.style == "pageToken":
        token = _token(body, paging.next_token_field)
        if token is None or token == position.cursor:
            return None
        return hub_tokens.Position(cursor=token)
    found = next_link(headers, request_url)
    return None if found is None else hub_tokens.Position(cursor=found)


def next_link(headers: Mapping[str, str], request_url: str) -> str | None:
    """The ``rel="next"`` target of the ``Link`` headers, resolved against ``request_url``."""
    values = [v for k, v in headers.items() if k.lower() == "link"]
    for match in _LINK.finditer(", ".join(values)):
        for rel in _REL.finditer(match.group(2)):
            words = (rel.group(1) or rel.group(2) or "").lower().split()
            if "next" in words:
                return str(urllib.parse.urljoin(request_url, match.group(1).strip()))
    return None


def same_origin(url: str, base_url: str) -> bool:
    """Whether ``url`` is on the scheme, host and port of ``base_url``."""
    one, other = urllib.parse.urlsplit(url), urllib.parse.urlsplit(base_url)
    return (one.scheme, one.netloc.lower()) == (other.scheme, other.netloc.lower())


def _total(body: object, field: str | None) -> int | None:
    if field is None or not isinstance(body, Mapping):
        return None
    try:
        value = paths.get(body, field)
    except KeyError:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _token(body: object, field: str | None) -> str | None:
    if field is None or not isinstance(body, Mapping):
        return None
    try:
        value = paths.get(body, field)
    except KeyError:
        return None
    if value is None or value == "":
        return None
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)
    raise errors.ProviderUnavailable(
        f"the provider's next page token at {field!r} is neither text nor a number: {value!r}"
    )

"""Hub paging tokens: opaque to callers, URL-safe base64 of a small JSON object.

A token carries what is needed to continue: the offset (or page number) of the next page, the id
of the last row already returned (so the next page can check that the rows have not shifted
under it), a provider's own cursor (a page token or a next link) where it pages that way, and a
fingerprint of the query, so that a token is not replayed against another listing.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json

from headwater import errors

_FIELD = "nextPage"


@dataclasses.dataclass(frozen=True)
class Position:
    """Where a listing continues: the offset of its next row and the id of the row before it."""

    offset: int = 0
    last_id: str | None = None
    cursor: str | None = None  # the provider's page token or next link


def fingerprint(*parts: object) -> str:
    """A short, stable digest of what defines a query."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode(
    kind: str,
    offset: int,
    last_id: str | None,
    query: str | None = None,
    *,
    cursor: str | None = None,
) -> str:
    """The token of the page that starts at ``offset`` (or at the provider's ``cursor``)."""
    data: dict[str, object] = {"k": kind, "o": offset}
    if last_id is not None:
        data["l"] = last_id
    if cursor is not None:
        data["c"] = cursor
    if query is not None:
        data["q"] = query
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str | None, kind: str, query: str | None = None) -> Position:
    """The position a token stands for (the start when None); raises ``InputError`` otherwise."""
    if token is None or token == "":
        return Position()
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise _invalid("is not a page token of this API") from exc
    if not isinstance(data, dict) or data.get("k") != kind:
        raise _invalid("is not a page token of this listing")
    offset, last_id, cursor = data.get("o"), data.get("l"), data.get("c")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise _invalid("is not a page token of this API")
    if any(v is not None and not isinstance(v, str) for v in (last_id, cursor)):
        raise _invalid("is not a page token of this API")
    if data.get("q") != query:
        raise _invalid("belongs to a listing with another where or fields")
    return Position(offset=offset, last_id=last_id, cursor=cursor)


def _invalid(problem: str) -> errors.InputError:
    return errors.InputError(problems=[(_FIELD, problem)])

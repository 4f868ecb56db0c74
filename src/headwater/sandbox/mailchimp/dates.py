"""Mailchimp's dates: ISO 8601 with an offset, one-second precision (``2015-10-21T15:41:36+00:00``).

The sandbox keeps every time as whole epoch seconds. Parsing a filter accepts what Mailchimp's
documentation shows (``…+00:00``), ``Z``, any other offset, no offset (UTC), a space for the ``T``,
and fractional seconds (dropped: one-second precision). A ``+`` sent unencoded in a query string
arrives as a space (``…T10:00:00 00:00``); that, like any other unparsable value, is malformed.
"""

from __future__ import annotations

import datetime as dt
import re

_UTC = dt.UTC
_OFFSET_AS_SPACE = re.compile(r"\s\d{2}:?\d{2}$")


class MalformedDate(ValueError):
    """The value is not an ISO 8601 date-time."""


def iso(seconds: int | None) -> str:
    """``2015-10-21T15:41:36+00:00``, or ``""`` for no time (as Mailchimp shows unset dates)."""
    if seconds is None:
        return ""
    return dt.datetime.fromtimestamp(seconds, _UTC).isoformat()


def parse(raw: str, *, ignore_offset: bool = False) -> int:
    """Epoch seconds of ``raw`` (fractions dropped); raises MalformedDate.

    With ``ignore_offset`` the wall time is read as UTC whatever offset it carries, as users report
    real Mailchimp doing for ``since_last_changed``.
    """
    text = raw.strip()
    if not text or _OFFSET_AS_SPACE.search(text):
        raise MalformedDate(raw)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise MalformedDate(raw) from None
    if parsed.tzinfo is None or ignore_offset:
        parsed = parsed.replace(tzinfo=_UTC)
    return int(parsed.timestamp() // 1)

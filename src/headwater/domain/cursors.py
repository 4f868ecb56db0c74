"""The poller's cursor: where a poll's query window starts, and how far a poll may move it.

The cursor is a provider time (epoch milliseconds). A poll asks for records changed since
``cursor - pollDelay - overlap``: ``pollDelay`` covers records the provider makes searchable late,
the overlap re-reads the end of the previous window (remembered versions make re-reading free of
duplicates). After a poll the cursor moves to the newest provider date seen minus the poll's own
duration: a record changed while the poll was paging was stamped after the poll began, and the
provider's clock had not passed ``high water + duration`` by then, so the next window includes it.
A poll whose pages shifted under it (or that saw nothing) leaves the cursor where it was, and the
cursor never moves backward.

A poller has a *start*: ``backfillFrom`` when its resource gives one, else the moment it was
created (or its query changed, or it first became active) minus the overlap. Its cursor begins
there, and no window reaches before it, whatever ``pollDelay`` and the overlap say: changes made
up to one overlap before the poller was created are reported, older ones never are.
"""

from __future__ import annotations

import math


def window_start(
    cursor_ms: int,
    *,
    poll_delay_seconds: float,
    overlap_seconds: float,
    start_ms: int | None = None,
) -> int:
    """The earliest provider date (ms) the next poll asks for; never before the poller's
    ``start_ms`` (None: a poller whose start is not known)."""
    earliest = cursor_ms - math.ceil((poll_delay_seconds + overlap_seconds) * 1000)
    return earliest if start_ms is None else max(earliest, start_ms)


def query_from(window_start_ms: int) -> int:
    """The date (ms) a poll's URL asks for records changed after: one millisecond before its
    window. Providers compare ``modafter``-style filters strictly; asked for the window start
    itself, they leave out a version stamped on that very millisecond (the cursor's, or the
    poller's start), and nothing later reaches back for it. Records dated before the window are
    dropped when read, so the extra millisecond costs nothing."""
    return window_start_ms - 1


def advance(cursor_ms: int, *, high_water_ms: int | None, duration_ms: int, shifted: bool) -> int:
    """The cursor after a committed poll.

    ``high_water_ms`` is the newest provider date the poll saw (None: it saw none) and
    ``duration_ms`` the time from before its first request to after its last answer.
    """
    if shifted or high_water_ms is None:
        return cursor_ms
    return max(cursor_ms, high_water_ms - max(0, duration_ms))

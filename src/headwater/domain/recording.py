"""What a poll or a reconciliation records: the pure decisions, given what the poller knows.

A :class:`Plan` is the events to store and the versions to remember with them. A poll plans from
the records it read (:func:`after_poll`); a reconciliation from an ids-only listing
(:func:`after_listing`), and only when the listing can be trusted (:func:`listing_problem`).
The unit of work that writes a plan is :mod:`headwater.poller.recording`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping

from headwater.domain import changes, detect, records

OK_STATUSES = frozenset({"ok", "shifted"})
"""Poll outcomes after which a due reconciliation runs: it lists what the poll just read."""


@dataclasses.dataclass(frozen=True)
class NewEvent:
    """One event to store; ``date`` None means the time of the poll."""

    object_id: str
    event_type: str
    date: dt.datetime | None
    raw: dict[str, object]


@dataclasses.dataclass(frozen=True)
class Plan:
    """The events one unit of work stores, and the versions it remembers with them."""

    events: tuple[NewEvent, ...] = ()
    remember: Mapping[str, changes.Known] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Listing:
    """The ids an ids-only listing found, or why it cannot be trusted."""

    # with a problem, the ids listed all the same: each was there, but others may be missing
    ids: frozenset[str]
    problem: str | None = None
    confirmed: bool = False  # every target's count matched the size its collection reports


def reconcile_after(status: str, *, due: bool) -> bool:
    """Whether a reconciliation follows a poll that ended with ``status``."""
    return due and status in OK_STATUSES


def after_poll(
    seen: Iterable[records.Seen],
    known: Mapping[str, changes.Known],
    *,
    cursor: dt.datetime,
    tolerance_seconds: float,
    start: dt.datetime | None,
) -> Plan:
    """The changes among ``seen`` (stale reads skipped, see :mod:`headwater.domain.detect`),
    oldest first, and the versions they carry."""
    found = detect.detect(
        seen, known, cursor=cursor, tolerance_seconds=tolerance_seconds, start=start
    )
    return Plan(
        events=tuple(
            NewEvent(c.seen.object_id, c.event_type, c.seen.date, c.seen.record) for c in found
        ),
        remember={
            c.seen.object_id: changes.Known(c.seen.date_ms, c.seen.content_hash) for c in found
        },
    )


def listing_problem(listing: Listing, known: Mapping[str, changes.Known]) -> str | None:
    """Why ``listing`` must not be used to find deletes, or None: it failed, or it is empty while
    records are known and no collection size confirms that it is."""
    if listing.problem is not None:
        return listing.problem
    live = _live(known)
    if not listing.ids and live and not listing.confirmed:
        return f"the listing is empty while {len(live)} record(s) are known"
    return None


def after_listing(
    listing: Listing,
    known: Mapping[str, changes.Known],
    *,
    first: bool,
    id_field: str,
) -> Plan:
    """DELETED for each live record the trusted ``listing`` misses; the first reconciliation also
    remembers the ids it listed (the baseline), so records older than the poller are reported
    when they are deleted."""
    vanished = sorted(_live(known) - listing.ids)
    remember = {
        object_id: dataclasses.replace(known[object_id], deleted=True) for object_id in vanished
    }
    if first:
        remember.update(baseline(listing.ids, known))
    events = tuple(
        NewEvent(object_id, "DELETED", None, raw_of(id_field, object_id)) for object_id in vanished
    )
    return Plan(events=events, remember=remember)


def after_refused_listing(
    listing: Listing, known: Mapping[str, changes.Known], *, first: bool
) -> Plan:
    """A refused first reconciliation still remembers every id it listed (each was there)."""
    return Plan(remember=baseline(listing.ids, known) if first else {})


def baseline(listed: Iterable[str], known: Mapping[str, changes.Known]) -> dict[str, changes.Known]:
    """The ids listed that the poller does not know yet, remembered as listed only."""
    return {
        object_id: changes.Known(None, detect.LISTED_ONLY)
        for object_id in listed
        if object_id not in known
    }


def raw_of(id_field: str, object_id: str) -> dict[str, object]:
    """The raw record of a DELETED event: the id at its path."""
    raw: dict[str, object] = {}
    current = raw
    *parents, leaf = id_field.split(".")
    for name in parents:
        child: dict[str, object] = {}
        current[name] = child
        current = child
    current[leaf] = object_id
    return raw


def _live(known: Mapping[str, changes.Known]) -> set[str]:
    return {object_id for object_id, version in known.items() if not version.deleted}


@dataclasses.dataclass(frozen=True)
class Heard:
    """A change a webhook reported, with the version it carries (None: none can be told)."""

    object_type: str
    object_id: str
    event_type: str
    date: dt.datetime | None
    raw: dict[str, object]
    version: changes.Known | None


@dataclasses.dataclass(frozen=True)
class HeardEvent:
    """One event a webhook's unit of work stores."""

    object_type: str
    object_id: str
    event_type: str
    date: dt.datetime | None
    raw: dict[str, object]


@dataclasses.dataclass(frozen=True)
class WebhookPlan:
    """The events a webhook stores, and per object type the versions to remember."""

    events: tuple[HeardEvent, ...] = ()
    remember: Mapping[str, Mapping[str, changes.Known]] = dataclasses.field(default_factory=dict)


def after_webhook(
    heard: Iterable[Heard], known: Mapping[str, Mapping[str, changes.Known]]
) -> WebhookPlan:
    """The events among ``heard``, given what the pollers of each object type know.

    A change whose version a poll (or an earlier webhook) already announced, or an older one, is
    not announced again; the versions announced are remembered, so that the safety-net poll
    does not announce them a second time either (:func:`headwater.domain.detect.detect`)."""
    found: list[HeardEvent] = []
    remember: dict[str, dict[str, changes.Known]] = {}
    for change in heard:
        version = change.version
        if version is not None:
            last = detect.emitted(known.get(change.object_type, {}).get(change.object_id))
            current = changes.Version(version.updated_ms, version.content_hash)
            if last is not None and detect.covers(last, current):
                continue
            remember.setdefault(change.object_type, {})[change.object_id] = dataclasses.replace(
                version, deleted=change.event_type == "DELETED"
            )
        found.append(
            HeardEvent(
                change.object_type, change.object_id, change.event_type, change.date, change.raw
            )
        )
    return WebhookPlan(events=tuple(found), remember=remember)

"""The pure rules of recording changes: when to reconcile, which listings to trust, what a
trusted or refused listing records."""

from __future__ import annotations

import datetime as dt

from headwater.domain import changes, detect, recording, records

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def _seen(object_id: str, ms: int) -> records.Seen:
    when = NOW + dt.timedelta(milliseconds=ms)
    return records.Seen(object_id, when, when, when, f"h{ms}", {"id": object_id})


def test_a_reconciliation_follows_only_an_ok_or_shifted_poll_that_is_due() -> None:
    assert recording.reconcile_after("ok", due=True)
    assert recording.reconcile_after("shifted", due=True)
    assert not recording.reconcile_after("ok", due=False)
    for failed in ("skipped", "lease_lost", "unavailable", "refused", "rate_limited"):
        assert not recording.reconcile_after(failed, due=True)


def test_a_poll_plans_its_changes_and_remembers_their_versions_skipping_stale_reads() -> None:
    a, b, c = _seen("a", 2), _seen("b", 3), _seen("c", 1)
    assert b.date_ms is not None
    # b: a newer version was reported already (this read is stale); c: this very version was
    known = {"b": changes.Known(b.date_ms + 1, "newer"), "c": changes.Known(c.date_ms, "h1")}
    plan = recording.after_poll(
        [a, b, c],
        known,
        cursor=NOW,
        tolerance_seconds=0,
        start=None,
    )
    assert [(e.object_id, e.event_type) for e in plan.events] == [("a", "CREATED")]
    assert plan.remember == {"a": changes.Known(a.date_ms, "h2")}


def test_an_empty_listing_is_refused_unless_confirmed_or_nothing_is_known() -> None:
    live = {"x": changes.Known(1, "h")}
    empty = recording.Listing(frozenset())
    assert recording.listing_problem(empty, live) == (
        "the listing is empty while 1 record(s) are known"
    )
    assert recording.listing_problem(recording.Listing(frozenset(), confirmed=True), live) is None
    gone = {"x": changes.Known(1, "h", deleted=True)}
    assert recording.listing_problem(empty, gone) is None
    failed = recording.Listing(frozenset({"x"}), problem="the pages shifted")
    assert recording.listing_problem(failed, live) == "the pages shifted"


def test_a_trusted_listing_deletes_the_live_records_it_misses_once() -> None:
    known = {
        "kept": changes.Known(1, "h"),
        "gone": changes.Known(2, "h2"),
        "dead": changes.Known(3, "h3", deleted=True),
    }
    listing = recording.Listing(frozenset({"kept", "new"}))
    plan = recording.after_listing(listing, known, first=False, id_field="user.id")
    assert [(e.object_id, e.event_type, e.raw) for e in plan.events] == [
        ("gone", "DELETED", {"user": {"id": "gone"}})
    ]
    assert plan.remember == {"gone": changes.Known(2, "h2", deleted=True)}
    first = recording.after_listing(listing, known, first=True, id_field="id")
    assert first.remember["new"] == changes.Known(None, detect.LISTED_ONLY)
    assert "kept" not in first.remember


def test_a_refused_first_listing_still_learns_its_ids() -> None:
    listing = recording.Listing(frozenset({"a", "b"}), problem="counts differ")
    known = {"a": changes.Known(1, "h")}
    assert recording.after_refused_listing(listing, known, first=True).remember == {
        "b": changes.Known(None, detect.LISTED_ONLY)
    }
    assert recording.after_refused_listing(listing, known, first=False).remember == {}
    assert recording.after_refused_listing(listing, known, first=True).events == ()


def test_a_webhook_announces_what_no_poll_did_and_the_poll_then_stays_quiet() -> None:
    def heard(object_id: str, version: changes.Known | None) -> recording.Heard:
        return recording.Heard("contacts", object_id, "UPDATED", None, {"id": object_id}, version)

    polled = changes.Known(2_000, "c" * 64)
    known = {"contacts": {"a": polled}}
    plan = recording.after_webhook(
        [
            heard("a", changes.Known(2_000, "c" * 64)),  # the version a poll announced
            heard("a", changes.Known(1_000, "d" * 64)),  # older than it
            heard("b", changes.Known(3_000, detect.HEARD)),  # new, by its date only
            heard("c", None),  # nothing to compare: announced, not remembered
        ],
        known,
    )
    assert [e.object_id for e in plan.events] == ["b", "c"]
    assert plan.remember == {"contacts": {"b": changes.Known(3_000, detect.HEARD)}}
    by_date = changes.Version(3_000, detect.HEARD)
    assert detect.covers(by_date, changes.Version(3_000, "e" * 64))
    assert not detect.covers(by_date, changes.Version(3_001, "e" * 64))

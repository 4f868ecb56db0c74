"""Reading records and deciding which become events (pure)."""

from __future__ import annotations

import datetime as dt

import pytest

from headwater.domain import changes, config, dates, detect, recording, records
from headwater.poller import fanout, reconcile, scheduler
from headwater.storage import pollers

RESOURCE = config.Resource(
    name="contacts",
    url="/hubs/marketing/lists/{listId}/contacts?where=modafter='${epoch}'",
    id_field="_contact_id_",
    updated_field="__modified_date",
    updated_format="milliseconds",
    created_field="__created_date",
    created_format="milliseconds",
)
CURSOR = dates.from_ms(10_000)


def _record(contact: str, created: int, modified: int, **values: str) -> dict[str, object]:
    return {
        "_contact_id_": contact,
        "__created_date": created,
        "__modified_date": modified,
        **values,
    }


def _seen(contact: str, created: int, modified: int, **values: str) -> records.Seen:
    return records.read(_record(contact, created, modified, **values), RESOURCE, where="test")


def test_a_record_is_read_with_its_dates_and_version() -> None:
    seen = _seen("l-1:1", 9_000, 12_000, Name="Ada")
    assert seen.object_id == "l-1:1" and seen.date_ms == 12_000
    assert seen.created == dates.from_ms(9_000)
    assert seen.version().updated_ms == 12_000


def test_dotted_paths_and_the_created_date_as_filter() -> None:
    resource = config.Resource(
        name="users",
        url="/hubs/x/users",
        id_field="user.id",
        created_field="_info.created",
        created_format="yyyy-MM-dd'T'HH:mm:ss'Z'",
        filter_by_updated_date=False,
    )
    seen = records.read(
        {"user": {"id": 7}, "_info": {"created": "2026-11-29T10:15:00Z"}}, resource, where="test"
    )
    assert seen.object_id == "7"
    assert seen.date == dt.datetime(2026, 11, 29, 10, 15, tzinfo=dt.UTC)


def test_a_record_without_a_usable_id_fails_naming_where_it_was() -> None:
    with pytest.raises(records.RecordError, match=r"record 3 of page 2.*'_contact_id_'"):
        records.read({"x": 1}, RESOURCE, where="record 3 of page 2 of /hubs/…")
    with pytest.raises(records.RecordError, match="is None"):
        records.read({"_contact_id_": None}, RESOURCE, where="here")


def test_a_record_whose_date_cannot_be_read_fails_naming_the_record() -> None:
    with pytest.raises(records.RecordError, match="record l-1:4: its __modified_date 'soon'"):
        records.read(_record("l-1:4", 1, 2) | {"__modified_date": "soon"}, RESOURCE, where="x")
    with pytest.raises(records.RecordError, match="record l-1:5: it has no date field"):
        records.read({"_contact_id_": "l-1:5", "__created_date": 1}, RESOURCE, where="x")


def test_an_empty_or_null_date_is_no_date_not_an_error() -> None:
    resource = config.Resource(
        name="contacts",
        url="/hubs/marketing/lists/{listId}/contacts",
        id_field="id",
        updated_field="last_changed",
        updated_format="yyyy-MM-dd'T'HH:mm:ssXXX",
        created_field="timestamp_opt",
        created_format="yyyy-MM-dd'T'HH:mm:ssXXX",
    )
    member = {"id": "m1", "last_changed": "2026-11-29T10:15:00+00:00", "timestamp_opt": ""}
    seen = records.read(member, resource, where="x")
    assert seen.created is None
    assert seen.updated == dt.datetime(2026, 11, 29, 10, 15, tzinfo=dt.UTC)
    assert seen.date == seen.updated
    for empty in (None, "  "):
        assert records.read(member | {"timestamp_opt": empty}, resource, where="x").created is None
    with pytest.raises(records.RecordError, match="record m1: its timestamp_opt 'never'"):
        records.read(member | {"timestamp_opt": "never"}, resource, where="x")
    # a member who never opted in is new to the poller, unless a listing showed it before
    [new] = detect.detect([seen], {}, cursor=CURSOR, tolerance_seconds=0)
    assert new.event_type == "CREATED"
    listed = {"m1": changes.Known(None, detect.LISTED_ONLY)}
    [old] = detect.detect([seen], listed, cursor=CURSOR, tolerance_seconds=0)
    assert old.event_type == "UPDATED"


def test_new_records_are_created_and_known_ones_updated() -> None:
    fresh = _seen("a", 11_000, 11_000)
    edited_new = _seen("b", 10_500, 12_000)
    old = _seen("c", 1_000, 12_000)
    known = _seen("d", 11_000, 13_000)
    remembered = {"d": changes.Known(11_000, "old-hash")}
    found = detect.detect(
        [fresh, edited_new, old, known], remembered, cursor=CURSOR, tolerance_seconds=0
    )
    assert [(c.seen.object_id, c.event_type) for c in found] == [
        ("a", "CREATED"),
        ("b", "CREATED"),
        ("c", "UPDATED"),
        ("d", "UPDATED"),
    ]


def test_created_check_tolerance_widens_created() -> None:
    old = _seen("c", 1_000, 1_500)
    found = detect.detect([old], {}, cursor=CURSOR, tolerance_seconds=1)
    assert found[0].event_type == "CREATED"


def test_the_same_version_is_not_reported_twice_but_any_other_is() -> None:
    seen = _seen("a", 11_000, 12_000, Name="Ada")
    same = {"a": changes.Known(12_000, seen.content_hash)}
    assert detect.detect([seen], same, cursor=CURSOR, tolerance_seconds=0) == []
    same_ms_other_content = {"a": changes.Known(12_000, "another")}
    assert (
        len(detect.detect([seen], same_ms_other_content, cursor=CURSOR, tolerance_seconds=0)) == 1
    )
    stale = {"a": changes.Known(13_000, "newer")}
    assert detect.detect([seen], stale, cursor=CURSOR, tolerance_seconds=0) == []


def test_listed_only_and_deleted_records_count_as_never_reported() -> None:
    seen = _seen("a", 11_000, 12_000)
    for version in (changes.Known(None, detect.LISTED_ONLY), changes.Known(1, "h", True)):
        [change] = detect.detect([seen], {"a": version}, cursor=CURSOR, tolerance_seconds=0)
        assert change.event_type == "CREATED"


def test_the_ids_only_listing_drops_the_where_and_asks_for_the_id() -> None:
    url = "/hubs/marketing/lists/{listId}/contacts?where=modafter='${epoch}'&pageSize=5"
    assert reconcile.ids_url(url, "_contact_id_") == (
        "/hubs/marketing/lists/{listId}/contacts?pageSize=5&fields=_contact_id_"
    )
    assert reconcile.ids_url("/hubs/x/users", "user.id") == "/hubs/x/users?fields=user"
    assert recording.raw_of("user.id", "7") == {"user": {"id": "7"}}


def test_the_parent_of_an_item_url() -> None:
    assert fanout.parent_of("/hubs/marketing/lists/l-0001/contacts?x=1") == (
        "/hubs/marketing/lists",
        "l-0001",
    )
    assert fanout.parent_of("/hubs/marketing/lists") is None


def test_claimed_pollers_are_grouped_by_instance_in_order() -> None:
    def claimed(pid: int, iid: int) -> pollers.Claimed:
        now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        return pollers.Claimed(pid, iid, "r", "f", 0, now, None, None, 0, "w")

    groups = scheduler.by_instance([claimed(1, 5), claimed(2, 6), claimed(3, 5)])
    assert [[c.id for c in g] for g in groups] == [[1, 3], [2]]

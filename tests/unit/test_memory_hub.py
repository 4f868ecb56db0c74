"""The in-memory hub: records, date filters, offset paging that detects shifts, hooks."""

from __future__ import annotations

import pytest

from headwater import errors
from headwater.elements import base, memory

LAYOUT = memory.Layout(
    id_field="_contact_id_", created_field="__created_date", modified_field="__modified_date"
)
LISTS = "/hubs/marketing/lists"


def _hub(**options: object) -> tuple[memory.MemoryHub, memory.Store, str]:
    store = memory.Store(LAYOUT, clock=memory.Clock(1_000_000))
    list_id = store.add_parent("people")
    return memory.MemoryHub(store, **options), store, list_id  # type: ignore[arg-type]


def _contacts(list_id: str, query: str = "") -> str:
    return f"{LISTS}/{list_id}/contacts" + (f"?{query}" if query else "")


def _ids(page: base.HubPage) -> list[object]:
    return [r["_contact_id_"] for r in page.records]


async def _all(hub: memory.MemoryHub, url: str, page_size: int = 2) -> list[object]:
    found: list[object] = []
    token = None
    while True:
        page = await hub.fetch(url, page_size=page_size, page_token=token)
        found += _ids(page)
        token = page.next_token
        if token is None:
            return found


async def test_records_carry_their_id_and_dates_and_lists_their_size() -> None:
    hub, store, list_id = _hub()
    first = store.insert(list_id, {"Job Title": "a", "__modified_date": 5})
    store.clock.advance(10)
    store.update(first, {"Job Title": "b"})
    store.insert(list_id, {})
    assert store.record(first) == {
        "_contact_id_": f"{list_id}:0",
        "Job Title": "b",
        "__created_date": 1_000_000,
        "__modified_date": 1_000_010,
    }
    page = await hub.fetch(LISTS, page_size=10, page_token=None)
    assert page.records == [{"id": list_id, "name": "people", "size": 2}]
    assert hub.child_count(LISTS, page.records[0]) == 2
    assert hub.child_count(_contacts(list_id), page.records[0]) is None


async def test_many_changes_share_one_millisecond_and_the_clock_only_moves_forward() -> None:
    _, store, list_id = _hub()
    made = [store.insert(list_id, {"n": str(i)}) for i in range(3)]
    store.touch(made[0])
    assert {r["__modified_date"] for r in store.records(list_id)} == {1_000_000}
    assert store.clock.advance(5) == 1_000_005
    with pytest.raises(ValueError):
        store.clock.advance(-1)


@pytest.mark.parametrize(("inclusive", "expected"), [(False, [1]), (True, [0, 1, 2])])
async def test_date_filters_are_strict_unless_built_inclusive(
    inclusive: bool, expected: list[int]
) -> None:
    hub, store, list_id = _hub(inclusive_bounds=inclusive)
    store.insert(list_id, {}, at_ms=100)
    store.insert(list_id, {}, at_ms=200)
    store.insert(list_id, {}, at_ms=300)
    where = "where=modafter='100' and modbefore='300'"
    assert await _all(hub, _contacts(list_id, where)) == [f"{list_id}:{n}" for n in expected]
    assert await _all(hub, _contacts(list_id, "where=createdafter='250'")) == [f"{list_id}:2"]


async def test_an_ids_only_listing_has_the_id_field_only() -> None:
    hub, store, list_id = _hub()
    store.insert(list_id, {"Job Title": "a"})
    page = await hub.fetch(_contacts(list_id, "fields=_contact_id_"), page_size=5, page_token=None)
    assert page.records == [{"_contact_id_": f"{list_id}:0"}]


async def test_pages_follow_creation_order_and_tokens_belong_to_their_query() -> None:
    hub, store, list_id = _hub()
    made = [store.insert(list_id, {}) for _ in range(5)]
    store.clock.advance(1)
    store.touch(made[0])  # a later change does not reorder the rows
    assert await _all(hub, _contacts(list_id)) == made
    page = await hub.fetch(_contacts(list_id), page_size=2, page_token=None)
    assert page.next_token is not None
    with pytest.raises(errors.InputError, match="nextPage"):
        await hub.fetch(
            _contacts(list_id, "fields=_contact_id_"), page_size=2, page_token=page.next_token
        )


async def test_a_delete_before_the_offset_shifts_the_next_page() -> None:
    hub, store, list_id = _hub()
    made = [store.insert(list_id, {}) for _ in range(6)]
    page = await hub.fetch(_contacts(list_id), page_size=2, page_token=None)
    store.delete(made[0])
    with pytest.raises(base.PagesShifted) as shifted:
        await hub.fetch(_contacts(list_id), page_size=2, page_token=page.next_token)
    # read from where the previous page ended: the row that moved up into its place comes first
    assert _ids(shifted.value.page) == [made[2], made[3]]
    # reading past the shift: just after the previous page's last row, wherever it went
    with pytest.raises(base.PagesShifted) as past:
        await hub.fetch(
            _contacts(list_id), page_size=2, page_token=page.next_token, read_past_shift=True
        )
    assert _ids(past.value.page) == [made[2], made[3]]
    assert isinstance(past.value, errors.ConflictError)


async def test_reading_past_the_shift_of_a_deleted_last_row_goes_back() -> None:
    hub, store, list_id = _hub(max_back=2)
    made = [store.insert(list_id, {}) for _ in range(8)]
    page = await hub.fetch(_contacts(list_id), page_size=2, page_token=None)
    page = await hub.fetch(_contacts(list_id), page_size=2, page_token=page.next_token)
    store.delete(made[3])  # the last row returned
    store.delete(made[0])
    with pytest.raises(base.PagesShifted) as past:
        await hub.fetch(
            _contacts(list_id), page_size=2, page_token=page.next_token, read_past_shift=True
        )
    # rows 1, 2, 4, 5, …: the page starts max_back rows before where the last one ended
    assert _ids(past.value.page) == [made[2], made[4]]
    token = past.value.page.next_token
    rest = await hub.fetch(_contacts(list_id), page_size=10, page_token=token)
    assert _ids(rest) == made[5:]


async def test_a_change_that_moves_a_row_into_the_filter_shifts_the_pages() -> None:
    hub, store, list_id = _hub()
    made = [store.insert(list_id, {}, at_ms=100 + n) for n in range(5)]
    url = _contacts(list_id, "where=modafter='100'")
    page = await hub.fetch(url, page_size=2, page_token=None)
    assert _ids(page) == made[1:3]
    store.touch(made[0], at_ms=500)
    with pytest.raises(base.PagesShifted) as past:
        await hub.fetch(url, page_size=2, page_token=page.next_token, read_past_shift=True)
    assert _ids(past.value.page) == made[:2]  # read again from the start: nothing skipped


async def test_hooks_run_once_after_the_nth_listing_of_their_list() -> None:
    hub, store, list_id = _hub()
    other = store.add_parent()
    made = [store.insert(list_id, {}) for _ in range(4)]
    runs: list[int] = []
    hook = hub.after_fetches(list_id, 1, lambda: runs.append(len(store.records(list_id))))
    hub.after_fetches(list_id, 1, lambda: store.delete(made[0]))
    await hub.fetch(_contacts(other), page_size=2, page_token=None)
    assert runs == [] and not hook.ran
    page = await hub.fetch(_contacts(list_id), page_size=2, page_token=None)
    assert runs == [4] and hook.ran
    with pytest.raises(base.PagesShifted):
        await hub.fetch(_contacts(list_id), page_size=2, page_token=page.next_token)
    await hub.fetch(_contacts(list_id), page_size=2, page_token=None)
    assert runs == [4] and hub.fetches == 4
    with pytest.raises(ValueError):
        hub.after_fetches(list_id, 0, lambda: None)


async def test_records_are_created_read_changed_and_deleted_by_path() -> None:
    hub, store, list_id = _hub()
    created = await hub.create(_contacts(list_id), {"Job Title": "a", "City": "x"})
    path = f"{_contacts(list_id)}/{created['_contact_id_']}"
    assert await hub.read(path) == created
    assert await hub.read(f"{_contacts(list_id)}/0") == created
    store.clock.advance(3)
    changed = await hub.update(path, {"Job Title": "b"})
    assert changed["Job Title"] == "b" and changed["City"] == "x"
    assert changed["__modified_date"] == 1_000_003
    replaced = await hub.update(path, {"City": "y"}, replace=True)
    assert "Job Title" not in replaced and replaced["City"] == "y"
    page = await hub.fetch(path, page_size=1, page_token=None)
    assert page.records == [replaced] and page.next_token is None
    await hub.delete(path)
    with pytest.raises(errors.ProviderNotFound):
        await hub.read(path)
    with pytest.raises(errors.ProviderNotFound):
        await hub.delete(path)


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("/hubs/marketing/things", errors.NotFoundError),
        ("/hubs/marketing/lists/lists-1/members", errors.NotFoundError),
        ("/hubs/marketing/lists/lists-9/contacts", errors.ProviderNotFound),
        ("/hubs/marketing/lists/lists-1/contacts/lists-2:0", errors.ProviderNotFound),
        ("/hubs/marketing/lists/lists-1/contacts?where=name='x'", errors.InputError),
        ("/hubs/marketing/lists/lists-1/contacts?where=modafter>'5'", errors.InputError),
        ("/hubs/marketing/lists/lists-1/contacts?fields=,", errors.InputError),
    ],
)
async def test_what_the_hub_does_not_serve_is_refused(url: str, error: type[Exception]) -> None:
    hub, _, _ = _hub()
    with pytest.raises(error):
        await hub.fetch(url, page_size=2, page_token=None)


async def test_a_page_size_out_of_bounds_is_refused() -> None:
    hub, _, list_id = _hub()
    with pytest.raises(errors.InputError, match="pageSize"):
        await hub.fetch(_contacts(list_id), page_size=0, page_token=None)


@pytest.mark.parametrize("token", ["garbage", "x.y.z", "-1.lists."])
async def test_a_token_the_hub_did_not_give_is_refused(token: str) -> None:
    hub, _, list_id = _hub()
    for url in (LISTS, _contacts(list_id)):
        with pytest.raises(errors.InputError, match="nextPage"):
            await hub.fetch(url, page_size=2, page_token=token)

"""The marketing hub called in-process (as the poller calls it), against the Act-On sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from headwater import errors
from headwater.elements.acton import client as acton
from headwater.elements.acton import hub
from tests.acton_clients import sandbox_client
from tests.sandbox_fixtures import ActonSandbox

LIST = "l-0001"
CONTACTS = f"/hubs/marketing/lists/{LIST}/contacts"


def _oracle(sandbox: ActonSandbox, list_id: str = LIST) -> list[dict[str, Any]]:
    lists: list[dict[str, Any]] = sandbox.state.store.snapshot()["lists"]  # type: ignore[assignment]
    return next(found["contacts"] for found in lists if found["id"] == list_id)


async def _all(
    client: acton.ActonClient, url: str, page_size: int
) -> tuple[list[dict[str, object]], int]:
    """Every record, following the tokens to the end; and how many pages that took."""
    records: list[dict[str, object]] = []
    token: str | None = None
    pages = 0
    while True:
        page = await hub.fetch(client, url, page_size=page_size, page_token=token)
        records += page.records
        pages += 1
        if page.next_token is None:
            return records, pages
        token = page.next_token


@pytest.mark.acton_sandbox(lists=5, contacts=2)
async def test_lists_are_normalized_and_paged(acton_sandbox: ActonSandbox) -> None:
    async with sandbox_client(acton_sandbox) as (client, _):
        lists, pages = await _all(client, "/hubs/marketing/lists", page_size=2)
    assert pages == 3
    assert [item["id"] for item in lists] == ["l-0001", "l-0002", "l-0003", "l-0004", "l-0005"]
    first = acton_sandbox.state.store.lists()[0]
    assert lists[0] == {
        "id": "l-0001",
        "name": first.name,
        "folderName": "Default Folder",
        "size": 2,
        "tsLastModified": first.ts_last_modified,
    }


@pytest.mark.acton_sandbox(lists=1, contacts=25)
async def test_contacts_are_objects_with_integer_dates_paged_to_the_end(
    acton_sandbox: ActonSandbox,
) -> None:
    async with sandbox_client(acton_sandbox) as (client, _):
        contacts, pages = await _all(client, f"/elements/api-v2{CONTACTS}", page_size=10)
    expected = _oracle(acton_sandbox)
    assert pages == 3
    assert [c["_contact_id_"] for c in contacts] == [c["id"] for c in expected]
    first, truth = contacts[0], expected[0]
    assert first["__created_date"] == truth["createdMs"]
    assert first["__modified_date"] == truth["modifiedMs"]
    assert {k: v for k, v in first.items() if not k.startswith("_")} == truth["values"]


@pytest.mark.acton_sandbox(lists=1, contacts=25)
async def test_a_page_that_ends_the_listing_carries_no_token(acton_sandbox: ActonSandbox) -> None:
    async with sandbox_client(acton_sandbox) as (client, _):
        _, pages = await _all(client, CONTACTS, page_size=5)
    assert pages == 5


@pytest.mark.acton_sandbox(lists=1, contacts=25)
async def test_where_modafter_returns_what_changed_after_it(acton_sandbox: ActonSandbox) -> None:
    expected = _oracle(acton_sandbox)
    bound = sorted(c["modifiedMs"] for c in expected)[15]
    url = f"{CONTACTS}?where=modafter='{bound}'"
    async with sandbox_client(acton_sandbox) as (client, _):
        contacts, _ = await _all(client, url, page_size=4)
    assert sorted(str(c["_contact_id_"]) for c in contacts) == sorted(
        c["id"] for c in expected if c["modifiedMs"] > bound
    )
    assert all(int(str(c["__modified_date"])) > bound for c in contacts)


@pytest.mark.acton_sandbox(lists=1, contacts=25)
async def test_where_combines_dates_and_columns_filtered_across_pages(
    acton_sandbox: ActonSandbox,
) -> None:
    expected = _oracle(acton_sandbox)
    city = expected[0]["values"]["Business City"]
    bound = min(c["createdMs"] for c in expected) - 1
    where = f"createdafter='{bound}' and `Business City`='{city}'"
    async with sandbox_client(acton_sandbox) as (client, _):
        contacts, pages = await hub.list_contacts(client, LIST, where=where, page_size=2), None
        everything: list[dict[str, object]] = []
        token: str | None = None
        while True:
            page = await hub.list_contacts(client, LIST, where=where, page_size=2, page_token=token)
            everything += page.records
            if page.next_token is None:
                break
            token = page.next_token
    wanted = [c["id"] for c in expected if c["values"]["Business City"] == city]
    assert len(wanted) > 2
    assert len(contacts.records) == 2 and pages is None
    assert [c["_contact_id_"] for c in everything] == wanted


@pytest.mark.acton_sandbox(lists=1, contacts=25)
async def test_fields_select_columns_and_an_ids_only_listing(acton_sandbox: ActonSandbox) -> None:
    async with sandbox_client(acton_sandbox) as (client, _):
        ids, _ = await _all(client, f"{CONTACTS}?fields=_contact_id_", page_size=1000)
        some = await hub.fetch(
            client,
            f"{CONTACTS}?fields=First%20Name,__modified_date",
            page_size=3,
            page_token=None,
        )
        named = await hub.list_contacts(client, LIST, fields="E-mail Address", page_size=1)
    expected = _oracle(acton_sandbox)
    assert ids == [{"_contact_id_": c["id"]} for c in expected]
    assert some.records[0] == {
        "First Name": expected[0]["values"]["First Name"],
        "__modified_date": expected[0]["modifiedMs"],
    }
    assert named.records == [{"E-mail Address": expected[0]["values"]["E-mail Address"]}]


@pytest.mark.acton_sandbox(lists=1, contacts=25)
async def test_a_listing_that_shifted_under_its_token_is_a_conflict(
    acton_sandbox: ActonSandbox,
) -> None:
    async with sandbox_client(acton_sandbox) as (client, _):
        first = await hub.list_contacts(client, LIST, page_size=10)
        acton_sandbox.state.store.delete(LIST, f"{LIST}:3")
        with pytest.raises(errors.ConflictError, match="start again from the first page"):
            await hub.list_contacts(client, LIST, page_size=10, page_token=first.next_token)
        # rows added at the end do not disturb a listing in progress
        again = await hub.list_contacts(client, LIST, page_size=10)
        acton_sandbox.state.store.insert(LIST, {"First Name": "Late"})
        second = await hub.list_contacts(client, LIST, page_size=10, page_token=again.next_token)
    assert second.records[0]["_contact_id_"] == f"{LIST}:11"


@pytest.mark.acton_sandbox(lists=1, contacts=5)
async def test_a_token_of_another_query_is_refused(acton_sandbox: ActonSandbox) -> None:
    async with sandbox_client(acton_sandbox) as (client, _):
        first = await hub.list_contacts(client, LIST, page_size=2)
        with pytest.raises(errors.InputError) as caught:
            await hub.list_contacts(
                client, LIST, where="modafter='1'", page_size=2, page_token=first.next_token
            )
    assert caught.value.problems[0][0] == "nextPage"


@pytest.mark.acton_sandbox(lists=1, contacts=5)
@pytest.mark.parametrize(
    ("where", "fields", "field", "problem"),
    [
        ("modafter='1' or modbefore='2'", None, "where", "OR at position 13 is not supported"),
        ("(modafter='1' or x='2')", None, "where", "OR at position 14 is not supported"),
        ("not modafter='1'", None, "where", "NOT at position 0 is not supported on Act-On"),
        ("`First Name` in ('a')", None, "where", "IN at position 0 is not supported"),
        ("modafter='1' and x like 'a%'", None, "where", "LIKE at position 17 is not supported"),
        ("x is null", None, "where", "IS NULL at position 0 is not supported"),
        ("x is not null", None, "where", "IS NOT NULL at position 0 is not supported"),
        ("modafter=", None, "where", "expected a quoted value or a number"),
        ("modafter > '1'", None, "where", "operator '>' is not supported on 'modafter'; use ="),
        ("modafter='yesterday'", None, "where", "modafter takes epoch milliseconds"),
        ("`Shoe Size`='42'", None, "where", "list l-0001 has no column 'Shoe Size'"),
        (None, "Shoe Size", "fields", "list l-0001 has no column 'Shoe Size'"),
    ],
)
async def test_a_bad_where_or_fields_names_what_is_wrong(
    acton_sandbox: ActonSandbox, where: str | None, fields: str | None, field: str, problem: str
) -> None:
    async with sandbox_client(acton_sandbox) as (client, _):
        with pytest.raises(errors.InputError) as caught:
            await hub.list_contacts(client, LIST, where=where, fields=fields)
    assert caught.value.problems[0][0] == field
    assert problem in caught.value.problems[0][1]
    if where and "supported" in problem:
        assert "modafter, modbefore, createdafter or createdbefore" in caught.value.problems[0][1]


@pytest.mark.acton_sandbox(lists=1, contacts=5)
async def test_an_unknown_list_is_not_found_with_act_ons_message(
    acton_sandbox: ActonSandbox,
) -> None:
    async with sandbox_client(acton_sandbox) as (client, _):
        with pytest.raises(errors.ProviderNotFound) as caught:
            await hub.fetch(
                client, "/hubs/marketing/lists/l-9999/contacts", page_size=10, page_token=None
            )
        with pytest.raises(errors.NotFoundError):
            await hub.fetch(client, "/hubs/marketing/campaigns", page_size=10, page_token=None)
    assert caught.value.status == 404
    assert caught.value.provider_message == "Invalid or missing list"


@pytest.mark.acton_sandbox(lists=1, contacts=5)
async def test_contact_crud(acton_sandbox: ActonSandbox) -> None:
    async with sandbox_client(acton_sandbox) as (client, _):
        created = await hub.create_contact(
            client, LIST, {"First Name": "Ada", "E-mail Address": "ada@x.org", "Job Title": 7}
        )
        assert created["_contact_id_"] == f"{LIST}:5"
        assert (created["First Name"], created["Job Title"]) == ("Ada", "7")

        patched = await hub.update_contact(client, LIST, "5", {"Last Name": "Lovelace"})
        assert (patched["First Name"], patched["Last Name"]) == ("Ada", "Lovelace")

        replaced = await hub.update_contact(
            client, LIST, f"{LIST}:5", {"First Name": "Augusta"}, replace=True
        )
        assert replaced["First Name"] == "Augusta"
        assert replaced["Last Name"] == "" and replaced["E-mail Address"] == ""

        one = await hub.fetch(client, f"{CONTACTS}/{LIST}:5", page_size=1, page_token=None)
        assert one.records == [replaced] and one.next_token is None

        await hub.delete_contact(client, LIST, f"{LIST}:5")
        with pytest.raises(errors.ProviderNotFound):
            await hub.get_contact(client, LIST, f"{LIST}:5")
        with pytest.raises(errors.ProviderRefusal, match="Invalid Column Specified"):
            await hub.create_contact(client, LIST, {"Shoe Size": "42"})
        with pytest.raises(errors.InputError) as caught:
            await hub.create_contact(client, LIST, {"First Name": {"nested": True}})
    assert caught.value.problems == [("First Name", "must be a string, a number or a boolean")]
    assert [c["id"] for c in _oracle(acton_sandbox)] == [f"{LIST}:{n}" for n in range(5)]

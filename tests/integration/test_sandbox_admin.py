"""The sandbox admin surface: state oracle, contact changes, batches, hooks, clock, counters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.sandbox_fixtures import ActonSandbox


@pytest.fixture
async def download(acton_sandbox: ActonSandbox) -> AsyncIterator[Any]:
    headers = {"Authorization": f"Bearer {acton_sandbox.token()['access_token']}"}
    async with aiohttp.ClientSession() as http:

        async def get(list_id: str, **params: Any) -> dict[str, Any]:
            url = f"{acton_sandbox.url}/api/1/list/{list_id}"
            async with http.get(url, params=params, headers=headers) as response:
                assert response.status == 200
                body: dict[str, Any] = await response.json()
                return body

        yield get


def _contacts(sandbox: ActonSandbox, list_index: int = 0) -> list[dict[str, Any]]:
    contacts: list[dict[str, Any]] = sandbox.admin("GET", "/state")["lists"][list_index]["contacts"]
    return contacts


@pytest.mark.acton_sandbox(lists=2, contacts=3)
def test_state_shows_every_contact_with_its_times(acton_sandbox: ActonSandbox) -> None:
    state = acton_sandbox.admin("GET", "/state")

    assert [found["id"] for found in state["lists"]] == ["l-0001", "l-0002"]
    contact = state["lists"][0]["contacts"][0]
    assert contact["id"] == "l-0001:0"
    assert contact["createdMs"] <= contact["modifiedMs"] <= state["now"]
    assert contact["values"]["E-mail Address"].endswith("@example.com")
    assert state["lists"][0]["headings"][0] == "_contact_id_"
    assert acton_sandbox.admin("GET", "/health") == {"status": "ok"}


@pytest.mark.acton_sandbox(lists=1, contacts=1)
def test_contacts_created_changed_and_deleted(acton_sandbox: ActonSandbox) -> None:
    created = acton_sandbox.admin(
        "POST", "/lists/l-0001/contacts", {"values": {"First Name": "Zed"}}
    )
    acton_sandbox.admin("PATCH", f"/contacts/{created['id']}", {"values": {"Company": "Hooli"}})
    acton_sandbox.admin("DELETE", "/contacts/l-0001:0")

    state = acton_sandbox.admin("GET", "/state")
    [contact] = state["lists"][0]["contacts"]
    assert contact["id"] == created["id"] == "l-0001:1"
    assert (contact["values"]["First Name"], contact["values"]["Company"]) == ("Zed", "Hooli")
    assert [d["id"] for d in state["deleted"]] == ["l-0001:0"]


@pytest.mark.acton_sandbox(lists=1, contacts=3)
def test_batch_applies_atomically_at_one_time(acton_sandbox: ActonSandbox) -> None:
    ops = [
        {"op": "create", "list": "l-0001", "values": {"First Name": "N"}},
        {"op": "update", "id": "l-0001:3", "values": {"Job Title": "CEO"}},
        {"op": "touch", "id": "l-0001:0"},
        {"op": "delete", "id": "l-0001:1"},
    ]

    answer = acton_sandbox.admin("POST", "/batch", {"ops": ops})

    assert answer["ids"] == ["l-0001:3", "l-0001:3", "l-0001:0", "l-0001:1"]
    contacts = {c["id"]: c for c in _contacts(acton_sandbox)}
    assert set(contacts) == {"l-0001:0", "l-0001:2", "l-0001:3"}
    assert contacts["l-0001:0"]["modifiedMs"] == contacts["l-0001:3"]["modifiedMs"] == answer["at"]
    assert contacts["l-0001:3"]["createdMs"] == answer["at"]


@pytest.mark.acton_sandbox(lists=1, contacts=2)
def test_a_bad_batch_changes_nothing(acton_sandbox: ActonSandbox) -> None:
    before = acton_sandbox.admin("GET", "/state")["lists"]
    for ops in (
        [{"op": "delete", "id": "l-0001:0"}, {"op": "update", "id": "l-0001:0"}],
        [{"op": "touch", "id": "l-0001:1"}, {"op": "create", "list": "l-0404"}],
        [{"op": "update", "id": "l-0001:1", "values": {"Shoe Size": 1}}],
        [{"op": "explode"}],
    ):
        with pytest.raises(AssertionError, match=r"ops\[\d\]"):
            acton_sandbox.admin("POST", "/batch", {"ops": ops})

    assert acton_sandbox.admin("GET", "/state")["lists"] == before


@pytest.mark.acton_sandbox(lists=1, contacts=0)
def test_batch_takes_an_explicit_time(acton_sandbox: ActonSandbox) -> None:
    ops = [{"op": "create", "list": "l-0001"}, {"op": "create", "list": "l-0001"}]

    acton_sandbox.admin("POST", "/batch", {"ops": ops, "at": 1_700_000_000_123})

    assert {c["modifiedMs"] for c in _contacts(acton_sandbox)} == {1_700_000_000_123}


@pytest.mark.acton_sandbox(lists=1, contacts=6)
async def test_between_pages_hook_shifts_the_next_page(
    acton_sandbox: ActonSandbox, download: Any
) -> None:
    acton_sandbox.admin(
        "POST",
        "/hooks",
        {"list": "l-0001", "after": 1, "ops": [{"op": "delete", "id": "l-0001:0"}]},
    )

    first = await download("l-0001", count=3, offset=0)
    second = await download("l-0001", count=3, offset=3)

    assert [r[0] for r in first["data"]] == ["l-0001:0", "l-0001:1", "l-0001:2"]
    # l-0001:3 slid onto the first page after it was read: a naive pager never sees it.
    assert [r[0] for r in second["data"]] == ["l-0001:4", "l-0001:5"]
    [hook] = acton_sandbox.admin("GET", "/hooks")
    assert (hook["seen"], hook["applied"]) == (1, ["l-0001:0"])


@pytest.mark.acton_sandbox(lists=2, contacts=4)
async def test_hook_counts_downloads_of_its_own_list(
    acton_sandbox: ActonSandbox, download: Any
) -> None:
    acton_sandbox.state.hooks.add(
        "l-0002", 2, [{"op": "update", "id": "l-0002:3", "values": {"Company": "Globex"}}]
    )

    await download("l-0001")
    await download("l-0002")
    assert acton_sandbox.admin("GET", "/hooks")[0]["applied"] is None
    await download("l-0002")
    changed = await download("l-0002", fields="Company")

    assert changed["data"][3] == ["l-0002:3", "Globex"]
    acton_sandbox.admin("DELETE", "/hooks")
    assert acton_sandbox.admin("GET", "/hooks") == []


@pytest.mark.acton_sandbox(lists=1, contacts=0)
def test_clock_freezes_advances_offsets_and_resets(acton_sandbox: ActonSandbox) -> None:
    frozen = acton_sandbox.admin("PUT", "/clock", {"frozenAt": 1_700_000_000_000})
    acton_sandbox.admin("POST", "/batch", {"ops": [{"op": "create", "list": "l-0001"}] * 3})
    advanced = acton_sandbox.admin("PUT", "/clock", {"advanceMs": 250})
    offset = acton_sandbox.admin("PUT", "/clock", {"offsetMs": -60_000})
    real = acton_sandbox.admin("PUT", "/clock", {"real": True})

    assert (frozen["now"], frozen["frozen"]) == (1_700_000_000_000, True)
    assert {c["createdMs"] for c in _contacts(acton_sandbox)} == {1_700_000_000_000}
    assert advanced["now"] == 1_700_000_000_250
    assert offset["frozen"] is False and -61_000 < offset["offsetMs"] < -59_000
    assert abs(real["offsetMs"]) < 1_000
    with pytest.raises(AssertionError):
        acton_sandbox.admin("PUT", "/clock", {})


@pytest.mark.acton_sandbox(lists=1, contacts=0)
async def test_many_changes_share_one_millisecond_when_frozen(
    acton_sandbox: ActonSandbox, download: Any
) -> None:
    at = acton_sandbox.admin("PUT", "/clock", {"freeze": True})["now"]
    for _ in range(5):
        acton_sandbox.admin("POST", "/lists/l-0001/contacts", {"values": {}})

    page = await download("l-0001", datequalifiers="true", modafter=at - 1)

    assert page["totalCount"] == 5
    assert {row[-1] for row in page["data"]} == {str(at)}


async def test_counters_count_calls_and_grants(acton_sandbox: ActonSandbox, download: Any) -> None:
    await download("l-0001")
    await download("l-0001")

    counters = acton_sandbox.admin("GET", "/counters")
    reset = acton_sandbox.admin("DELETE", "/counters")

    assert counters["calls"] == {"POST /token": 1, "GET /api/1/list/l-0001": 2}
    assert counters["grants"] == {"password": 1}
    assert reset["calls"] == {} and reset["grants"] == {}


def test_lists_can_be_created_with_their_own_headings(acton_sandbox: ActonSandbox) -> None:
    created = acton_sandbox.admin("POST", "/lists", {"name": "Custom", "headings": ["Email"]})
    contact = acton_sandbox.admin(
        "POST", f"/lists/{created['id']}/contacts", {"values": {"Email": "x@example.com"}}
    )

    assert created["id"] == "l-0004" and created["sourceSize"] == "0"
    assert contact["id"] == "l-0004:0"
    with pytest.raises(AssertionError):
        acton_sandbox.admin("POST", "/lists", {"headings": ["Email"]})

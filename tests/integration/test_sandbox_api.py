"""The sandbox's Act-On data API over loopback: lists, download, filters, records and errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.sandbox_fixtures import ActonSandbox

INVALID_LIST = {"errorCode": 10004, "message": "Invalid or missing list"}
INVALID_COLUMN = {"errorCode": "10010", "message": "Invalid Column Specified"}


class Api:
    def __init__(self, http: aiohttp.ClientSession, sandbox: ActonSandbox) -> None:
        self.http = http
        self.base = sandbox.url
        self.headers = {"Authorization": f"Bearer {sandbox.token()['access_token']}"}

    async def call(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> tuple[int, Any]:
        async with self.http.request(
            method, self.base + path, params=params, json=json, headers=self.headers
        ) as response:
            return response.status, await response.json()


@pytest.fixture
async def api(acton_sandbox: ActonSandbox) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as http:
        yield Api(http, acton_sandbox)


async def _all_ids(api: Api, list_id: str, **params: Any) -> list[str]:
    ids: list[str] = []
    offset = 0
    while True:
        status, page = await api.call(
            "GET", f"/api/1/list/{list_id}", params={**params, "offset": offset}
        )
        assert status == 200, page
        ids += [row[0] for row in page["data"]]
        offset += page["count"]
        if offset >= page["totalCount"] or not page["data"]:
            return ids


async def test_every_call_needs_a_bearer_token(acton_sandbox: ActonSandbox) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{acton_sandbox.url}/api/1/list/l-0001") as response,
    ):
        assert response.status == 401
        assert await response.json() == {
            "httpCode": "401",
            "httpMessage": "Unauthorized",
            "moreInformation": "",
        }


@pytest.mark.acton_sandbox(lists=3, contacts=4)
async def test_lists_are_listed_with_act_on_fields(api: Api) -> None:
    status, body = await api.call(
        "GET", "/api/1/list", params={"listingtype": "CONTACT_LIST", "count": 2, "offset": 1}
    )

    assert status == 200
    assert (body["offset"], body["count"], body["totalCount"]) == (1, 2, 3)
    assert [r["id"] for r in body["result"]] == ["l-0002", "l-0003"]
    first = body["result"][0]
    assert first["sourceSize"] == "4" and isinstance(first["tsLastModified"], int)
    assert {"name", "folderName"} <= first.keys()
    _, other = await api.call("GET", "/api/1/list", params={"listingtype": "TEMPLATE_MESSAGE"})
    assert other["result"] == []


@pytest.mark.acton_sandbox(lists=1, contacts=5, seed=3)
async def test_download_has_act_on_shape(api: Api) -> None:
    status, body = await api.call("GET", "/api/1/list/l-0001", params={"count": 2})

    assert status == 200
    assert body["listId"] == "l-0001"
    assert (body["offset"], body["count"], body["totalCount"]) == (0, 2, 5)
    assert body["headers"][0] == "_contact_id_"
    assert body["headers"][body["emailColumn"]] == "E-mail Address"
    assert [row[0] for row in body["data"]] == ["l-0001:0", "l-0001:1"]
    for row in body["data"]:
        assert len(row) == len(body["headers"])
        assert all(isinstance(cell, str) for cell in row)


@pytest.mark.acton_sandbox(lists=1, contacts=5, seed=3)
async def test_seeding_is_deterministic(api: Api, acton_sandbox_factory: Any) -> None:
    twin = acton_sandbox_factory(lists=1, contacts=5, seed=3)
    other = acton_sandbox_factory(lists=1, contacts=5, seed=4)

    def values(sandbox: ActonSandbox) -> list[dict[str, str]]:
        contacts = sandbox.state.store.snapshot()["lists"][0]["contacts"]  # type: ignore[index]
        return [c["values"] for c in contacts]

    _, body = await api.call("GET", "/api/1/list/l-0001")
    assert [row[1:] for row in body["data"]] == [
        [v[h] for h in body["headers"][1:]] for v in values(twin)
    ]
    assert values(twin) != values(other)


@pytest.mark.acton_sandbox(lists=1, contacts=2500)
async def test_count_is_capped_at_1000_and_offset_pages_in_order(api: Api) -> None:
    _, first = await api.call("GET", "/api/1/list/l-0001", params={"count": 5000})
    ids = await _all_ids(api, "l-0001", count=1000)

    assert first["count"] == 1000 and first["totalCount"] == 2500
    assert ids == [f"l-0001:{n}" for n in range(2500)]


@pytest.mark.acton_sandbox(lists=1, contacts=0)
async def test_date_filters_are_strict_bounds(api: Api, acton_sandbox: ActonSandbox) -> None:
    at = acton_sandbox.state.clock.freeze()
    old = acton_sandbox.state.batch([{"op": "create", "list": "l-0001"}], at_ms=at - 10)[0]
    edge = acton_sandbox.state.batch([{"op": "create", "list": "l-0001"}], at_ms=at)[0]
    new = acton_sandbox.state.batch([{"op": "create", "list": "l-0001"}], at_ms=at + 10)[0]
    acton_sandbox.state.batch([{"op": "touch", "id": old}], at_ms=at + 20)

    assert await _all_ids(api, "l-0001", modafter=at) == [old, new]
    assert await _all_ids(api, "l-0001", modbefore=at) == []
    assert await _all_ids(api, "l-0001", createdafter=at) == [new]
    assert await _all_ids(api, "l-0001", createdbefore=at) == [old]
    assert await _all_ids(api, "l-0001", modafter=at - 1, modbefore=at + 11) == [edge, new]
    _, page = await api.call("GET", "/api/1/list/l-0001", params={"modafter": at})
    assert page["totalCount"] == 2


@pytest.mark.acton_sandbox(lists=1, contacts=0, inclusive_bounds=True)
async def test_bounds_can_be_made_inclusive(api: Api, acton_sandbox: ActonSandbox) -> None:
    at = acton_sandbox.state.clock.freeze()
    [edge] = acton_sandbox.state.batch([{"op": "create", "list": "l-0001"}])

    assert await _all_ids(api, "l-0001", modafter=at, modbefore=at) == [edge]


@pytest.mark.acton_sandbox(lists=1, contacts=3)
async def test_datequalifiers_append_epoch_ms_columns(
    api: Api, acton_sandbox: ActonSandbox
) -> None:
    _, body = await api.call("GET", "/api/1/list/l-0001", params={"datequalifiers": "true"})

    assert body["headers"][-2:] == ["__created_date", "__modified_date"]
    oracle = acton_sandbox.state.store.snapshot()["lists"][0]["contacts"]  # type: ignore[index]
    assert [row[-2:] for row in body["data"]] == [
        [str(c["createdMs"]), str(c["modifiedMs"])] for c in oracle
    ]


@pytest.mark.acton_sandbox(lists=1, contacts=3)
async def test_fields_select_columns_and_exclude_datequalifiers(api: Api) -> None:
    _, body = await api.call(
        "GET", "/api/1/list/l-0001", params={"fields": "E-mail Address;First Name"}
    )
    both, error = await api.call(
        "GET", "/api/1/list/l-0001", params={"fields": "First Name", "datequalifiers": "true"}
    )
    unknown, column_error = await api.call(
        "GET", "/api/1/list/l-0001", params={"fields": "Shoe Size"}
    )

    assert body["headers"] == ["_contact_id_", "E-mail Address", "First Name"]
    assert body["emailColumn"] == 1
    assert all(len(row) == 3 for row in body["data"])
    assert both == 400 and "datequalifiers" in error["message"]
    assert (unknown, column_error) == (400, INVALID_COLUMN)


async def test_unknown_list_and_bad_numbers(api: Api) -> None:
    assert await api.call("GET", "/api/1/list/l-9999") == (400, INVALID_LIST)
    status, _ = await api.call("GET", "/api/1/list/l-0001", params={"modafter": "yesterday"})
    assert status == 400
    status, body = await api.call("GET", "/api/1/nothing")
    assert status == 404 and body["httpCode"] == "404"


@pytest.mark.acton_sandbox(lists=1, contacts=2)
async def test_record_crud(api: Api, acton_sandbox: ActonSandbox) -> None:
    at = acton_sandbox.state.clock.freeze()
    record = "/api/1/list/l-0001/record"

    status, inserted = await api.call(
        "POST", record, json={"E-mail Address": "new@example.com", "First Name": "New"}
    )
    assert status == 200
    assert inserted == {
        "status": "success",
        "message": "Record inserted",
        "id": "l-0001:2",
        "contact_id": "l-0001:2",
    }
    acton_sandbox.state.clock.advance(5)
    assert await api.call("PUT", f"{record}/l-0001:2", json={"Job Title": "CTO"}) == (
        200,
        {"status": "success", "message": "Record updated"},
    )
    status, row = await api.call("GET", f"{record}/l-0001:2")
    assert status == 200 and row[0] == "l-0001:2" and "CTO" in row and "New" in row

    contact = acton_sandbox.state.store.find_contact("l-0001:2")[1]
    assert (contact.created_ms, contact.modified_ms) == (at, at + 5)
    assert acton_sandbox.state.store.get_list("l-0001").ts_last_modified == at + 5

    assert await api.call("DELETE", f"{record}/l-0001:2") == (
        200,
        {"status": "success", "message": "Record deleted"},
    )
    assert await api.call("GET", f"{record}/l-0001:2") == (
        400,
        {"errorCode": 10008, "message": "Invalid contact"},
    )


@pytest.mark.acton_sandbox(lists=1, contacts=0)
async def test_upsert_by_email_updates_the_first_match_or_inserts(api: Api) -> None:
    record = "/api/1/list/l-0001/record"
    await api.call("POST", record, json={"E-mail Address": "dup@example.com", "First Name": "A"})
    await api.call("POST", record, json={"E-mail Address": "dup@example.com", "First Name": "B"})

    _, updated = await api.call(
        "PUT", record, params={"email": "DUP@example.com"}, json={"First Name": "C"}
    )
    _, inserted = await api.call(
        "PUT", record, params={"email": "fresh@example.com"}, json={"First Name": "D"}
    )

    assert (updated["message"], updated["id"]) == ("Record updated", "l-0001:0")
    assert (inserted["message"], inserted["id"]) == ("Record inserted", "l-0001:2")
    _, body = await api.call("GET", "/api/1/list/l-0001", params={"fields": "First Name"})
    assert [row[1] for row in body["data"]] == ["C", "B", "D"]
    _, fresh = await api.call("GET", f"{record}/l-0001:2")
    assert "fresh@example.com" in fresh


@pytest.mark.acton_sandbox(lists=1, contacts=5)
async def test_bulk_delete_reports_failures_and_caps_at_100(api: Api) -> None:
    record = "/api/1/list/l-0001/record"

    status, body = await api.call(
        "DELETE", record, params={"contactids": "l-0001:1,l-0001:3,l-0001:a"}
    )
    too_many, _ = await api.call(
        "DELETE", record, params={"contactids": ",".join(f"l-0001:{n}" for n in range(101))}
    )

    assert status == 200
    assert body == {
        "success_count": 2,
        "fail_count": 1,
        "failedList": [{"id": "l-0001:a", "reason": "Invalid contact id"}],
    }
    assert too_many == 400
    assert await _all_ids(api, "l-0001") == ["l-0001:0", "l-0001:2", "l-0001:4"]


@pytest.mark.acton_sandbox(lists=1, contacts=1)
async def test_writes_refuse_unknown_columns_and_lists(api: Api) -> None:
    record = "/api/1/list/l-0001/record"

    assert await api.call("POST", record, json={"Shoe Size": "42"}) == (400, INVALID_COLUMN)
    assert await api.call("PUT", f"{record}/l-0001:0", json={"Shoe Size": "42"}) == (
        400,
        INVALID_COLUMN,
    )
    assert await api.call("POST", "/api/1/list/l-0404/record", json={}) == (400, INVALID_LIST)
    status, _ = await api.call("POST", record, json=["not", "an", "object"])
    assert status == 400

"""The Mailchimp sandbox's lists and members over loopback: paging, filters, writes, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from yarl import URL

from headwater.sandbox.mailchimp import dates, members
from tests.mailchimp_fixtures import MailchimpSandbox

NOW_MS = 1_800_000_000_000  # 2027-01-15T08:00:00+00:00
NOW = NOW_MS // 1000


class Api:
    def __init__(self, http: aiohttp.ClientSession, sandbox: MailchimpSandbox) -> None:
        self.http = http
        self.sandbox = sandbox
        self.headers = sandbox.headers()
        self.list_id = sandbox.list_id()

    async def call(
        self, method: str, path: str, *, json: Any = None, **params: Any
    ) -> tuple[int, Any, aiohttp.ClientResponse]:
        url = self.sandbox.url + path.format(list_id=self.list_id)
        async with self.http.request(
            method, url, json=json, params=params or None, headers=self.headers
        ) as response:
            body = await response.json(content_type=None) if response.status != 204 else None
            return response.status, body, response

    async def members(self, **params: Any) -> dict[str, Any]:
        status, body, _ = await self.call("GET", "/3.0/lists/{list_id}/members", **params)
        assert status == 200, body
        result: dict[str, Any] = body
        return result

    def batch(self, at: int | str, *ops: dict[str, Any]) -> list[str]:
        full = [{"list": self.list_id, **op} for op in ops]
        answer = self.sandbox.admin("POST", "/batch", {"at": at, "ops": full})
        ids: list[str] = answer["ids"]
        return ids


@pytest.fixture
async def api(mailchimp_sandbox: MailchimpSandbox) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as http:
        yield Api(http, mailchimp_sandbox)


def _iso(seconds: int) -> str:
    return dates.iso(seconds)


@pytest.mark.mailchimp_sandbox(lists=3, members=5)
async def test_lists_page_with_offset_and_count(api: Api) -> None:
    status, first, _ = await api.call("GET", "/3.0/lists", count=2)
    _, rest, _ = await api.call("GET", "/3.0/lists", count=2, offset=2)
    _, one, _ = await api.call("GET", "/3.0/lists/{list_id}")

    assert status == 200 and first["total_items"] == rest["total_items"] == 3
    ids = [found["id"] for found in first["lists"] + rest["lists"]]
    assert len(set(ids)) == 3 and all(len(i) == 10 for i in ids)
    assert one["id"] == api.list_id and one["stats"]["total_contacts"] == 5


@pytest.mark.mailchimp_sandbox(members=25)
async def test_members_page_by_offset_and_count_with_total_items(api: Api) -> None:
    default = await api.members()
    pages = [await api.members(count=10, offset=offset) for offset in (0, 10, 20)]

    assert len(default["members"]) == 10 and default["total_items"] == 25
    seen = [m["id"] for page in pages for m in page["members"]]
    assert [len(p["members"]) for p in pages] == [10, 10, 5]
    assert len(set(seen)) == 25
    member = pages[0]["members"][0]
    assert member["id"] == members.subscriber_hash(member["email_address"])
    assert member["list_id"] == api.list_id and len(member["unique_email_id"]) == 10


async def test_count_over_1000_and_bad_numbers_are_400_problems(api: Api) -> None:
    for params in ({"count": 1001}, {"offset": -1}, {"count": "ten"}):
        status, problem, response = await api.call("GET", "/3.0/lists/{list_id}/members", **params)
        assert status == 400, params
        assert response.content_type == "application/problem+json"
        assert problem["title"] == "Invalid Resource"
        assert problem["errors"][0]["field"] == next(iter(params))
    assert len((await api.members(count=1000))["members"]) == 25


@pytest.mark.mailchimp_sandbox(members=3, frozen_at_ms=NOW_MS)
async def test_since_last_changed_is_inclusive_to_the_second(api: Api) -> None:
    [before] = api.batch(NOW - 1, {"op": "create", "email": "before@example.com"})
    [at] = api.batch(NOW, {"op": "create", "email": "at@example.com"})
    [after] = api.batch(NOW + 1, {"op": "create", "email": "after@example.com"})

    since_now = await api.members(since_last_changed=_iso(NOW))
    fraction = await api.members(since_last_changed=_iso(NOW).replace("+00:00", ".999+00:00"))
    zulu = await api.members(since_last_changed=_iso(NOW).replace("+00:00", "Z"))
    window = await api.members(since_last_changed=_iso(NOW - 1), before_last_changed=_iso(NOW + 1))
    other_offset = await api.members(since_last_changed="2027-01-15T10:00:00+02:00")

    assert [m["id"] for m in since_now["members"]] == [at, after]
    assert since_now["total_items"] == 2
    assert fraction["members"] == since_now["members"] == zulu["members"]
    assert [m["id"] for m in window["members"]] == [before, at]
    assert [m["id"] for m in other_offset["members"]] == [at, after]
    assert since_now["members"][0]["last_changed"] == "2027-01-15T08:00:00+00:00"


@pytest.mark.mailchimp_sandbox(members=3, frozen_at_ms=NOW_MS, exclusive_since=True)
async def test_exclusive_since_option_leaves_out_the_bound_second(api: Api) -> None:
    api.batch(NOW, {"op": "create", "email": "at@example.com"})
    [after] = api.batch(NOW + 1, {"op": "create", "email": "after@example.com"})

    found = await api.members(since_last_changed=_iso(NOW))

    assert [m["id"] for m in found["members"]] == [after]


@pytest.mark.mailchimp_sandbox(members=3, frozen_at_ms=NOW_MS)
async def test_an_unencoded_plus_is_a_400_naming_the_parameter(api: Api) -> None:
    api.batch(NOW, {"op": "create", "email": "at@example.com"})
    base = f"{api.sandbox.url}/3.0/lists/{api.list_id}/members"

    encoded = URL(f"{base}?since_last_changed=2027-01-15T08:00:00%2B00:00", encoded=True)
    raw_plus = URL(f"{base}?since_last_changed=2027-01-15T08:00:00+00:00", encoded=True)
    async with api.http.get(encoded, headers=api.headers) as response:
        assert response.status == 200
        assert (await response.json())["total_items"] == 1
    for url in (raw_plus, URL(f"{base}?before_last_changed=yesterday", encoded=True)):
        async with api.http.get(url, headers=api.headers) as response:
            assert response.status == 400
            problem = await response.json(content_type=None)
            assert problem["errors"][0]["field"] in ("since_last_changed", "before_last_changed")
            assert "%2B" in problem["errors"][0]["message"]


@pytest.mark.mailchimp_sandbox(members=3, frozen_at_ms=NOW_MS, lenient_dates=True)
async def test_lenient_dates_ignore_an_unreadable_filter_like_mailchimp(api: Api) -> None:
    base = f"{api.sandbox.url}/3.0/lists/{api.list_id}/members"
    raw_plus = URL(f"{base}?since_last_changed=2027-01-15T08:00:00+00:00", encoded=True)

    async with api.http.get(raw_plus, headers=api.headers) as response:
        assert response.status == 200
        assert (await response.json())["total_items"] == 3


@pytest.mark.mailchimp_sandbox(members=0, frozen_at_ms=NOW_MS)
async def test_status_filter_and_how_archived_members_show(api: Api) -> None:
    api.batch(
        NOW,
        {"op": "create", "email": "sub@example.com", "status": "subscribed"},
        {"op": "create", "email": "unsub@example.com", "status": "unsubscribed"},
        {"op": "create", "email": "gone@example.com", "status": "subscribed"},
    )
    gone = members.subscriber_hash("gone@example.com")

    status, _, _ = await api.call("DELETE", f"/3.0/lists/{{list_id}}/members/{gone}")
    _, single, _ = await api.call("GET", f"/3.0/lists/{{list_id}}/members/{gone}")
    by_email, _, _ = await api.call("GET", "/3.0/lists/{list_id}/members/Gone@Example.com")
    again, problem, _ = await api.call("DELETE", f"/3.0/lists/{{list_id}}/members/{gone}")
    everyone = await api.members()
    subscribed = await api.members(status="subscribed")
    archived = await api.members(status="archived")
    bad, bad_status, _ = await api.call("GET", "/3.0/lists/{list_id}/members", status="gone")

    assert status == 204
    assert single["status"] == "archived" and by_email == 200
    assert again == 404 and problem["title"] == "Resource Not Found"
    assert sorted(m["email_address"] for m in everyone["members"]) == [
        "sub@example.com",
        "unsub@example.com",
    ]
    assert [m["email_address"] for m in subscribed["members"]] == ["sub@example.com"]
    assert [m["id"] for m in archived["members"]] == [gone] and archived["total_items"] == 1
    assert bad == 400 and bad_status["errors"][0]["field"] == "status"


@pytest.mark.mailchimp_sandbox(members=0, frozen_at_ms=NOW_MS)
async def test_writes_through_the_api(api: Api) -> None:
    path = "/3.0/lists/{list_id}/members"
    created_status, created, _ = await api.call(
        "POST",
        path,
        json={
            "email_address": "Ada@Example.com",
            "status": "pending",
            "merge_fields": {"FNAME": "Ada"},
        },
    )
    twice, exists, _ = await api.call(
        "POST", path, json={"email_address": "ada@example.com", "status": "subscribed"}
    )
    one = f"{path}/{created['id']}"
    _, confirmed, _ = await api.call("PATCH", one, json={"status": "subscribed"})
    _, renamed, _ = await api.call("PATCH", one, json={"merge_fields": {"LNAME": "Lovelace"}})
    bad_field, bad, _ = await api.call("PATCH", one, json={"merge_fields": {"NOPE": "x"}})
    _, upserted, _ = await api.call(
        "PUT",
        f"{path}/{members.subscriber_hash('grace@example.com')}",
        json={"email_address": "grace@example.com", "status_if_new": "unsubscribed"},
    )

    assert created_status == 200
    assert created["id"] == members.subscriber_hash("ada@example.com")
    assert created["timestamp_opt"] == "" and created["timestamp_signup"] != ""
    assert twice == 400 and exists["title"] == "Member Exists"
    assert confirmed["status"] == "subscribed" and confirmed["timestamp_opt"] == _iso(NOW)
    assert renamed["merge_fields"] == {"FNAME": "Ada", "LNAME": "Lovelace"}
    assert renamed["full_name"] == "Ada Lovelace"
    assert bad_field == 400 and bad["errors"] == [
        {"field": "NOPE", "message": "This merge field does not exist."}
    ]
    assert upserted["status"] == "unsubscribed" and upserted["timestamp_opt"] == ""


@pytest.mark.mailchimp_sandbox(members=0, frozen_at_ms=NOW_MS)
async def test_put_unarchives_only_with_status_and_delete_permanent_is_final(api: Api) -> None:
    path = "/3.0/lists/{list_id}/members"
    email = "ada@example.com"
    one = f"{path}/{members.subscriber_hash(email)}"
    api.batch(NOW, {"op": "create", "email": email}, {"op": "archive", "email": email})

    _, kept, _ = await api.call(
        "PUT", one, json={"email_address": email, "status_if_new": "subscribed"}
    )
    _, back, _ = await api.call("PUT", one, json={"email_address": email, "status": "subscribed"})
    erased, _, _ = await api.call("POST", f"{one}/actions/delete-permanent")
    missing, _, _ = await api.call("GET", one)
    readd, refused, _ = await api.call(
        "POST", path, json={"email_address": email, "status": "subscribed"}
    )

    assert kept["status"] == "archived"
    assert back["status"] == "subscribed"
    assert (erased, missing) == (204, 404)
    assert readd == 400 and refused["title"] == "Forgotten Email Not Subscribed"


async def test_fields_and_exclude_fields_shape_the_answer(api: Api) -> None:
    picked = await api.members(fields="members.email_address,total_items", count=2)
    dropped = await api.members(exclude_fields="members._links,members.merge_fields,_links")

    assert set(picked) == {"members", "total_items"}
    assert all(set(m) == {"email_address"} for m in picked["members"])
    assert "_links" not in dropped
    assert all("merge_fields" not in m and "email_address" in m for m in dropped["members"])


async def test_unknown_things_are_problem_json(api: Api) -> None:
    no_list, a, first = await api.call("GET", "/3.0/lists/nope/members")
    no_route, b, _ = await api.call("GET", "/3.0/nothing-here")
    no_method, c, _ = await api.call("PUT", "/3.0/lists")
    bad_json_status, d, _ = await api.call(
        "POST", "/3.0/lists/{list_id}/members", json=["not", "an", "object"]
    )

    assert (no_list, no_route, no_method, bad_json_status) == (404, 404, 405, 400)
    assert first.content_type == "application/problem+json"
    for problem in (a, b, c, d):
        assert set(problem) >= {"type", "title", "status", "detail", "instance"}
        assert problem["type"].startswith("https://mailchimp.com/developer/")


@pytest.mark.mailchimp_sandbox(members=0, frozen_at_ms=NOW_MS)
async def test_sort_and_the_other_filters(api: Api) -> None:
    api.batch(NOW + 2, {"op": "create", "email": "a@example.com"})
    api.batch(NOW, {"op": "create", "email": "b@example.com", "status": "pending"})
    api.batch(NOW + 1, {"op": "create", "email": "c@example.com"})

    newest_first = await api.members(sort_field="last_changed", sort_dir="DESC")
    by_unique = await api.members(unique_email_id=members.unique_email_id("c@example.com"))
    opted_since = await api.members(since_timestamp_opt=_iso(NOW + 1))
    bad, problem, _ = await api.call("GET", "/3.0/lists/{list_id}/members", sort_dir="UP")

    assert [m["email_address"] for m in newest_first["members"]] == [
        "a@example.com",
        "c@example.com",
        "b@example.com",
    ]
    assert [m["email_address"] for m in by_unique["members"]] == ["c@example.com"]
    assert sorted(m["email_address"] for m in opted_since["members"]) == [
        "a@example.com",
        "c@example.com",
    ]
    assert bad == 400 and problem["errors"][0]["field"] == "sort_dir"


@pytest.mark.mailchimp_sandbox(members=0, frozen_at_ms=NOW_MS, ignore_offsets=True)
async def test_ignore_offsets_reads_every_date_as_utc_like_users_report(api: Api) -> None:
    [at] = api.batch(NOW, {"op": "create", "email": "at@example.com"})

    shifted = await api.members(since_last_changed="2027-01-15T08:00:00+02:00")
    later = await api.members(since_last_changed="2027-01-15T08:00:01-05:00")

    assert [m["id"] for m in shifted["members"]] == [at]
    assert later["members"] == []

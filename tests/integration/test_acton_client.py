"""``ActonClient`` against the Act-On sandbox over loopback: data, paging, writes and faults."""

from __future__ import annotations

import socket
import time
from typing import Any

import aiohttp
import pytest

from headwater import errors
from headwater.elements import limits
from headwater.elements.acton import client as acton
from tests.acton_clients import SandboxTokens, sandbox_client
from tests.sandbox_fixtures import ActonSandbox

LIST = "l-0001"


def _oracle(sandbox: ActonSandbox, list_id: str = LIST) -> list[dict[str, Any]]:
    snapshot = sandbox.state.store.snapshot()
    lists: list[dict[str, Any]] = snapshot["lists"]  # type: ignore[assignment]
    return next(found["contacts"] for found in lists if found["id"] == list_id)


@pytest.mark.acton_sandbox(lists=5)
async def test_lists_are_paged_to_the_end(acton_sandbox: ActonSandbox) -> None:
    async with sandbox_client(acton_sandbox) as (client, _):
        first = await client.get_lists(count=2)
        seen = [item["id"] async for item in client.iter_lists(page_size=2)]
    assert first.total_count == 5 and len(first.lists) == 2
    assert seen == ["l-0001", "l-0002", "l-0003", "l-0004", "l-0005"]
    assert acton_sandbox.state.counters()["calls"]["GET /api/1/list"] == 4


@pytest.mark.acton_sandbox(lists=1, contacts=25)
async def test_a_list_download_is_paged_to_the_end_with_date_columns(
    acton_sandbox: ActonSandbox,
) -> None:
    async with sandbox_client(acton_sandbox) as (client, _):
        pages = [p async for p in client.iter_list_pages(LIST, page_size=7, datequalifiers=True)]
    assert [len(p.rows) for p in pages] == [7, 7, 7, 4]
    headers = pages[0].headers
    assert headers[0] == "_contact_id_" and headers[-2:] == ["__created_date", "__modified_date"]
    records = [r for p in pages for r in p.records()]
    expected = _oracle(acton_sandbox)
    assert [r["_contact_id_"] for r in records] == [c["id"] for c in expected]
    assert [int(r["__modified_date"]) for r in records] == [c["modifiedMs"] for c in expected]


@pytest.mark.acton_sandbox(lists=1, contacts=25)
async def test_date_filters_and_fields_reach_act_on(acton_sandbox: ActonSandbox) -> None:
    contacts = _oracle(acton_sandbox)
    bound = sorted(c["modifiedMs"] for c in contacts)[12]
    async with sandbox_client(acton_sandbox) as (client, _):
        changed = await client.get_list_page(LIST, modafter=bound, datequalifiers=True)
        created = await client.get_list_page(LIST, createdbefore=contacts[3]["createdMs"])
        some = await client.get_list_page(LIST, count=3, fields=["First Name", "E-mail Address"])
    assert sorted(r[0] for r in changed.rows) == sorted(
        c["id"] for c in contacts if c["modifiedMs"] > bound
    )
    assert changed.total_count == 12
    assert [r[0] for r in created.rows] == [c["id"] for c in contacts[:3]]
    assert some.headers == ["_contact_id_", "First Name", "E-mail Address"]
    assert some.rows[0][1:] == [
        contacts[0]["values"]["First Name"],
        contacts[0]["values"]["E-mail Address"],
    ]
    assert some.email_column == 2


@pytest.mark.acton_sandbox(lists=1, contacts=3)
async def test_record_crud(acton_sandbox: ActonSandbox) -> None:
    async with sandbox_client(acton_sandbox) as (client, _):
        written = await client.insert(LIST, {"First Name": "Ada", "E-mail Address": "ada@x.org"})
        assert written.id == f"{LIST}:3" and written.message == "Record inserted"
        row = await client.get_record(LIST, written.id)
        assert row[0] == written.id and "Ada" in row and "ada@x.org" in row

        await client.update(LIST, written.id, {"Last Name": "Lovelace"})
        assert "Lovelace" in await client.get_record(LIST, written.id)

        same = await client.upsert_by_email(LIST, "ada@x.org", {"Company": "Analytical"})
        new = await client.upsert_by_email(LIST, "grace@x.org", {"First Name": "Grace"})
        assert (same.id, same.message) == (written.id, "Record updated")
        assert new.id == f"{LIST}:4" and new.message == "Record inserted"

        await client.delete(LIST, written.id)
        with pytest.raises(errors.ProviderNotFound, match="Invalid contact"):
            await client.get_record(LIST, written.id)
        deleted = await client.delete_many(LIST, [f"{LIST}:0", f"{LIST}:1", f"{LIST}:99"])
    assert deleted.success_count == 2
    assert deleted.failed == [(f"{LIST}:99", "Invalid contact id")]
    assert [c["id"] for c in _oracle(acton_sandbox)] == [f"{LIST}:2", f"{LIST}:4"]


@pytest.mark.acton_sandbox(lists=1, contacts=3)
async def test_bulk_deletes_go_100_ids_per_call(acton_sandbox: ActonSandbox) -> None:
    ids = [f"{LIST}:{n}" for n in range(150)]
    async with sandbox_client(acton_sandbox) as (client, _):
        deleted = await client.delete_many(LIST, ids)
    assert deleted.success_count == 3 and len(deleted.failed) == 147
    assert acton_sandbox.state.counters()["calls"][f"DELETE /api/1/list/{LIST}/record"] == 2


@pytest.mark.acton_sandbox(lists=1, contacts=3)
async def test_an_unknown_list_is_not_found_with_act_ons_message(
    acton_sandbox: ActonSandbox,
) -> None:
    async with sandbox_client(acton_sandbox) as (client, _):
        with pytest.raises(errors.ProviderNotFound) as caught:
            await client.get_list_page("l-9999")
    assert caught.value.provider_message == "Invalid or missing list"
    assert caught.value.message == (
        "Act-On failed with HTTP 400 on GET /api/1/list/l-9999: "
        "Invalid or missing list (errorCode 10004)"
    )


@pytest.mark.acton_sandbox(lists=1, contacts=3)
async def test_an_unknown_column_is_a_refusal(acton_sandbox: ActonSandbox) -> None:
    async with sandbox_client(acton_sandbox) as (client, _):
        with pytest.raises(errors.ProviderRefusal) as caught:
            await client.insert(LIST, {"Shoe Size": "42"})
    assert caught.value.status == 422
    assert caught.value.provider_message == "Invalid Column Specified"
    assert "HTTP 400 on POST /api/1/list/l-0001/record" in caught.value.message


@pytest.mark.acton_sandbox(lists=1, contacts=3)
async def test_an_expired_token_is_refreshed_once_and_the_call_retried(
    acton_sandbox: ActonSandbox,
) -> None:
    async with sandbox_client(acton_sandbox) as (client, tokens):
        first = tokens.access
        acton_sandbox.state.tokens.expire_access()
        page = await client.get_list_page(LIST)
        again = await client.get_list_page(LIST)
    assert len(page.rows) == len(again.rows) == 3
    assert tokens.refreshes == 1 and tokens.access != first
    assert acton_sandbox.state.counters()["grants"]["refresh_token"] == 1


@pytest.mark.acton_sandbox(lists=1, contacts=3)
async def test_a_revoked_refresh_token_is_a_refusal_with_act_ons_message(
    acton_sandbox: ActonSandbox,
) -> None:
    async with sandbox_client(acton_sandbox) as (client, tokens):
        acton_sandbox.state.tokens.expire_access()
        acton_sandbox.state.tokens.revoke_refresh()
        with pytest.raises(errors.ProviderRefusal) as caught:
            await client.get_lists()
    assert tokens.refreshes == 1
    assert "Unknown or invalid refresh token" in (caught.value.provider_message or "")


class _StaleTokens:
    """Hands out tokens Act-On does not know, even after a refresh."""

    def __init__(self) -> None:
        self.refreshes = 0

    async def current(self) -> str:
        return "stale"

    async def refreshed(self, rejected: str) -> str:
        self.refreshes += 1
        return "still-stale"


@pytest.mark.acton_sandbox(lists=1, contacts=3)
async def test_a_token_refused_after_its_refresh_is_not_retried_again(
    acton_sandbox: ActonSandbox,
) -> None:
    tokens = _StaleTokens()
    async with aiohttp.ClientSession() as http:
        client = acton.ActonClient(http, acton_sandbox.url, tokens, limits.RateLimiter(100))
        with pytest.raises(errors.ProviderAuthExpired) as caught:
            await client.get_lists()
    assert tokens.refreshes == 1
    assert caught.value.message.startswith(
        "Act-On failed with HTTP 401 on GET /api/1/list: Unauthorized"
    )
    assert acton_sandbox.state.counters()["calls"]["GET /api/1/list"] == 2


@pytest.mark.acton_sandbox(lists=1, contacts=3)
async def test_a_429_waits_for_retry_after_then_succeeds(acton_sandbox: ActonSandbox) -> None:
    acton_sandbox.state.faults.add(
        {"kind": "rate_limit", "path": "/api/1/list", "count": 1, "retryAfter": 1}
    )
    async with sandbox_client(acton_sandbox) as (client, _):
        started = time.monotonic()
        page = await client.get_lists()
        elapsed = time.monotonic() - started
    assert [item["id"] for item in page.lists] == [LIST]
    assert elapsed >= 0.9
    assert acton_sandbox.state.counters()["calls"]["GET /api/1/list"] == 2


@pytest.mark.acton_sandbox(lists=1, contacts=3)
async def test_a_429_beyond_the_bound_raises_rate_limited_and_holds_the_instance(
    acton_sandbox: ActonSandbox,
) -> None:
    acton_sandbox.state.faults.add({"kind": "rate_limit", "path": "/api/1/list", "retryAfter": 60})
    async with aiohttp.ClientSession() as http:
        limiter = limits.RateLimiter(100)
        tokens = SandboxTokens(http, acton_sandbox)
        client = acton.ActonClient(http, acton_sandbox.url, tokens, limiter, max_rate_limit_wait=5)
        with pytest.raises(errors.ProviderRateLimited) as caught:
            await client.get_lists()
        with pytest.raises(errors.ProviderRateLimited) as again:
            await client.get_list_page(LIST)
    assert caught.value.retry_after == 60
    assert caught.value.provider_message == "Too Many Requests: Rate Limit exceeded"
    assert "HTTP 429 on GET /api/1/list" in caught.value.message
    # every caller of this instance now waits, or (past the bound) fails at once
    assert limiter.held_for() > 55
    assert again.value.retry_after is not None and again.value.retry_after > 55
    assert "not sent; retry after" in again.value.message
    calls = acton_sandbox.state.counters()["calls"]
    assert calls["GET /api/1/list"] == 1 and f"GET /api/1/list/{LIST}" not in calls


@pytest.mark.acton_sandbox(lists=1, contacts=3)
async def test_a_500_is_unavailable_quoting_act_on(acton_sandbox: ActonSandbox) -> None:
    acton_sandbox.state.faults.add({"kind": "status", "status": 500, "path": "/api/1/list/"})
    async with sandbox_client(acton_sandbox) as (client, _):
        with pytest.raises(errors.ProviderUnavailable) as caught:
            await client.get_list_page(LIST)
    assert type(caught.value) is errors.ProviderUnavailable
    assert caught.value.http_status == 500
    assert caught.value.message == (
        "Act-On failed with HTTP 500 on GET /api/1/list/l-0001: Server Error"
    )


@pytest.mark.acton_sandbox(lists=1, contacts=3)
async def test_a_malformed_body_is_unavailable_and_says_so(acton_sandbox: ActonSandbox) -> None:
    acton_sandbox.state.faults.add({"kind": "malformed", "path": "/api/1/list/"})
    async with sandbox_client(acton_sandbox) as (client, _):
        with pytest.raises(errors.ProviderUnavailable) as caught:
            await client.get_list_page(LIST)
    assert "answered GET /api/1/list/l-0001 with HTTP 200 and a malformed body" in str(caught.value)


@pytest.mark.acton_sandbox(lists=1, contacts=3)
async def test_a_connection_dropped_mid_body_is_unavailable(acton_sandbox: ActonSandbox) -> None:
    acton_sandbox.state.faults.add({"kind": "drop", "path": "/api/1/list/"})
    async with sandbox_client(acton_sandbox) as (client, _):
        with pytest.raises(errors.ProviderUnavailable) as caught:
            await client.get_list_page(LIST)
    assert "Act-On broke off its answer to GET /api/1/list/l-0001" in str(caught.value)


@pytest.mark.acton_sandbox(lists=1, contacts=3)
async def test_latency_beyond_the_timeout_is_unavailable(acton_sandbox: ActonSandbox) -> None:
    acton_sandbox.state.faults.add(
        {"kind": "latency", "delay": 1.0, "path": "/api/1/list/", "count": 1}
    )
    async with sandbox_client(acton_sandbox, request_timeout=0.2) as (client, _):
        with pytest.raises(errors.ProviderUnavailable) as caught:
            await client.get_list_page(LIST)
    assert str(caught.value) == "Act-On did not answer GET /api/1/list/l-0001 within 0.2 s"


async def test_an_unreachable_act_on_is_unavailable() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with aiohttp.ClientSession() as http:
        client = acton.ActonClient(
            http, f"http://127.0.0.1:{port}", _StaleTokens(), limits.RateLimiter(100)
        )
        with pytest.raises(errors.ProviderUnavailable) as caught:
            await client.get_lists()
    assert str(caught.value).startswith("Act-On could not be reached for GET /api/1/list")


@pytest.mark.acton_sandbox(lists=1, contacts=3, rate_per_second=5)
async def test_the_client_side_limiter_keeps_an_instance_under_act_ons_limit(
    acton_sandbox: ActonSandbox,
) -> None:
    async with sandbox_client(acton_sandbox, rate=5.0) as (client, _):
        for _ in range(8):
            await client.get_lists()
    assert acton_sandbox.state.counters()["rateLimited"] == 0

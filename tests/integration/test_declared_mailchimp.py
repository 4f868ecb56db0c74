"""Mailchimp declared only as data (``tests/declarations/mailchimp``), against the Mailchimp
sandbox: the code exchange finds the account's API host, and the declared hub lists, filters,
pages and changes members as Mailchimp serves them."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from headwater import errors
from headwater.elements import base, element, limits, registry
from tests.mailchimp_fixtures import MailchimpSandbox

FOLDER = Path(__file__).resolve().parents[1] / "declarations" / "mailchimp"
REDIRECT = "https://app.example.com/callback"

pytestmark = pytest.mark.mailchimp_sandbox(lists=2, members=7)


class Token:
    """Mailchimp tokens do not expire: the one granted is all there is."""

    def __init__(self, token: str) -> None:
        self.token = token

    async def current(self) -> str:
        return self.token

    async def refreshed(self, rejected: str) -> str:
        raise errors.ProviderRefusal("Mailchimp tokens cannot be refreshed")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _element(sandbox: MailchimpSandbox) -> element.Element:
    settings = {"HEADWATER_MAILCHIMP_LOGIN_URL": sandbox.url}
    return registry.build(settings, extra_paths=[FOLDER]).get("mailchimp")


async def _connect(
    sandbox: MailchimpSandbox, http: aiohttp.ClientSession
) -> tuple[base.Grant, base.Hub]:
    mailchimp = _element(sandbox)
    code = await asyncio.to_thread(sandbox.authorize_code, REDIRECT)
    grant = await mailchimp.exchange_code(
        http,
        code=code,
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        redirect_uri=REDIRECT,
    )
    connection = base.Connection(
        http=http,
        tokens=Token(grant.access_token),
        limiter=limits.RateLimiter(1000),
        timeout=5.0,
        base_url=grant.account["base_url"],
    )
    return grant, mailchimp.hub(connection)


async def test_the_code_exchange_finds_the_accounts_api_host(
    mailchimp_sandbox: MailchimpSandbox, http: aiohttp.ClientSession
) -> None:
    grant, _ = await _connect(mailchimp_sandbox, http)
    assert grant.account == {"base_url": mailchimp_sandbox.url + "/3.0"}
    assert grant.refresh_token is None
    with pytest.raises(errors.ProviderRefusal):
        await _element(mailchimp_sandbox).refresh(
            http, refresh_token="x", client_id="c", client_secret="s"
        )


async def test_members_are_listed_paged_and_filtered(
    mailchimp_sandbox: MailchimpSandbox, http: aiohttp.ClientSession
) -> None:
    _, hub = await _connect(mailchimp_sandbox, http)
    lists = (await hub.fetch("/hubs/marketing/lists", page_size=10, page_token=None)).records
    ids = [mailchimp_sandbox.list_id(0), mailchimp_sandbox.list_id(1)]
    assert [item["id"] for item in lists] == ids
    contacts = f"/hubs/marketing/lists/{lists[0]['id']}/contacts"
    seen: list[str] = []
    token: str | None = None
    while True:
        page = await hub.fetch(contacts, page_size=3, page_token=token)
        seen += [str(r["id"]) for r in page.records]
        token = page.next_token
        if token is None:
            break
    assert len(seen) == len(set(seen)) == 7

    latest = max(
        dt.datetime.fromisoformat(str(r["last_changed"]))
        for r in (await hub.fetch(contacts, page_size=100, page_token=None)).records
    )
    since = latest.isoformat().replace("+", "%2B")  # as a poller's ${gmtDate:…} writes it
    page = await hub.fetch(
        f"{contacts}?where=since_last_changed%3D%27{since}%27", page_size=100, page_token=None
    )
    assert page.records and all(
        dt.datetime.fromisoformat(str(r["last_changed"])) >= latest for r in page.records
    )
    with pytest.raises(errors.InputError):
        await hub.fetch(f"{contacts}?where=vip%3D%27true%27", page_size=10, page_token=None)


async def test_members_are_created_changed_and_archived(
    mailchimp_sandbox: MailchimpSandbox, http: aiohttp.ClientSession
) -> None:
    _, hub = await _connect(mailchimp_sandbox, http)
    contacts = f"/hubs/marketing/lists/{mailchimp_sandbox.list_id(0)}/contacts"
    created = await hub.create(
        contacts, {"email_address": "ada@example.com", "status": "subscribed"}
    )
    path = f"{contacts}/{created['id']}"
    assert (await hub.read(path))["email_address"] == "ada@example.com"
    changed = await hub.update(path, {"merge_fields": {"FNAME": "Ada"}})
    assert changed["merge_fields"]["FNAME"] == "Ada"
    await hub.delete(path)
    with pytest.raises(errors.ProviderRefusal) as refused:
        await hub.create(contacts, {"email_address": "not an address", "status": "subscribed"})
    assert refused.value.provider_message, "the problem's detail is quoted"
    with pytest.raises(errors.ProviderNotFound):
        await hub.read(f"{contacts}/0123456789abcdef0123456789abcdef")

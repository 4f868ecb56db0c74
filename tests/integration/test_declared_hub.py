"""The hub built from a declaration, against the notes API: each paging style, the ``where``
mapping, single records, credentials, rate limits and the provider's errors."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from headwater import errors
from headwater.elements import (
    api_keys,
    base,
    declaration,
    declaration_loader,
    declared_hub,
    hub_tokens,
    limits,
    registry,
)
from headwater.sandbox import serving
from tests import notes_api

DECLARATION = Path(__file__).resolve().parents[1] / "elements" / "notes" / "element.yaml"
NOTES = "/hubs/crm/folders/f1/notes"


@pytest.fixture
def notes() -> Iterator[notes_api.NotesState]:
    state = notes_api.NotesState()
    state.seed(folders=3, notes=7)
    server = serving.BackgroundServer(notes_api.build_app(state))
    state.url = server.start()
    yield state
    server.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@dataclasses.dataclass
class Tokens:
    """A token source over the notes API's tokens; counts refreshes."""

    state: notes_api.NotesState
    token: str = ""
    refreshes: int = 0

    async def current(self) -> str:
        if not self.token:
            self.token = self.state.issue_token()
        return self.token

    async def refreshed(self, rejected: str) -> str:
        self.refreshes += 1
        self.token = self.state.issue_token()
        return self.token


def _declared(auth: dict[str, Any] | None = None, **paging: Any) -> declaration.Declaration:
    raw = yaml.safe_load(DECLARATION.read_text())
    if auth is not None:
        raw["authentication"] = auth
    if paging:
        notes = next(r for r in raw["resources"] if r["name"] == "notes")
        notes["paging"] = paging
    return declaration_loader.from_mapping(copy.deepcopy(raw))


def _hub(
    notes: notes_api.NotesState,
    http: aiohttp.ClientSession,
    declared: declaration.Declaration | None = None,
    tokens: base.TokenSource | None = None,
) -> declared_hub.DeclaredHub:
    connection = base.Connection(
        http=http,
        tokens=tokens or Tokens(notes),
        limiter=limits.RateLimiter(1000),
        timeout=5.0,
        base_url=notes.url + "/v1",
    )
    return declared_hub.DeclaredHub(declared or _declared(), connection)


async def _all(hub: declared_hub.DeclaredHub, url: str, size: int) -> list[list[str]]:
    pages: list[list[str]] = []
    token: str | None = None
    while True:
        page = await hub.fetch(url, page_size=size, page_token=token)
        pages.append([str(r["id"]) for r in page.records])
        token = page.next_token
        if token is None:
            return pages


def _expected(notes: notes_api.NotesState, folder: str = "f1") -> list[str]:
    ordered = sorted(
        (n for n in notes.notes.values() if n["folderId"] == folder),
        key=lambda n: (n["updated_at"], n["id"]),
    )
    return [n["id"] for n in ordered]


def _asked(notes: notes_api.NotesState, start: str) -> list[str]:
    return [path for _, path in notes.requests if path.startswith(start)]


PAGING_STYLES = {
    "offset": {"style": "offset", "offsetParam": "offset", "sizeParam": "limit"},
    "offset with a total": {
        "style": "offset",
        "offsetParam": "offset",
        "sizeParam": "limit",
        "totalField": "data.total",
    },
    "pageNumber": {"style": "pageNumber", "pageParam": "page", "sizeParam": "per_page"},
    "pageToken": {
        "style": "pageToken",
        "tokenParam": "cursor",
        "sizeParam": "limit",
        "nextTokenField": "next_cursor",
    },
}


@pytest.mark.parametrize("paging", PAGING_STYLES.values(), ids=PAGING_STYLES.keys())
async def test_each_paging_style_reads_every_record_once(
    notes: notes_api.NotesState, http: aiohttp.ClientSession, paging: dict[str, Any]
) -> None:
    hub = _hub(notes, http, _declared(**paging))
    pages = await _all(hub, NOTES, 3)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == _expected(notes)


async def test_a_page_ending_exactly_on_the_last_record_stops_there(
    notes: notes_api.NotesState, http: aiohttp.ClientSession
) -> None:
    hub = _hub(notes, http, _declared(**PAGING_STYLES["offset with a total"]))
    pages = await _all(hub, NOTES, 7)
    assert pages == [_expected(notes)], "the total says there is no second page to ask for"
    assert len(_asked(notes, "/v1/folders/f1/notes")) == 1


async def test_the_page_size_is_capped_by_the_declared_maximum(
    notes: notes_api.NotesState, http: aiohttp.ClientSession
) -> None:
    page = await _hub(notes, http).fetch(NOTES, page_size=5000, page_token=None)
    assert len(page.records) == 7 and page.next_token is None
    [asked] = _asked(notes, "/v1/folders/f1/notes")
    assert "limit=50" in asked and "offset=0" in asked


async def test_link_paging_follows_rel_next_on_the_providers_host_only(
    notes: notes_api.NotesState, http: aiohttp.ClientSession
) -> None:
    hub = _hub(notes, http)
    pages = await _all(hub, "/hubs/crm/folders", 1000)
    assert pages == [["f1", "f2"], ["f3"]]
    assert _asked(notes, "/v1/folders?") == ["/v1/folders?limit=2", "/v1/folders?limit=2&after=f2"]
    first = await hub.fetch("/hubs/crm/folders", page_size=2, page_token=None)
    assert first.next_token is not None
    forged = hub_tokens.encode(
        "notes:folders",
        0,
        None,
        hub_tokens.fingerprint("folders", {}, [], ()),
        cursor="http://elsewhere.example/steal",
    )
    with pytest.raises(errors.InputError) as refused:
        await hub.fetch("/hubs/crm/folders", page_size=2, page_token=forged)
    assert refused.value.problems == [("nextPage", "is not a page of this listing")]
    assert _asked(notes, "http://elsewhere") == [] and len(_asked(notes, "/v1/folders?")) == 3


async def test_where_terms_become_query_parameters_encoded_as_written(
    notes: notes_api.NotesState, http: aiohttp.ClientSession
) -> None:
    hub = _hub(notes, http)
    later = notes_api.now()
    fresh = notes.add("f1", {"title": "fresh"}, at=later)
    since = later.replace(microsecond=0).isoformat()  # 2026-…T…+00:00
    url = f"{NOTES}?where=updated_since%3D%27{since.replace('+', '%2B')}%27"
    page = await hub.fetch(url, page_size=10, page_token=None)
    assert [r["id"] for r in page.records] == [fresh]
    [asked] = _asked(notes, "/v1/folders/f1/notes")
    assert "updated_since=" + since.replace("+", "%2B").replace(":", "%3A") in asked

    with pytest.raises(errors.InputError) as unsupported:
        await hub.fetch(f"{NOTES}?where=title%3D%27x%27", page_size=10, page_token=None)
    assert unsupported.value.problems[0][0] == "where"
    assert "updated_since = '<value>'" in unsupported.value.problems[0][1]


async def test_a_page_token_belongs_to_its_query(
    notes: notes_api.NotesState, http: aiohttp.ClientSession
) -> None:
    hub = _hub(notes, http)
    first = await hub.fetch(NOTES, page_size=2, page_token=None)
    assert first.next_token is not None
    with pytest.raises(errors.InputError):
        await hub.fetch("/hubs/crm/folders/f2/notes", page_size=2, page_token=first.next_token)
    with pytest.raises(errors.InputError):
        await hub.fetch(NOTES, page_size=2, page_token="not-a-token")


async def test_fields_trim_the_records_when_the_provider_cannot(
    notes: notes_api.NotesState, http: aiohttp.ClientSession
) -> None:
    page = await _hub(notes, http).fetch(f"{NOTES}?fields=id", page_size=3, page_token=None)
    assert all(set(r) == {"id"} for r in page.records) and len(page.records) == 3
    with pytest.raises(errors.InputError) as unknown:
        await _hub(notes, http).fetch(f"{NOTES}?orderBy=id", page_size=3, page_token=None)
    assert unknown.value.problems[0][0] == "orderBy"


async def test_single_records_are_read_created_changed_and_deleted(
    notes: notes_api.NotesState, http: aiohttp.ClientSession
) -> None:
    hub = _hub(notes, http)
    created = await hub.create(NOTES, {"title": "New", "body": "text"})
    path = f"{NOTES}/{created['id']}"
    assert (await hub.read(path))["title"] == "New"
    patched = await hub.update(path, {"title": "Renamed"})
    assert (patched["title"], patched["body"]) == ("Renamed", "text")
    replaced = await hub.update(path, {"title": "Only"}, replace=True)
    assert replaced["title"] == "Only" and "body" not in replaced
    fetched = await hub.fetch(path, page_size=1, page_token=None)
    assert fetched.records == [await hub.read(path)] and fetched.next_token is None
    await hub.delete(path)
    with pytest.raises(errors.ProviderNotFound) as gone:
        await hub.read(path)
    assert gone.value.provider_message == f"no note {created['id']}"
    with pytest.raises(errors.ProviderRefusal) as refused:
        await hub.create(NOTES, {"body": "no title"})
    assert refused.value.provider_message == "a note needs a title"
    with pytest.raises(errors.InputError):
        await hub.create(NOTES, ["not", "an", "object"])
    with pytest.raises(errors.NotFoundError):
        await hub.read("/hubs/crm/elsewhere/1")


async def test_an_element_without_an_operation_has_no_such_record_call(
    notes: notes_api.NotesState, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(errors.NotFoundError) as missing:
        await _hub(notes, http).read("/hubs/crm/folders/f1")
    assert "no 'read' for folders" in missing.value.message


async def test_a_refused_token_is_refreshed_once(
    notes: notes_api.NotesState, http: aiohttp.ClientSession
) -> None:
    tokens = Tokens(notes, token="revoked")
    page = await _hub(notes, http, tokens=tokens).fetch(NOTES, page_size=2, page_token=None)
    assert len(page.records) == 2 and tokens.refreshes == 1

    notes.faults += [notes_api.Fault(401, {"error": {"message": "expired"}})] * 2
    with pytest.raises(errors.ProviderAuthExpired) as expired:
        await _hub(notes, http, tokens=tokens).fetch(NOTES, page_size=2, page_token=None)
    assert expired.value.provider_message == "expired" and tokens.refreshes == 2


async def test_rate_limits_are_waited_out_and_errors_quote_the_provider(
    notes: notes_api.NotesState, http: aiohttp.ClientSession
) -> None:
    hub = _hub(notes, http)
    notes.faults.append(notes_api.Fault(429, {"error": {"message": "slow"}}, {"Retry-After": "0"}))
    page = await hub.fetch(NOTES, page_size=2, page_token=None)
    assert len(page.records) == 2

    notes.faults.append(
        notes_api.Fault(429, {"error": {"message": "slow"}}, {"Retry-After": "600"})
    )
    with pytest.raises(errors.ProviderRateLimited) as limited:
        await hub.fetch(NOTES, page_size=2, page_token=None)
    assert limited.value.retry_after == 600.0
    assert hub.caller.connection.limiter.held_for() > 500, "every caller of the instance waits"

    hub = _hub(notes, http)
    notes.faults.append(notes_api.Fault(503, {"error": {"message": "down for upkeep"}}))
    with pytest.raises(errors.ProviderUnavailable) as down:
        await hub.fetch(NOTES, page_size=2, page_token=None)
    assert "down for upkeep" in down.value.message and down.value.http_status == 503

    notes.faults.append(notes_api.Fault(200, {"data": {"items": "nope"}}))
    with pytest.raises(errors.ProviderUnavailable) as malformed:
        await hub.fetch(NOTES, page_size=2, page_token=None)
    assert "'data.items' is not an array of objects" in malformed.value.message


async def test_an_unreachable_provider_is_unavailable(http: aiohttp.ClientSession) -> None:
    state = notes_api.NotesState(url="http://127.0.0.1:9")
    with pytest.raises(errors.ProviderUnavailable) as unreachable:
        await _hub(state, http).fetch(NOTES, page_size=2, page_token=None)
    assert "could not be reached" in unreachable.value.message


async def test_child_count_reads_the_declared_field(
    notes: notes_api.NotesState, http: aiohttp.ClientSession
) -> None:
    hub = _hub(notes, http)
    folders = (await hub.fetch("/hubs/crm/folders", page_size=2, page_token=None)).records
    assert [hub.child_count("/hubs/crm/folders", f) for f in folders] == [7, 7]
    assert hub.child_count(NOTES, {"noteCount": 3}) is None
    assert hub.child_count("/hubs/crm/folders", {"noteCount": "3"}) is None


async def test_the_code_exchange_discovers_the_accounts_api_host(
    notes: notes_api.NotesState, http: aiohttp.ClientSession
) -> None:
    catalog = registry.build(
        {"HEADWATER_NOTES_LOGIN_URL": notes.url}, extra_paths=[DECLARATION.parent]
    )
    element = catalog.get("notes")
    notes.codes.add("c1")
    grant = await element.exchange_code(
        http,
        code="c1",
        client_id=notes_api.CLIENT_ID,
        client_secret=notes_api.CLIENT_SECRET,
        redirect_uri="https://app.example.com/callback",
    )
    assert grant.access_token in notes.tokens
    assert grant.account == {"base_url": notes.url + "/v1"}
    assert isinstance(element.hub(_connection(http, notes)), declared_hub.DeclaredHub)


def _connection(http: aiohttp.ClientSession, notes: notes_api.NotesState) -> base.Connection:
    return base.Connection(
        http=http,
        tokens=Tokens(notes),
        limiter=limits.RateLimiter(1000),
        timeout=5.0,
        base_url=notes.url + "/v1",
    )


@pytest.mark.parametrize(
    "api_key",
    [{"in": "header", "name": "X-Api-Key"}, {"in": "query", "name": "api_key"}],
    ids=["header", "query"],
)
async def test_an_api_key_is_sent_where_declared_and_never_refreshed(
    notes: notes_api.NotesState, http: aiohttp.ClientSession, api_key: dict[str, str]
) -> None:
    declared = _declared({"type": "apiKey", "apiKey": api_key})
    key = api_keys.StoredKey(notes.issue_token())
    page = await _hub(notes, http, declared, key).fetch(NOTES, page_size=2, page_token=None)
    assert len(page.records) == 2
    [(_, asked)] = [r for r in notes.requests if r[1].startswith("/v1/folders/f1/notes")]
    assert ("api_key=" in asked) == (api_key["in"] == "query")

    refused = _hub(notes, http, declared, api_keys.StoredKey("wrong"))
    with pytest.raises(errors.ProviderRefusal) as wrong:
        await refused.fetch(NOTES, page_size=2, page_token=None)
    assert wrong.value.http_status == 401
    assert wrong.value.provider_message == "invalid or expired access token"
    with pytest.raises(errors.ProviderRefusal):
        await _hub(notes, http, declared, api_keys.StoredKey("")).fetch(
            NOTES, page_size=2, page_token=None
        )


async def test_calls_in_flight_are_bounded_per_instance(
    notes: notes_api.NotesState, http: aiohttp.ClientSession
) -> None:
    declared = dataclasses.replace(_declared(), max_in_flight=2)
    notes.delay = 0.05
    shared = _hub(notes, http, declared)
    # hubs are built per call; what bounds them is the instance's limiter they share
    hubs = [declared_hub.DeclaredHub(declared, shared.caller.connection) for _ in range(6)]
    pages = await asyncio.gather(*(hub.fetch(NOTES, page_size=1, page_token=None) for hub in hubs))
    assert all(len(p.records) == 1 for p in pages)
    assert notes.most_in_flight == 2

"""The marketing hub over HTTP: the real server on both databases, real OAuth, the sandbox."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest

from tests.api_fixtures import FAST_ACTON, RunningApi

# the client-side limit (5 calls per second per instance) has tests of its own
pytestmark = pytest.mark.api(element_settings=FAST_ACTON)

LIST = "l-0001"
CONTACTS = f"hubs/marketing/lists/{LIST}/contacts"
NEXT = "Elements-Next-Page-Token"


async def _element_auth(api: RunningApi) -> str:
    user = await api.create_user()
    instance = await api.create_instance(auth=user)
    return f"{user}, Element {instance['token']}"


def _oracle(api: RunningApi) -> list[dict[str, Any]]:
    lists: list[dict[str, Any]] = api.sandbox.state.store.snapshot()["lists"]  # type: ignore[assignment]
    return next(found["contacts"] for found in lists if found["id"] == LIST)


async def test_lists_and_contacts_paged_filtered_and_changed(api: RunningApi) -> None:
    auth = await _element_auth(api)

    lists = await api.call("GET", "hubs/marketing/lists", auth=auth)
    assert lists.status == 200, lists.text
    assert [item["id"] for item in lists.json] == ["l-0001", "l-0002", "l-0003"]
    assert set(lists.json[0]) == {"id", "name", "folderName", "size", "tsLastModified"}

    expected = _oracle(api)
    seen: list[dict[str, Any]] = []
    query = "pageSize=10"
    pages = 0
    while True:
        page = await api.call("GET", f"{CONTACTS}?{query}", auth=auth)
        assert page.status == 200, page.text
        seen += page.json
        pages += 1
        headers = {name.lower(): value for name, value in page.headers.items()}
        if NEXT.lower() not in headers:
            break
        query = f"pageSize=10&nextPage={headers[NEXT.lower()]}"
    assert pages == 3
    assert [c["_contact_id_"] for c in seen] == [c["id"] for c in expected]
    assert seen[0]["__modified_date"] == expected[0]["modifiedMs"]

    bound = sorted(c["modifiedMs"] for c in expected)[20]
    where = urllib.parse.quote(f"modafter='{bound}'")
    changed = await api.call("GET", f"{CONTACTS}?where={where}", auth=auth)
    assert changed.status == 200, changed.text
    assert sorted(c["_contact_id_"] for c in changed.json) == sorted(
        c["id"] for c in expected if c["modifiedMs"] > bound
    )

    created = await api.call("POST", CONTACTS, auth=auth, json={"First Name": "Ada"})
    assert created.status == 200, created.text
    contact = f"{CONTACTS}/{created.json['_contact_id_']}"
    patched = await api.call("PATCH", contact, auth=auth, json={"Last Name": "Lovelace"})
    assert (patched.json["First Name"], patched.json["Last Name"]) == ("Ada", "Lovelace")
    replaced = await api.call("PUT", contact, auth=auth, json={"First Name": "Augusta"})
    assert (replaced.json["First Name"], replaced.json["Last Name"]) == ("Augusta", "")
    assert (await api.call("GET", contact, auth=auth)).json == replaced.json
    deleted = await api.call("DELETE", contact, auth=auth)
    assert (deleted.status, deleted.text) == (200, "")
    gone = await api.call("GET", contact, auth=auth)
    assert gone.status == 404 and gone.json["providerMessage"] == "Invalid contact"


async def test_errors_name_what_is_wrong(api: RunningApi) -> None:
    auth = await _element_auth(api)
    user = auth.rsplit(", Element", 1)[0]

    missing = await api.call("GET", "hubs/marketing/lists", auth=user)
    wrong = await api.call("GET", "hubs/marketing/lists", auth=f"{user}, Element nope")
    assert (missing.status, wrong.status) == (401, 401)
    assert "Element token" in missing.json["message"]

    unknown = await api.call("GET", "hubs/marketing/lists/l-9999/contacts", auth=auth)
    assert unknown.status == 404
    assert unknown.json["providerMessage"] == "Invalid or missing list"

    where = urllib.parse.quote("modafter='1' or modbefore='2'")
    bad = await api.call("GET", f"{CONTACTS}?where={where}", auth=auth)
    assert bad.status == 400
    assert bad.json["errors"][0]["field"] == "where"
    assert "OR at position 13 is not supported" in bad.json["errors"][0]["problem"]
    assert "joined by AND" in bad.json["message"]

    token = await api.call("GET", f"{CONTACTS}?nextPage=bm9wZQ", auth=auth)
    assert token.status == 400 and token.json["errors"][0]["field"] == "nextPage"

    column = await api.call("POST", CONTACTS, auth=auth, json={"Shoe Size": "42"})
    assert column.status == 422 and column.json["providerMessage"] == "Invalid Column Specified"

    api.sandbox.state.faults.add({"kind": "status", "status": 503, "path": "/api/1/list/"})
    fault = await api.call("GET", CONTACTS, auth=auth)
    assert fault.status == 502
    assert fault.json["message"] == (
        "Act-On failed with HTTP 503 on GET /api/1/list/l-0001: Server Error"
    )


async def test_tokens_are_refreshed_once_and_a_revoked_one_is_reported(api: RunningApi) -> None:
    auth = await _element_auth(api)
    api.sandbox.state.tokens.expire_access()
    refreshed = await api.call("GET", "hubs/marketing/lists", auth=auth)
    assert refreshed.status == 200, refreshed.text
    assert api.sandbox.state.counters()["grants"].get("refresh_token") == 1

    api.sandbox.state.tokens.expire_access()
    api.sandbox.state.tokens.revoke_refresh()
    revoked = await api.call("GET", "hubs/marketing/lists", auth=auth)
    assert revoked.status == 422, revoked.text
    assert "invalid refresh token" in revoked.json["providerMessage"].lower()
    later = await api.call("GET", "hubs/marketing/lists", auth=auth)
    assert later.status == 422 and "re-authenticated" in later.json["message"]

"""An element declared only as data (``tests/elements/notes``), end to end: loaded from
``HEADWATER_ELEMENTS_PATH``, connected through its OAuth flow with ``POST /instances``, polled,
and its changes delivered to the receiver as CREATED, then UPDATED."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headwater.sandbox import serving
from tests import delivery_support as support
from tests import notes_api
from tests.api_fixtures import CALLBACK_URL, RunningApi, api_settings, running_api
from tests.sandbox_fixtures import ActonSandbox, Receiver

ELEMENTS = Path(__file__).resolve().parents[1] / "elements"


@pytest.fixture
def notes() -> Iterator[notes_api.NotesState]:
    state = notes_api.NotesState()
    state.seed(folders=3, notes=2)
    server = serving.BackgroundServer(notes_api.build_app(state))
    state.url = server.start()
    yield state
    server.stop()


async def _code(api: RunningApi, auth: str) -> str:
    """The element's OAuth URL, followed as a browser would, to the code on the redirect."""
    reply = await api.call(
        "GET",
        "elements/notes/oauth/url",
        auth=auth,
        params={
            "apiKey": notes_api.CLIENT_ID,
            "apiSecret": notes_api.CLIENT_SECRET,
            "callbackUrl": CALLBACK_URL,
            "state": "n1",
        },
    )
    assert reply.status == 200, reply.text
    async with api.http.get(reply.json["oauthUrl"], allow_redirects=False) as page:
        assert page.status == 302
        location = urllib.parse.urlsplit(page.headers["Location"])
    query = dict(urllib.parse.parse_qsl(location.query))
    assert query["state"] == "n1"
    return query["code"]


def _events(arrivals: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (e["objectType"], e["objectId"], e["eventType"])
        for a in arrivals
        if a["verified"] and a["json"]
        for e in a["json"]["message"]["events"]
    ]


async def test_a_declared_element_is_polled_and_its_changes_delivered(
    db_url: str,
    acton_sandbox: ActonSandbox,
    receiver: Receiver,
    notes: notes_api.NotesState,
    tmp_path: Path,
) -> None:
    settings = api_settings(
        db_url,
        acton_sandbox,
        tmp_path / "data",
        elements_path=(ELEMENTS,),
        tick_seconds=0.05,
        element_settings={
            "HEADWATER_NOTES_BASE_URL": notes.url + "/v1",
            "HEADWATER_NOTES_LOGIN_URL": notes.url,
        },
    )
    async with running_api(settings, acton_sandbox, loops=True) as api:
        auth = await api.create_user()
        described = (await api.call("GET", "elements/notes", auth=auth)).json
        assert described["hub"] == "crm"
        assert described["resources"] == ["folders", "notes"]

        body = {
            "element": {"key": "notes"},
            "providerData": {"code": await _code(api, auth)},
            "configuration": {
                "oauth.api.key": notes_api.CLIENT_ID,
                "oauth.api.secret": notes_api.CLIENT_SECRET,
                "oauth.callback.url": CALLBACK_URL,
                "event.notification.enabled": True,
                "event.vendor.type": "polling",
                "event.poller.refresh_interval": "15",
                "event.notification.callback.url": receiver.url,
                "event.notification.signature.key": receiver.secret,
                # what the element declares, as a client reads it from GET /elements/notes
                "event.poller.configuration": described["events"]["defaultPollerConfiguration"],
            },
            "name": "notes, polled",
        }
        created = await api.call("POST", "instances", auth=auth, json=body)
        assert created.status == 200, created.text
        iid = created.json["id"]

        async def ran_once() -> bool:
            [poller] = (await api.call("GET", f"instances/{iid}/pollers", auth=auth)).json
            assert poller["lastError"] is None, poller
            return poller["lastRunDate"] is not None and poller["lastEventCount"] == 0

        await support.eventually(ran_once, what="the first poll")
        before = len(notes.requests)

        note = notes.add("f2", {"title": "Call Ada"})
        reply = await api.call("POST", f"instances/{iid}/pollers/notes/run", auth=auth)
        assert reply.status == 202, reply.text
        arrived = await receiver.wait_for(lambda a: len(_events(a)) >= 1, timeout=20)
        assert _events(arrived) == [("notes", note, "CREATED")]
        first = next(a for a in arrived if a["verified"])
        assert first["json"]["message"]["elementKey"] == "notes"
        assert first["json"]["message"]["events"][0]["hubKey"] == "crm"

        notes.change(note, {"title": "Call Ada at noon"})
        reply = await api.call("POST", f"instances/{iid}/pollers/notes/run", auth=auth)
        assert reply.status == 202, reply.text
        arrived = await receiver.wait_for(lambda a: len(_events(a)) >= 2, timeout=20)
        assert _events(arrived) == [("notes", note, "CREATED"), ("notes", note, "UPDATED")]
        updated = [a for a in arrived if a["verified"]][-1]["json"]["message"]
        assert updated["events"][0]["objectId"] == note

    # what the provider was asked: folders through their Link pages, notes filtered by a date
    # whose offset arrived intact, never as a space
    asked = [path for method, path in notes.requests[before:] if method == "GET"]
    listed = [p for p in asked if p.startswith("/v1/folders/f2/notes?")]
    assert listed, asked
    query = urllib.parse.urlsplit(listed[-1]).query
    assert "updated_since=" in query and "%2B00%3A00" in query, query
    assert "/v1/folders?limit=2&after=f2" in asked


async def test_an_element_reached_with_an_api_key_needs_no_oauth(
    db_url: str,
    acton_sandbox: ActonSandbox,
    receiver: Receiver,
    notes: notes_api.NotesState,
    tmp_path: Path,
) -> None:
    settings = api_settings(
        db_url,
        acton_sandbox,
        tmp_path / "data",
        elements_path=(ELEMENTS,),
        tick_seconds=0.05,
        element_settings={"HEADWATER_NOTESKEY_BASE_URL": notes.url + "/v1"},
    )
    key = notes.issue_token()
    async with running_api(settings, acton_sandbox, loops=True) as api:
        auth = await api.create_user()
        described = (await api.call("GET", "elements/noteskey", auth=auth)).json
        configuration = {
            "event.notification.enabled": True,
            "event.poller.refresh_interval": "15",
            "event.notification.callback.url": receiver.url,
            "event.notification.signature.key": receiver.secret,
            "event.poller.configuration": described["events"]["defaultPollerConfiguration"],
        }
        body = {"element": {"key": "noteskey"}, "configuration": configuration, "name": "keyed"}
        missing = await api.call("POST", "instances", auth=auth, json=body)
        assert missing.status == 400
        assert missing.json["errors"] == [
            {"field": "configuration.notes.api.key", "problem": "required: the API key"}
        ]

        body["configuration"] = {**configuration, "notes.api.key": key}
        created = await api.call("POST", "instances", auth=auth, json=body)
        assert created.status == 200, created.text
        iid = created.json["id"]
        assert created.json["configuration"]["notes.api.key"] == "********"

        async def ran_once() -> bool:
            [poller] = (await api.call("GET", f"instances/{iid}/pollers", auth=auth)).json
            assert poller["lastError"] is None, poller
            return poller["lastRunDate"] is not None

        await support.eventually(ran_once, what="the first poll")
        note = notes.add("f1", {"title": "Keyed"})
        reply = await api.call("POST", f"instances/{iid}/pollers/notes/run", auth=auth)
        assert reply.status == 202, reply.text
        arrived = await receiver.wait_for(lambda a: len(_events(a)) >= 1, timeout=20)
        assert _events(arrived) == [("notes", note, "CREATED")]

        # a key the provider refuses: the poll fails saying so
        changed = await api.call(
            "PATCH",
            f"instances/{iid}/configuration",
            auth=auth,
            json={"notes.api.key": "not-a-key"},
        )
        assert changed.status == 200, changed.text
        reply = await api.call("POST", f"instances/{iid}/pollers/notes/run", auth=auth)
        assert reply.status == 202, reply.text

        async def refused() -> bool:
            [poller] = (await api.call("GET", f"instances/{iid}/pollers", auth=auth)).json
            return "API key" in (poller["lastError"] or "")

        await support.eventually(refused, what="the refused key recorded on the poller")

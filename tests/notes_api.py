"""A small notes API for the ``notes`` test element (``tests/elements/notes``), declared only as
data: OAuth 2 on a login host, folders and their notes, each paging its own way.

- ``GET /oauth/authorize`` approves at once: 302 to ``redirect_uri`` with ``code`` and ``state``.
- ``POST /oauth/token``: ``authorization_code`` and ``refresh_token`` grants (form bodies).
- ``GET /oauth/metadata`` with ``Authorization: OAuth <token>`` → ``{"api_endpoint": <url>}``.
- ``GET /v1/folders``: a JSON array, ``limit`` and ``after``, the next page in a ``Link`` header;
  each folder says its ``noteCount``.
- ``GET /v1/folders/{folderId}/notes`` → ``{"data": {"items": […], "total": n}, "next_cursor"}``
  in ``updated_at`` order, filtered by ``updated_since`` (ISO-8601; an unreadable one is a 400),
  paged by ``offset``/``limit``, by ``page``/``per_page`` or by ``cursor``/``limit``.
- ``GET|PATCH|PUT|DELETE /v1/folders/{folderId}/notes/{id}``, ``POST /v1/folders/{folderId}/notes``.

Every ``/v1`` call needs ``Authorization: Bearer <token>`` (or the token as an API key, in
``X-Api-Key`` or the ``api_key`` query parameter). ``requests`` records each call's
method and raw path and query; ``faults`` holds answers to give instead of the next ones;
``delay`` slows each answer down and ``most_in_flight`` says how many were ever served at once.
Runs on a thread of its own (:class:`headwater.sandbox.serving.BackgroundServer`); ``lock``
guards the data, which tests change directly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import itertools
import json
import secrets
import threading
import urllib.parse
from typing import Any

from aiohttp import web

CLIENT_ID = "notes-client"
CLIENT_SECRET = "notes-secret"
MAX_LIMIT = 50


@dataclasses.dataclass
class Fault:
    status: int
    body: Any = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class NotesState:
    """The data and the record of what was asked."""

    folders: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    notes: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    codes: set[str] = dataclasses.field(default_factory=set)
    tokens: set[str] = dataclasses.field(default_factory=set)
    refresh_tokens: set[str] = dataclasses.field(default_factory=set)
    requests: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    faults: list[Fault] = dataclasses.field(default_factory=list)
    url: str = ""
    delay: float = 0.0  # seconds each /v1 answer takes
    in_flight: int = 0
    most_in_flight: int = 0
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    _ids: itertools.count[int] = dataclasses.field(default_factory=lambda: itertools.count(1))

    def seed(self, folders: int = 3, notes: int = 2, at: dt.datetime | None = None) -> None:
        """``folders`` folders of ``notes`` notes each, written at ``at`` (two hours ago)."""
        at = at or now() - dt.timedelta(hours=2)
        for f in range(1, folders + 1):
            self.folders.append({"id": f"f{f}", "name": f"Folder {f}"})
            for _ in range(notes):
                self.add(f"f{f}", {"title": "seeded"}, at=at)

    def add(self, folder: str, values: dict[str, Any], at: dt.datetime | None = None) -> str:
        """A new note in ``folder``; returns its id."""
        stamp = iso(at or now())
        with self.lock:
            note_id = f"n{next(self._ids)}"
            self.notes[note_id] = {
                **values,
                "id": note_id,
                "folderId": folder,
                "created_at": stamp,
                "updated_at": stamp,
            }
        return note_id

    def change(self, note_id: str, values: dict[str, Any]) -> None:
        with self.lock:
            self.notes[note_id].update(values, updated_at=iso(now()))

    def issue_token(self) -> str:
        token = secrets.token_hex(8)
        self.tokens.add(token)
        return token


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(at: dt.datetime) -> str:
    return at.isoformat(timespec="milliseconds")


def build_app(state: NotesState) -> web.Application:
    """The aiohttp application serving ``state``."""

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        state.requests.append((request.method, request.raw_path))
        if request.path.startswith("/v1/"):
            with state.lock:
                fault = state.faults.pop(0) if state.faults else None
            if fault is not None:
                return _json(fault.body, fault.status, fault.headers)
            auth = request.headers.get("Authorization", "")
            presented = (
                request.headers.get("X-Api-Key")
                or request.query.get("api_key")
                or (auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None)
            )
            if presented not in state.tokens:
                return _error(401, "invalid or expired access token")
        with state.lock:
            state.in_flight += 1
            state.most_in_flight = max(state.most_in_flight, state.in_flight)
        try:
            if state.delay and request.path.startswith("/v1/"):
                await asyncio.sleep(state.delay)
            result: web.StreamResponse = await handler(request)
        finally:
            with state.lock:
                state.in_flight -= 1
        return result

    async def authorize(request: web.Request) -> web.Response:
        query = request.query
        if query.get("client_id") != CLIENT_ID:
            return _error(400, "unknown client_id")
        code = secrets.token_hex(6)
        state.codes.add(code)
        target = f"{query['redirect_uri']}?" + urllib.parse.urlencode(
            {"code": code, "state": query.get("state", "")}
        )
        raise web.HTTPFound(target)

    async def token(request: web.Request) -> web.Response:
        form = await request.post()
        if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            return _json({"error": "invalid_client"}, 401)
        grant = form.get("grant_type")
        if grant == "authorization_code" and form.get("code") in state.codes:
            state.codes.discard(str(form["code"]))
        elif grant == "refresh_token" and form.get("refresh_token") in state.refresh_tokens:
            state.refresh_tokens.discard(str(form["refresh_token"]))
        else:
            return _json({"error": "invalid_grant", "error_description": "unknown code"}, 400)
        refresh = secrets.token_hex(8)
        state.refresh_tokens.add(refresh)
        body = {"access_token": state.issue_token(), "refresh_token": refresh, "expires_in": 3600}
        return _json(body)

    async def metadata(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        if auth.removeprefix("OAuth ") not in state.tokens:
            return _error(401, "invalid token")
        return _json({"api_endpoint": state.url, "accountname": "notes"})

    async def folders(request: web.Request) -> web.Response:
        limit = _int(request.query.get("limit", "10"))
        after = request.query.get("after")
        with state.lock:
            listed = [{**f, "noteCount": _count(state, f["id"])} for f in state.folders]
        start = next((i + 1 for i, f in enumerate(listed) if f["id"] == after), 0)
        page = listed[start : start + limit]
        headers = {}
        if start + limit < len(listed):
            link = f"/v1/folders?limit={limit}&after={page[-1]['id']}"
            headers["Link"] = f'<{link}>; rel="next", </v1/folders?limit={limit}>; rel="first"'
        return _json(page, headers=headers)

    async def notes(request: web.Request) -> web.Response:
        folder = request.match_info["folder"]
        query = request.query
        since = query.get("updated_since")
        try:
            floor = dt.datetime.fromisoformat(since) if since is not None else None
        except ValueError:
            return _error(400, f"updated_since is not an ISO-8601 date: {since!r}")
        with state.lock:
            if folder not in {f["id"] for f in state.folders}:
                return _error(404, f"no folder {folder}")
            found = sorted(
                (n for n in state.notes.values() if n["folderId"] == folder),
                key=lambda n: (n["updated_at"], n["id"]),
            )
        if floor is not None:
            found = [n for n in found if dt.datetime.fromisoformat(n["updated_at"]) >= floor]
        size = _int(query.get("limit", query.get("per_page", "10")))
        if size > MAX_LIMIT:
            return _error(400, f"limit must be at most {MAX_LIMIT}")
        if "page" in query:
            start = (_int(query["page"]) - 1) * size
        elif "cursor" in query:
            start = _int(query["cursor"])
        else:
            start = _int(query.get("offset", "0"))
        page = found[start : start + size]
        following = start + size if start + size < len(found) else None
        body = {
            "data": {"items": page, "total": len(found)},
            "next_cursor": None if following is None else str(following),
        }
        return _json(body)

    async def one(request: web.Request) -> web.Response:
        note_id = request.match_info["id"]
        with state.lock:
            note = state.notes.get(note_id)
            if note is None or note["folderId"] != request.match_info["folder"]:
                return _error(404, f"no note {note_id}")
            if request.method == "DELETE":
                del state.notes[note_id]
                return web.Response(status=204)
        if request.method in ("PATCH", "PUT"):
            values = await request.json()
            with state.lock:
                if request.method == "PUT":
                    keep = {k: note[k] for k in ("id", "folderId", "created_at")}
                    note.clear()
                    note.update(keep)
                note.update(values, updated_at=iso(now()))
        return _json(dict(note))

    async def create(request: web.Request) -> web.Response:
        values = await request.json()
        if not isinstance(values, dict) or "title" not in values:
            return _error(422, "a note needs a title")
        note_id = state.add(request.match_info["folder"], values)
        return _json(state.notes[note_id], 201)

    app = web.Application(middlewares=[record])
    app.add_routes(
        [
            web.get("/oauth/authorize", authorize),
            web.post("/oauth/token", token),
            web.get("/oauth/metadata", metadata),
            web.get("/v1/folders", folders),
            web.get("/v1/folders/{folder}/notes", notes),
            web.post("/v1/folders/{folder}/notes", create),
            web.route("*", "/v1/folders/{folder}/notes/{id}", one),
        ]
    )
    return app


def _count(state: NotesState, folder: str) -> int:
    return sum(1 for n in state.notes.values() if n["folderId"] == folder)


def _int(raw: str) -> int:
    try:
        return max(0, int(raw))
    except ValueError:
        raise web.HTTPBadRequest(text=f"not a number: {raw!r}") from None


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(body), status=status, headers=headers, content_type="application/json"
    )


def _error(status: int, message: str) -> web.Response:
    return _json({"error": {"message": message}}, status)

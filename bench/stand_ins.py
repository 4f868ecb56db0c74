"""Fast local stand-ins for the benchmarks: an Act-On provider and a callback receiver.

Each runs in a process of its own (``python bench/stand_ins.py provider|receiver --port P``) and
answers from memory, so that it is never what limits a benchmark. Both are driven through
``/_bench/…`` routes.

The provider speaks just enough Act-On for the Act-On element: ``POST /token`` (the
``authorization_code`` and ``refresh_token`` grants), ``GET /api/1/list`` (one contact list per
account) and ``GET /api/1/list/{listId}`` (the list download with ``modafter``, ``fields``,
``datequalifiers``, ``offset`` and ``count``). Every code from ``GET /_bench/code`` opens an
account of its own, so each instance reads its own list. ``POST /_bench/config`` sets
``changes`` (rows changed before each dated download, i.e. each poll) and ``first_changes``
(rows changed before an account's first dated download only); ``POST /_bench/touch`` changes one
new row of one account now and answers its id and the wall-clock time of the change.

The receiver answers every other POST with 200. ``POST /_bench/hold`` makes it keep the requests
that arrive until ``POST /_bench/release``; ``GET /_bench/arrivals`` gives the wall-clock arrival
time of each event's ``objectId``; ``GET /_bench/sample`` one notification exactly as it arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time

from aiohttp import web

LIST_ID = "l-0001"
BASE_ROWS = 5
OLD_MS = 1_600_000_000_000  # the date of the rows nobody changed
EMAIL = "E-mail Address"
HEADINGS = [EMAIL, "First Name", "Last Name"]


class Account:
    def __init__(self) -> None:
        # row number -> (created ms, modified ms, version)
        self.rows: dict[int, tuple[int, int, int]] = {
            n: (OLD_MS, OLD_MS, 0) for n in range(1, BASE_ROWS + 1)
        }
        self.dated_downloads = 0

    def touch(self, numbers: range | list[int], now_ms: int) -> None:
        for n in numbers:
            created, _, version = self.rows.get(n, (now_ms, 0, 0))
            self.rows[n] = (created, now_ms, version + 1)


class Provider:
    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.codes: dict[str, str] = {}
        self.tokens: dict[str, str] = {}  # access or refresh token -> account
        self.counter = itertools.count(1)
        self.changes = 0
        self.first_changes = 0
        self.calls = {"token": 0, "lists": 0, "download": 0, "dated_download": 0}

    def account(self, request: web.Request) -> Account | None:
        header = request.headers.get("Authorization", "")
        name = self.tokens.get(header.removeprefix("Bearer "))
        return None if name is None else self.accounts[name]

    async def code(self, request: web.Request) -> web.Response:
        name = f"acct-{next(self.counter)}"
        self.accounts[name] = Account()
        code = f"code-{name}"
        self.codes[code] = name
        return web.json_response({"code": code, "account": name})

    async def token(self, request: web.Request) -> web.Response:
        self.calls["token"] += 1
        form = await request.post()
        if form.get("grant_type") == "authorization_code":
            name = self.codes.pop(str(form.get("code")), None)
        else:
            name = self.tokens.get(str(form.get("refresh_token")))
        if name is None:
            return web.json_response({"error": "invalid_grant"}, status=403)
        n = next(self.counter)
        access, refresh = f"at-{name}-{n}", f"rt-{name}-{n}"
        self.tokens[access] = self.tokens[refresh] = name
        return web.json_response(
            {
                "access_token": access,
                "refresh_token": refresh,
                "token_type": "Bearer",
                "expires_in": 86400,
            }
        )

    async def lists(self, request: web.Request) -> web.Response:
        self.calls["lists"] += 1
        found = self.account(request)
        if found is None:
            return web.json_response({"message": "unauthorized"}, status=401)
        summary = {
            "id": LIST_ID,
            "name": "Bench",
            "folderName": "Bench",
            "sourceSize": str(len(found.rows)),
            "tsLastModified": OLD_MS,
        }
        return web.json_response({"offset": 0, "count": 1, "totalCount": 1, "result": [summary]})

    async def download(self, request: web.Request) -> web.Response:
        self.calls["download"] += 1
        found = self.account(request)
        if found is None:
            return web.json_response({"message": "unauthorized"}, status=401)
        query = request.query
        modafter = int(query["modafter"]) if "modafter" in query else None
        now_ms = int(time.time() * 1000)
        if modafter is not None:
            self.calls["dated_download"] += 1
            found.dated_downloads += 1
            many = self.first_changes if found.dated_downloads == 1 else self.changes
            if many:
                found.touch(range(1, many + 1), now_ms)
        fields = [f for f in query.get("fields", "").split(";") if f and f != "_contact_id_"]
        columns = fields or HEADINGS
        qualifiers = query.get("datequalifiers", "").lower() == "true"
        headers = ["_contact_id_", *columns] + (
            ["__created_date", "__modified_date"] if qualifiers else []
        )
        rows = []
        for n, (created, modified, version) in sorted(found.rows.items()):
            if modafter is not None and modified < modafter:
                continue
            cells = {
                "E-mail Address": f"c{n}@example.com",
                "First Name": f"First{n}",
                "Last Name": f"Version{version}",
            }
            row = [f"{LIST_ID}:{n}", *(cells.get(c, "") for c in columns)]
            if qualifiers:
                row += [str(created), str(modified)]
            rows.append(row)
        offset = int(query.get("offset", "0"))
        count = int(query.get("count", "1000"))
        page = rows[offset : offset + count]
        return web.json_response(
            {
                "listId": LIST_ID,
                "offset": offset,
                "count": len(page),
                "totalCount": len(rows),
                "emailColumn": headers.index(EMAIL) if EMAIL in headers else -1,
                "headers": headers,
                "data": page,
            }
        )

    async def config(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.changes = int(body.get("changes", self.changes))
        self.first_changes = int(body.get("first_changes", self.first_changes))
        return web.json_response({"changes": self.changes, "first_changes": self.first_changes})

    async def touch(self, request: web.Request) -> web.Response:
        body = await request.json()
        found = self.accounts[body["account"]]
        n = 1000 + next(self.counter)  # unique across accounts, so arrivals can be told apart
        at = time.time()
        found.touch([n], int(at * 1000))
        return web.json_response({"objectId": f"{LIST_ID}:{n}", "at": at})

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response({"calls": self.calls, "accounts": len(self.accounts)})

    def app(self) -> web.Application:
        app = web.Application()
        app.add_routes(
            [
                web.get("/_bench/code", self.code),
                web.post("/_bench/config", self.config),
                web.post("/_bench/touch", self.touch),
                web.get("/_bench/stats", self.stats),
                web.post("/token", self.token),
                web.get("/api/1/list", self.lists),
                web.get("/api/1/list/{listid}", self.download),
            ]
        )
        return app


class Receiver:
    def __init__(self) -> None:
        self.posts = 0
        self.held = 0
        self.release = asyncio.Event()
        self.release.set()
        self.record = False
        self.arrivals: dict[str, float] = {}
        self.sample: dict[str, object] | None = None

    async def hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not self.release.is_set():
            self.held += 1
            try:
                await self.release.wait()
            finally:
                self.held -= 1
        self.posts += 1
        if self.record:
            at = time.time()
            for event in json.loads(body).get("message", {}).get("events", []):
                self.arrivals.setdefault(str(event.get("objectId")), at)
        if self.sample is None:
            self.sample = {
                "path": request.path,
                "body": body.decode(),
                "headers": {k: v for k, v in request.headers.items() if k.lower() != "host"},
            }
        return web.Response(text="ok")

    async def control(self, request: web.Request) -> web.Response:
        action = request.match_info["action"]
        if action == "hold":
            self.release.clear()
        elif action == "release":
            self.release.set()
        elif action == "record":
            self.record, self.arrivals = True, {}
        return web.json_response({"ok": True})

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response({"posts": self.posts, "held": self.held})

    async def get_arrivals(self, request: web.Request) -> web.Response:
        return web.json_response(self.arrivals)

    async def get_sample(self, request: web.Request) -> web.Response:
        return web.json_response(self.sample)

    def app(self) -> web.Application:
        app = web.Application()
        app.add_routes(
            [
                web.get("/_bench/stats", self.stats),
                web.get("/_bench/arrivals", self.get_arrivals),
                web.get("/_bench/sample", self.get_sample),
                web.post("/_bench/{action}", self.control),
                web.post("/{tail:.*}", self.hook),
            ]
        )
        return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=["provider", "receiver"])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = Provider().app() if args.role == "provider" else Receiver().app()
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()

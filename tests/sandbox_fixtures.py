"""Fixtures that start the local Act-On sandbox and the callback receiver on free loopback ports.

Each runs on a thread of its own, so it answers whatever the test does meanwhile (await, block, or
run a subprocess). Both are function-scoped and fresh for every test.

``acton_sandbox`` → ``ActonSandbox``: ``.url``, ``.client_id``, ``.client_secret``, ``.state``
(the live ``SandboxState``: ``.store``, ``.clock``, ``.tokens``, ``.faults``, ``.hooks``,
``.limits``, ``.batch(ops)``, ``.counters()``), and
``authorize_code(redirect_uri, state="s", username=None) -> str`` (the real approve flow over HTTP),
``token(username=None) -> dict`` (a password grant), ``admin(method, path, body=None)`` (a call to
``/_admin``). Options go in a marker, e.g.
``@pytest.mark.acton_sandbox(token_ttl=2, lists=1, contacts=5, seed=7, rate_per_second=5)``
(any ``SandboxState`` keyword); ``acton_sandbox_factory(**options)`` starts more.

``receiver`` → ``Receiver``: ``.url`` (its ``/events`` endpoint), ``.base_url``, ``.secret``,
``.arrivals`` (live list of dicts), ``.delivered`` (arrivals answered 2xx and received),
``set_failures(pattern)``, ``clear()``, ``await wait_for(predicate, timeout=10)`` (predicate of
the arrivals list; returns them). Options: ``@pytest.mark.receiver(secret="…", fail="500,ok")``;
``receiver_factory(...)`` starts more.
"""

from __future__ import annotations

import asyncio
import html.parser
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from headwater.domain import signing
from headwater.sandbox import acton, serving
from headwater.sandbox import receiver as receiver_module


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "acton_sandbox(**options): SandboxState options for the acton_sandbox fixture"
    )
    config.addinivalue_line("markers", "receiver(secret=, fail=): options for the receiver fixture")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


class _FormParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = found.get("action", "")
        elif tag == "input" and "name" in found:
            self.fields[found["name"]] = found.get("value", "")


def _call(
    url: str, method: str = "GET", data: bytes | None = None, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with _opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@dataclass
class ActonSandbox:
    """A running sandbox and helpers that use it as a client would."""

    url: str
    client_id: str
    client_secret: str
    state: acton.SandboxState

    def authorize_code(
        self, redirect_uri: str, state: str = "s", username: str | None = None
    ) -> str:
        """Opens the authorize page, presses Approve and returns the code from the redirect."""
        query = urllib.parse.urlencode(
            {
                "scope": "PRODUCTION",
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "state": state,
            }
        )
        status, _, page = _call(f"{self.url}/authorize?{query}")
        assert status == 200, page
        form = _FormParser()
        form.feed(page.decode())
        fields = {**form.fields, "decision": "approve"}
        if username is not None:
            fields["username"] = username
        body = urllib.parse.urlencode(fields).encode()
        status, headers, answer = _call(
            urllib.parse.urljoin(self.url, form.action),
            "POST",
            body,
            **{"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert status == 302, answer
        location = urllib.parse.urlsplit(headers["Location"])
        params = dict(urllib.parse.parse_qsl(location.query))
        assert params.get("state") == state, location
        return params["code"]

    def token(self, username: str | None = None) -> dict[str, Any]:
        """A token pair from the password grant (default: the sandbox's default account)."""
        username = username or self.state.tokens.default_username
        body = urllib.parse.urlencode(
            {
                "grant_type": "password",
                "username": username,
                "password": self.state.tokens.accounts[username],
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            }
        ).encode()
        status, _, answer = _call(
            f"{self.url}/token",
            "POST",
            body,
            **{"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert status == 200, answer
        parsed: dict[str, Any] = json.loads(answer)
        return parsed

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Calls ``/_admin{path}`` and returns the decoded JSON (fails the test on a 4xx/5xx)."""
        data = None if body is None else json.dumps(body).encode()
        status, _, answer = _call(
            f"{self.url}/_admin{path}", method, data, **{"Content-Type": "application/json"}
        )
        assert status < 400, answer
        return json.loads(answer)


@dataclass
class Receiver:
    """A running receiver."""

    url: str
    base_url: str
    secret: str
    app: web.Application
    server: serving.BackgroundServer = field(repr=False)

    @property
    def arrivals(self) -> list[dict[str, Any]]:
        return self.app[receiver_module.ARRIVALS]

    @property
    def delivered(self) -> list[dict[str, Any]]:
        """Arrivals answered 2xx (a sender that hung up on a slow answer did not get it)."""
        return [a for a in self.arrivals if 200 <= a["status"] < 300 and a["answered"]]

    def set_failures(self, pattern: str) -> None:
        """Replaces the failure pattern, e.g. ``"500,500,ok"``, ``"410"``, ``"429:5"``."""
        self.app[receiver_module.FAILURES].set(pattern)

    def clear(self) -> None:
        self.arrivals.clear()

    def set_secrets(self, *keys: str) -> None:
        """Verify with any of ``keys`` from now on (as a receiver following a rotation)."""
        self.app[receiver_module.SECRETS][:] = list(keys)

    async def wait_for(
        self,
        predicate: Callable[[list[dict[str, Any]]], bool],
        timeout: float = 10.0,  # noqa: ASYNC109 - a deadline for polling, not a cancel scope
    ) -> list[dict[str, Any]]:
        """Waits until ``predicate(arrivals)`` holds; fails the test after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate(list(self.arrivals)):
            if time.monotonic() > deadline:
                pytest.fail(f"receiver: condition not met in {timeout}s; arrivals: {self.arrivals}")
            await asyncio.sleep(0.01)
        return list(self.arrivals)


@pytest.fixture
def acton_sandbox_factory() -> Iterator[Callable[..., ActonSandbox]]:
    """Starts sandboxes with the given ``SandboxState`` options; stops them after the test."""
    servers: list[serving.BackgroundServer] = []

    def start(**options: Any) -> ActonSandbox:
        state = acton.SandboxState(**options)
        server = serving.BackgroundServer(acton.build_app(state))
        url = server.start()
        servers.append(server)
        return ActonSandbox(url, state.tokens.client_id, state.tokens.client_secret, state)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def acton_sandbox(
    request: pytest.FixtureRequest, acton_sandbox_factory: Callable[..., ActonSandbox]
) -> ActonSandbox:
    """A fresh sandbox (options from ``@pytest.mark.acton_sandbox(...)``)."""
    marker = request.node.get_closest_marker("acton_sandbox")
    return acton_sandbox_factory(**(marker.kwargs if marker else {}))


@pytest.fixture
def receiver_factory() -> Iterator[Callable[..., Receiver]]:
    """Starts receivers (``secret``, ``fail``); stops them after the test."""
    servers: list[serving.BackgroundServer] = []

    def start(secret: str | None = None, fail: str = "") -> Receiver:
        secret = secret or signing.generate_key()
        app = receiver_module.build_app(secret, fail)
        server = serving.BackgroundServer(app)
        base_url = server.start()
        servers.append(server)
        return Receiver(f"{base_url}/events", base_url, secret, app, server)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def receiver(request: pytest.FixtureRequest, receiver_factory: Callable[..., Receiver]) -> Receiver:
    """A fresh receiver (options from ``@pytest.mark.receiver(...)``)."""
    marker = request.node.get_closest_marker("receiver")
    return receiver_factory(**(marker.kwargs if marker else {}))

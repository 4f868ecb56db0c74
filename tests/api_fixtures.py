"""The ``api`` fixture: the real app on uvicorn, on a free loopback port, against the sandbox.

``api`` → ``RunningApi`` with ``.url`` (``…/elements/api-v2``), ``.root``, ``.container``,
``.settings``, ``.sandbox``, ``.app`` (the FastAPI app), ``.http`` (an aiohttp session for the
test), and helpers:
``await create_user(org="Acme") -> str`` (an Authorization header value),
``await create_instance(configuration_overrides=None, auth=None, name=…, tags=…, expect=200)``
(the real OAuth approve flow against the sandbox, then ``POST /instances`` with the docs' body;
returns the response JSON), ``docs_body(code, configuration_overrides)``, and
``await call(method, path, auth=…, json=…, **kwargs) -> Reply`` (``.status``, ``.json``,
``.headers``, ``.text``; ``path`` relative to ``.url`` unless it starts with ``/``).

Runs on the ``db_url`` database (so on SQLite and PostgreSQL). Options, through a marker or an
indirect parameter: ``@pytest.mark.api(loops=True, tick_seconds=0.05)`` — ``loops`` starts the
background loops (off by default); every other keyword overrides a ``Settings`` field.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import datetime as dt
import json as json_module
import socket
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import uvicorn
from fastapi import FastAPI
from multidict import CIMultiDict

from headwater import bootstrap
from headwater.api import app as app_module
from headwater.settings import Settings
from headwater.storage import db, tenants
from tests.sandbox_fixtures import ActonSandbox

CALLBACK_URL = "https://app.example.com/callback"
TEST_SECRET_KEY = "test-secret-key-for-headwater-tests"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "api(loops=False, **settings): options for the api fixture")


def docs_configuration(sandbox: ActonSandbox) -> dict[str, Any]:
    """The configuration of the Act-On events docs' example, with the sandbox's client."""
    return {
        "oauth.api.key": sandbox.client_id,
        "oauth.api.secret": sandbox.client_secret,
        "oauth.callback.url": CALLBACK_URL,
        "event.notification.enabled": True,
        "event.vendor.type": "polling",
        "event.poller.refresh_interval": "15",
        "event.notification.callback.url": "https://app.example.com/events",
        "event.poller.configuration": {
            "contacts": {
                "url": "/hubs/marketing/lists/{listId}/contacts?where=modafter='${epoch}'",
                "idField": "_contact_id_",
                "datesConfiguration": {
                    "updatedDateField": "__modified_date",
                    "updatedDateFormat": "milliseconds",
                    "createdDateField": "__created_date",
                    "createdDateFormat": "milliseconds",
                },
            }
        },
    }


@dataclasses.dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json_module.loads(self.text) if self.text else None


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers (the test runner keeps its own)."""

    def capture_signals(self) -> Any:  # type: ignore[override]
        return contextlib.nullcontext()


@dataclasses.dataclass
class RunningApi:
    root: str
    url: str
    container: bootstrap.Container
    settings: Settings
    sandbox: ActonSandbox
    http: aiohttp.ClientSession
    app: FastAPI

    async def create_user(self, org: str = "Acme") -> str:
        """A new organization and user; returns ``User …, Organization …``."""
        async with db.transaction(self.container.engine) as conn:
            tenant = await tenants.create(conn, organization_name=org, now=dt.datetime.now(dt.UTC))
        return f"User {tenant.user_secret}, Organization {tenant.organization_secret}"

    def docs_body(
        self, code: str, configuration_overrides: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The docs' ``POST /instances`` body; an override of None removes that key."""
        configuration = docs_configuration(self.sandbox)
        for key, value in (configuration_overrides or {}).items():
            if value is None:
                configuration.pop(key, None)
            else:
                configuration[key] = copy.deepcopy(value)
        return {
            "element": {"key": "acton"},
            "providerData": {"code": code},
            "configuration": configuration,
            "tags": ["Docs"],
            "name": "API Instance with Polling",
        }

    async def authorize_code(self, redirect_uri: str = CALLBACK_URL) -> str:
        """A code from the sandbox's authorize page, as the Approve button gives it."""
        return await asyncio.to_thread(self.sandbox.authorize_code, redirect_uri)

    async def create_instance(
        self,
        configuration_overrides: Mapping[str, Any] | None = None,
        auth: str | None = None,
        *,
        name: str | None = None,
        tags: list[str] | None = None,
        expect: int | None = 200,
    ) -> Any:
        """OAuth approve flow, then ``POST /instances``; returns the response JSON."""
        auth = auth or await self.create_user()
        body = self.docs_body(await self.authorize_code(), configuration_overrides)
        if name is not None:
            body["name"] = name
        if tags is not None:
            body["tags"] = tags
        reply = await self.call("POST", "instances", auth=auth, json=body)
        if expect is not None:
            assert reply.status == expect, reply.text
        return reply.json

    async def call(
        self, method: str, path: str, *, auth: str | None = None, **kwargs: Any
    ) -> Reply:
        """One request; ``path`` is relative to ``.url`` unless it starts with ``/``."""
        url = self.root + path if path.startswith("/") else f"{self.url}/{path}"
        headers = dict(kwargs.pop("headers", {}) or {})
        if auth is not None:
            headers["Authorization"] = auth
        async with self.http.request(method, url, headers=headers, **kwargs) as response:
            return Reply(response.status, CIMultiDict(response.headers), await response.text())


def _options(request: pytest.FixtureRequest) -> dict[str, Any]:
    options: dict[str, Any] = {}
    marker = request.node.get_closest_marker("api")
    if marker is not None:
        options.update(marker.kwargs)
    param = getattr(request, "param", None)
    if isinstance(param, Mapping):
        options.update(param)
    return options


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.asynccontextmanager
async def running_api(
    settings: Settings, sandbox: ActonSandbox, *, loops: bool = False, own_public_url: bool = False
) -> AsyncIterator[RunningApi]:
    """Build a container for ``settings`` and serve its app until the block ends;
    ``own_public_url``: ``HEADWATER_PUBLIC_URL`` is the server's own address."""
    sock = _free_socket()
    port = sock.getsockname()[1]
    if own_public_url:
        settings = dataclasses.replace(settings, public_url=f"http://127.0.0.1:{port}")
    async with bootstrap.container(settings, loops=loops) as container:
        app = app_module.create_app(container)
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", ws="none", access_log=False
        )
        server = _QuietServer(config)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        stop = asyncio.Event()
        background = asyncio.create_task(bootstrap.run_loops(container, stop)) if loops else None
        try:
            deadline = time.monotonic() + 10
            while not server.started:
                if serving.done():
                    serving.result()
                    raise RuntimeError("the API server stopped while starting")
                assert time.monotonic() < deadline, "the API server did not start in 10 s"
                await asyncio.sleep(0.01)
            root = f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
                yield RunningApi(
                    root=root,
                    url=root + app_module.BASE_PATH,
                    container=container,
                    settings=settings,
                    sandbox=sandbox,
                    http=http,
                    app=app,
                )
        finally:
            stop.set()
            if background is not None:
                await background
            server.should_exit = True
            await serving
            sock.close()


FAST_ACTON = {"HEADWATER_ACTON_RATE_PER_SECOND": "1000"}
"""Element settings that lift Act-On's rate limit, for tests that make many calls."""


def api_settings(db_url: str, sandbox: ActonSandbox, data_dir: Path, **overrides: Any) -> Settings:
    """The settings the ``api`` fixture runs with."""
    values: dict[str, Any] = {
        "database_url": db_url,
        "data_dir": data_dir,
        "secret_key": TEST_SECRET_KEY,
        "allow_private_callbacks": True,
        "min_refresh_seconds": 1.0,
    }
    elements = {"HEADWATER_ACTON_BASE_URL": sandbox.url, **overrides.pop("element_settings", {})}
    values.update(overrides, element_settings=elements)
    return Settings(**values)


@pytest.fixture
async def api(
    request: pytest.FixtureRequest, db_url: str, acton_sandbox: ActonSandbox, tmp_path: Path
) -> AsyncIterator[RunningApi]:
    """The API served on a free loopback port (see the module docstring for options)."""
    options = _options(request)
    loops = bool(options.pop("loops", False))
    settings = api_settings(db_url, acton_sandbox, tmp_path / "data", **options)
    async with running_api(settings, acton_sandbox, loops=loops) as running:
        yield running

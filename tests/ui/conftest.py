"""Browser tests: the real server (API, UI and workers) on a thread of its own, driven by
Debian's Chromium through Playwright, with axe-core checking each page.

``browser`` is one Chromium for the whole session; ``page`` a fresh context (cookies and all) per
test. ``ui`` → ``UiServer`` with ``.root``, ``.sandbox``, ``.receiver``, ``.running`` (the
``RunningApi``), ``run(coroutine)`` (runs it on the server's loop), ``tenant(org)``.
Under ``CI=true`` a missing browser, Playwright or axe-core fails the run; elsewhere it skips.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import datetime as dt
import os
import shutil
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from headwater.storage import db, tenants
from tests import databases
from tests.api_fixtures import FAST_ACTON, RunningApi, api_settings, running_api
from tests.sandbox_fixtures import ActonSandbox, Receiver

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE / "artifacts"
AXE = HERE / ".node" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("HEADWATER_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REQUIRED = os.environ.get("CI") == "true"
T = TypeVar("T")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser tests run last: while the browser is open, Playwright's sync API keeps its
    event loop marked as running on the main thread, where no other test could run its own."""
    items.sort(key=lambda item: item.path.is_relative_to(HERE))


def _missing(what: str) -> None:
    message = f"{what} is missing; `make test` installs it (scripts/ui-test-deps.sh)"
    if REQUIRED:
        pytest.fail(message + " and CI=true requires the browser tests to run")
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session."""
    if shutil.which(CHROMIUM) is None:
        _missing(f"Chromium ({CHROMIUM})")
    if not AXE.is_file():
        _missing(f"axe-core ({AXE})")
    try:
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError:
        _missing("Playwright for Python")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, ui: UiServer) -> Iterator[Any]:
    """A fresh browser context and page at laptop size; axe is injected despite the pages'
    Content-Security-Policy (``bypass_csp``), which stays on for the pages' own content.

    It needs ``ui`` so that it closes first: the server then has no browser connection left to
    wait for when it stops."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, bypass_csp=True)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


@dataclasses.dataclass
class Tenant:
    organization_secret: str
    user_secret: str

    @property
    def header(self) -> str:
        return f"User {self.user_secret}, Organization {self.organization_secret}"


@dataclasses.dataclass
class UiServer:
    root: str
    sandbox: ActonSandbox
    receiver: Receiver
    running: RunningApi
    loop: asyncio.AbstractEventLoop

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``coroutine`` on the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def tenant(self, org: str = "Acme") -> Tenant:
        async def create() -> tenants.NewTenant:
            async with db.transaction(self.running.container.engine) as conn:
                return await tenants.create(
                    conn, organization_name=org, now=dt.datetime.now(dt.UTC)
                )

        made = self.run(create())
        return Tenant(made.organization_secret, made.user_secret)


@pytest.fixture
def ui(acton_sandbox: ActonSandbox, receiver: Receiver, tmp_path: Path) -> Iterator[UiServer]:
    """The server with its workers (fast ticks, short retries) on SQLite, on its own thread."""
    # Playwright's sync API runs a loop on this thread: the database is migrated on the server's
    url = f"sqlite:///{tmp_path / 'headwater.db'}"
    settings = api_settings(
        url,
        acton_sandbox,
        tmp_path / "data",
        tick_seconds=0.05,
        retry_schedule=(0.1, 0.2),
        element_settings=FAST_ACTON,
    )
    started: concurrent.futures.Future[tuple[RunningApi, asyncio.AbstractEventLoop]] = (
        concurrent.futures.Future()
    )
    stopping: list[asyncio.Event] = []

    async def serve() -> None:
        stop = asyncio.Event()
        stopping.append(stop)
        await databases.migrate(url)
        async with running_api(settings, acton_sandbox, loops=True) as running:
            started.set_result((running, asyncio.get_running_loop()))
            await stop.wait()

    def thread_main() -> None:
        try:
            asyncio.run(serve())
        except BaseException as error:  # surfaced to the test through the future
            if not started.done():
                started.set_exception(error)
            raise

    thread = threading.Thread(target=thread_main, name="ui-server", daemon=True)
    thread.start()
    running, loop = started.result(timeout=60)
    try:
        yield UiServer(running.root, acton_sandbox, receiver, running, loop)
    finally:
        loop.call_soon_threadsafe(stopping[0].set)
        thread.join(timeout=30)
        assert not thread.is_alive(), "the UI server did not stop in 30 s"

"""The poller's exact meaning (DESIGN.md §3) for Mailchimp, tested against the Mailchimp sandbox
with hypothesis, through the shipped ``mailchimp`` element and its default poller configuration.

Each example polls a fresh audience (two members a page) through random subscribes, profile
changes, touches, email changes and archives, many sharing one second of the sandbox's frozen
clock (Mailchimp's dates have one-second precision), some landing between two pages of a poll.
After every poll:

- each CREATED/UPDATED event carries a version the member really had, differing from the last
  version reported for it, at most one per member per poll; the first report of a member is
  CREATED exactly when it subscribed after the poller started (a member whose email changed
  has a new id, first reported CREATED or UPDATED as its opt-in date says);
- DELETED comes once, only for a member (id) that is gone, archived or renamed, and that the
  poller had reported or that existed before it started; nothing follows it;
- after a poll that nothing disturbed, every live member changed since the start has had its
  current version reported (no miss); after one disturbed between pages, every member that
  nothing changed while it paged has.

A final quiet poll with a reconciliation must leave every change and every delete reported.
Versions that no poll could see are not expected. SQLite runs without the overlap window (the
cursor's arithmetic alone must hold), PostgreSQL with the default one. The element's offset
paging re-reads the row before each next page (``checkShift``): a member archived before the
offset while a poll pages makes the poll read the audience again rather than skip a member.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import itertools
import os
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headwater import bootstrap
from headwater.instances import service as instance_service
from headwater.sandbox import serving
from headwater.sandbox.mailchimp import app, changes, filters
from headwater.settings import Settings
from headwater.storage import db, tenants
from tests.api_fixtures import CALLBACK_URL, TEST_SECRET_KEY
from tests.mailchimp_fixtures import MailchimpSandbox
from tests.poller_support import poller_row, run_poller, stored_events

SOAK = os.environ.get("HEADWATER_SOAK") == "1"
pytestmark = [pytest.mark.soak, pytest.mark.timeout(7200 if SOAK else 600)]
EXAMPLES = {"sqlite": 30, "postgresql": 12}
OVERLAP = {"sqlite": 0.0, "postgresql": 60.0}
_MEMBERS = re.compile(r"^/3\.0/lists/([^/]+)/members$")

Key = tuple[int, str, str, str]  # last_changed (ms), email, status, FNAME


def _key(member: dict[str, Any]) -> Key:
    changed = dt.datetime.fromisoformat(str(member["last_changed"]))
    fname = str((member.get("merge_fields") or {}).get("FNAME", ""))
    return (int(changed.timestamp()) * 1000, member["email_address"], member["status"], fname)


# -- changes between the pages of a poll --------------------------------------------------------


@dataclasses.dataclass
class Hook:
    """Changes applied to one list just before its ``after + 1``-th page is served."""

    list_id: str
    after: int
    ops: list[tuple[Any, ...]]
    applied: list[str] = dataclasses.field(default_factory=list)  # ids touched (old and new)
    snapshot: dict[str, Key] | None = None  # the live members right after
    created: set[str] = dataclasses.field(default_factory=set)
    renamed: set[str] = dataclasses.field(default_factory=set)


class Pages:
    """Counts the member listings of each list and applies the hooks due."""

    def __init__(self, state: app.SandboxState) -> None:
        self.state = state
        self.hooks: list[Hook] = []
        self.served: dict[str, int] = {}
        self.lock = threading.Lock()
        self.emails = itertools.count(1)

    def arm(self, hooks: list[Hook]) -> None:
        with self.lock:
            self.hooks, self.served = hooks, {}

    def before(self, list_id: str) -> None:
        with self.lock:
            served = self.served.get(list_id, 0)
            self.served[list_id] = served + 1
            due = [h for h in self.hooks if h.list_id == list_id and h.after == served]
        for hook in due:
            resolved = resolve(self, hook.ops, hook.list_id)
            if resolved.batch:
                changes.apply_batch(self.state.store, resolved.batch, at=self.state.store.now())
            hook.applied = resolved.touched
            hook.created, hook.renamed = resolved.created, resolved.renamed
            hook.snapshot = live(self.state, list_id)

    def middleware(self) -> Any:
        @web.middleware
        async def count(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            found = _MEMBERS.match(request.path)
            if found and request.method == "GET" and "fields" not in request.query:
                self.before(found.group(1))
            return await handler(request)

        return count


@dataclasses.dataclass
class Resolved:
    batch: list[dict[str, Any]]
    touched: list[str]
    created: set[str]
    renamed: set[str]


def resolve(pages: Pages, spec: list[tuple[Any, ...]], list_id: str) -> Resolved:
    """Admin batch operations for ``spec`` against the live members (indices wrap)."""
    from headwater.sandbox.mailchimp import members

    with pages.state.store.lock:
        alive = [m.email for m in pages.state.store.query(list_id, filters.Query())]
    out = Resolved([], [], set(), set())
    for item in spec:
        kind = item[0]
        if kind == "create":
            email = f"m{next(pages.emails)}@example.com"
            out.batch.append({"op": "create", "email": email, "mergeFields": {"FNAME": item[1]}})
            out.created.add(members.subscriber_hash(email))
            out.touched.append(members.subscriber_hash(email))
            alive.append(email)
            continue
        if not alive:
            continue
        email = alive[item[1] % len(alive)]
        out.touched.append(members.subscriber_hash(email))
        if kind == "update":
            out.batch.append({"op": "update", "email": email, "mergeFields": {"FNAME": item[2]}})
        elif kind == "touch":
            out.batch.append({"op": "touch", "email": email})
        elif kind == "rename":
            new = f"m{next(pages.emails)}@example.com"
            out.batch.append({"op": "update", "email": email, "newEmail": new})
            out.renamed.add(members.subscriber_hash(new))
            out.touched.append(members.subscriber_hash(new))
            alive[alive.index(email)] = new
        else:
            out.batch.append({"op": "archive", "email": email})
            alive.remove(email)
    for op in out.batch:
        op["list"] = list_id
    return out


def live(state: app.SandboxState, list_id: str) -> dict[str, Key]:
    with state.store.lock:
        return {m.id: _key(m.to_json(list_id)) for m in state.store.query(list_id, filters.Query())}


@pytest.fixture(params=["inclusive", "exclusive"])
def paged_sandbox(request: pytest.FixtureRequest) -> Iterator[tuple[MailchimpSandbox, Pages]]:
    """Mailchimp does not say whether since_last_changed keeps its own second: both readings."""
    state = app.SandboxState(lists=0, members=0, exclusive_since=request.param == "exclusive")
    pages = Pages(state)
    application = app.build_app(state)
    application.middlewares.append(pages.middleware())
    server = serving.BackgroundServer(application)
    url = server.start()
    try:
        yield (
            MailchimpSandbox(url, state.tokens.client_id, state.tokens.client_secret, state),
            pages,
        )
    finally:
        server.stop()


# -- the rig ------------------------------------------------------------------------------------


@dataclasses.dataclass
class Rig:
    container: bootstrap.Container
    sandbox: MailchimpSandbox
    pages: Pages
    principal: tenants.Principal
    instance_id: int
    default: dict[str, Any]
    lists: itertools.count[int] = dataclasses.field(default_factory=lambda: itertools.count(1))


@contextlib.asynccontextmanager
async def _rig(
    db_url: str, sandbox: MailchimpSandbox, pages: Pages, data_dir: Path, overlap: float
) -> AsyncIterator[Rig]:
    config = Settings(
        poll_overlap_seconds=overlap,
        database_url=db_url,
        data_dir=data_dir,
        secret_key=TEST_SECRET_KEY,
        allow_private_callbacks=True,
        min_refresh_seconds=1.0,
        element_settings={
            "HEADWATER_MAILCHIMP_LOGIN_URL": sandbox.url,
            "HEADWATER_MAILCHIMP_RATE_PER_SECOND": "1000000",
        },
    )
    async with bootstrap.container(config, loops=False) as container:
        async with db.transaction(container.engine) as conn:
            tenant = await tenants.create(
                conn, organization_name="Prop", now=dt.datetime.now(dt.UTC)
            )
        principal = tenants.Principal(tenant.organization_id, tenant.user_id)
        default = container.registry.get("mailchimp").declaration.events.poller_configuration
        code = await asyncio.to_thread(sandbox.authorize_code, CALLBACK_URL)
        created = await container.instances.create(
            principal,
            instance_service.InstanceInput(
                element_key="mailchimp",
                name="property",
                configuration={
                    "oauth.api.key": sandbox.client_id,
                    "oauth.api.secret": sandbox.client_secret,
                    "oauth.callback.url": CALLBACK_URL,
                    "event.notification.enabled": True,
                    "event.vendor.type": "polling",
                    "event.poller.refresh_interval": "15",
                    "event.notification.callback.url": "https://app.example.com/events",
                    "event.poller.configuration": dict(default),
                },
                code=code,
            ),
        )
        yield Rig(container, sandbox, pages, principal, created.id, dict(default["contacts"]))


# -- what an example does -----------------------------------------------------------------------

names = st.sampled_from(["a", "b", "c"])
op = st.one_of(
    st.tuples(st.just("create"), names),
    st.tuples(st.just("update"), st.integers(0, 50), names),
    st.tuples(st.just("touch"), st.integers(0, 50)),
    st.tuples(st.just("rename"), st.integers(0, 50)),
    st.tuples(st.just("archive"), st.integers(0, 50)),
)
ops = st.lists(op, min_size=1, max_size=6)
hooks = st.lists(st.tuples(st.integers(1, 2), ops), min_size=1, max_size=3)
step = st.one_of(
    st.tuples(st.just("batch"), ops),
    st.tuples(st.just("advance"), st.sampled_from([0, 1000, 2000, 61_000, 125_000])),
    st.tuples(st.just("poll"), st.none()),
    st.tuples(st.just("poll"), hooks),
    st.tuples(st.just("reconcile"), st.none()),
)
scenario = st.tuples(
    st.integers(0, 5),  # members that exist an hour before the poller starts
    st.integers(2, 8),  # members that subscribe together right after its first poll
    st.lists(step, min_size=1, max_size=10),
)


@dataclasses.dataclass
class Model:
    """What the sandbox did and what the poller reported, for one example."""

    list_id: str
    resource: str
    baseline: dict[str, Key | None]  # members before the start (None: changed since)
    created: set[str] = dataclasses.field(default_factory=set)
    renamed: set[str] = dataclasses.field(default_factory=set)
    history: dict[str, set[Key]] = dataclasses.field(default_factory=dict)
    reported: dict[str, list[Key]] = dataclasses.field(default_factory=dict)
    deleted_reported: set[str] = dataclasses.field(default_factory=set)
    last_event_id: int = 0
    figures: dict[str, int] = dataclasses.field(
        default_factory=lambda: dict.fromkeys(
            ("polls", "events", "disturbed", "rereads", "shifted", "clean_checks", "missed"), 0
        )
    )

    def observe(self, members: dict[str, Key]) -> None:
        for oid, key in members.items():
            self.history.setdefault(oid, set()).add(key)


async def _poll(
    rig: Rig,
    model: Model,
    *,
    reconcile: bool,
    clean: bool,
    hooked: list[Hook] = (),  # type: ignore[assignment]
) -> None:
    before = live(rig.sandbox.state, model.list_id)
    outcome = await run_poller(rig.container, rig.instance_id, model.resource, reconcile=reconcile)
    assert outcome.status in ("ok", "shifted"), outcome
    model.figures["shifted"] += outcome.status == "shifted"
    model.figures["rereads"] += outcome.rereads
    clean = clean and outcome.status == "ok"
    for hook in hooked:
        if hook.snapshot is not None:
            model.observe(hook.snapshot)
            model.created |= hook.created
            model.renamed |= hook.renamed
    model.figures["polls"] += 1
    now = live(rig.sandbox.state, model.list_id)
    model.observe(now)
    found = await stored_events(
        rig.container, rig.instance_id, after_id=model.last_event_id, object_type=model.resource
    )
    if found:
        model.last_event_id = found[-1].id
    model.figures["events"] += len(found)
    changed = [e for e in found if e.event_type != "DELETED"]
    assert len({e.object_id for e in changed}) == len(changed), "one event per member per poll"
    for event in changed:
        oid = event.object_id
        key = _key(event.raw)
        assert oid not in model.deleted_reported, f"{oid}: an event after its DELETED"
        assert key in model.history.get(oid, set()), f"{oid}: {key} is no version it had"
        earlier = model.reported.setdefault(oid, [])
        if earlier and earlier[-1] == key:
            model.figures["repeated"] = model.figures.get("repeated", 0) + 1
        assert not earlier or earlier[-1] != key, f"{oid}: version {key} reported twice"
        if not earlier and oid in model.renamed:
            assert event.event_type in ("CREATED", "UPDATED")
        else:
            expected = "UPDATED" if earlier or oid not in model.created else "CREATED"
            assert event.event_type == expected, f"{oid}: {event.event_type}, expected {expected}"
        earlier.append(key)
    for event in (e for e in found if e.event_type == "DELETED"):
        oid = event.object_id
        assert oid not in now, f"{oid}: DELETED while it is listed"
        assert oid not in model.deleted_reported, f"{oid}: DELETED twice"
        assert oid in model.reported or oid in model.baseline, f"{oid}: DELETED, never known"
        model.deleted_reported.add(oid)
    touched = {oid for hook in hooked for oid in hook.applied}
    for oid, key in now.items():
        must = clean or (oid in before and oid not in touched)
        if must and model.baseline.get(oid) != key:
            if model.reported.get(oid, [None])[-1] != key:
                model.figures["missed"] += 1
            assert model.reported.get(oid, [None])[-1] == key, f"{oid}: {key} was missed"
    if clean:
        model.figures["clean_checks"] += 1


async def _example(rig: Rig, pre_existing: int, fresh: int, steps: list[Any]) -> Model:
    state = rig.sandbox.state
    store = state.store
    n = next(rig.lists)
    resource = f"c{n}"  # a resource of its own: its events are this example's only
    state.clock.reset()
    audience = store.create_list(f"property {n}")
    old = store.now() - 3600
    for _ in range(pre_existing):
        email = f"m{next(rig.pages.emails)}@example.com"
        store.add(audience.id, {"email_address": email, "status": "subscribed"}, at=old)
    spec = {
        **rig.default,
        "url": rig.default["url"].replace("{listId}", audience.id),
        "pageSize": 2,
    }
    await rig.container.instances.update(
        rig.principal,
        rig.instance_id,
        instance_service.InstancePatch(
            configuration={"event.poller.configuration": {resource: spec}}
        ),
    )
    state.clock.freeze(state.clock.now_ms() + 1000)
    start_ms = (await poller_row(rig.container, rig.instance_id, resource)).cursor_ms
    model = Model(audience.id, resource, baseline={})
    for oid, key in live(state, audience.id).items():
        model.baseline[oid] = key if key[0] < start_ms else None
    model.observe(live(state, audience.id))
    await _poll(rig, model, reconcile=True, clean=True)
    if fresh:
        steps = [("batch", [("create", "a")] * fresh), *steps]
    for kind, arg in steps:
        if kind == "batch":
            resolved = resolve(rig.pages, arg, audience.id)
            if resolved.batch:
                changes.apply_batch(store, resolved.batch, at=store.now())
                model.created |= resolved.created
                model.renamed |= resolved.renamed
                model.observe(live(state, audience.id))
        elif kind == "advance":
            state.clock.advance(arg)
        elif kind == "reconcile":
            await _poll(rig, model, reconcile=True, clean=True)
        elif arg is None:
            await _poll(rig, model, reconcile=False, clean=True)
        else:
            hooked = [Hook(audience.id, after, list(hook_ops)) for after, hook_ops in arg]
            rig.pages.arm(hooked)
            try:
                await _poll(rig, model, reconcile=False, clean=False, hooked=hooked)
            finally:
                rig.pages.arm([])
            if any(hook.applied for hook in hooked):
                model.figures["disturbed"] += 1
                # a poll that nothing disturbs must now catch what the disturbed one could not
                await _poll(rig, model, reconcile=False, clean=True)
    state.clock.advance(1000)
    await _poll(rig, model, reconcile=True, clean=True)
    now = live(state, audience.id)
    known = set(model.reported) | set(model.baseline)
    gone = {oid for oid in known if oid not in now}
    assert gone == model.deleted_reported, "every archive of a known member is reported once"
    events_before = model.figures["events"]
    await _poll(rig, model, reconcile=False, clean=True)
    assert model.figures["events"] == events_before, "a quiet poll finds nothing"
    return model


def _run_property(
    db_url: str,
    db_kind: str,
    sandbox: MailchimpSandbox,
    pages: Pages,
    data_dir: Path,
    examples: int,
) -> dict[str, int]:
    """Hypothesis drives the examples synchronously; each runs on this thread's own loop."""
    totals: dict[str, int] = {}
    shrink_until: list[float] = []
    with asyncio.Runner() as runner:
        rig_context = _rig(db_url, sandbox, pages, data_dir, OVERLAP[db_kind])
        rig = runner.run(rig_context.__aenter__())
        try:

            @settings(
                max_examples=examples,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
                database=None,
            )
            @given(scenario)
            def check(example: tuple[int, int, list[Any]]) -> None:
                if shrink_until and time.monotonic() > shrink_until[0]:
                    return
                try:
                    model = runner.run(_example(rig, *example))
                except AssertionError:
                    print("failing example:", example)
                    shrink_until.append(time.monotonic() + 60)
                    raise
                for name, value in model.figures.items():
                    totals[name] = totals.get(name, 0) + value
                totals["examples"] = totals.get("examples", 0) + 1

            check()
        finally:
            runner.run(rig_context.__aexit__(None, None, None))
    return totals


async def test_the_poller_reports_every_mailchimp_version_once(
    db_url: str,
    db_kind: str,
    paged_sandbox: tuple[MailchimpSandbox, Pages],
    tmp_path: Path,
) -> None:
    sandbox, pages = paged_sandbox
    examples = EXAMPLES[db_kind] * (10 if SOAK else 1)
    started = time.monotonic()
    totals = await asyncio.to_thread(
        _run_property, db_url, db_kind, sandbox, pages, tmp_path / "data", examples
    )
    since = "exclusive" if sandbox.state.store.exclusive_since else "inclusive"
    took = time.monotonic() - started
    print(f"\nmailchimp property ({db_kind}, {since} since): {totals} in {took:.1f} s")
    assert totals["examples"] >= examples
    assert totals["missed"] == 0 and totals.get("repeated", 0) == 0
    assert totals["disturbed"] > 0, "some polls must have had members change between pages"
    assert totals["rereads"] > 0, "some polls must have seen their pages move"

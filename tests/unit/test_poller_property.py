"""The poller's exact meaning (DESIGN.md §3), tested with hypothesis against the in-memory hub.

Each example polls one or two fresh lists (the URL's ``{listId}`` fans out over them; two
records a page) through random creates, updates, touches and deletes, many sharing one
millisecond of the hub's clock, some landing between two pages of a poll so that the pages shift
under it, while the clock may move on. After every poll:

- the poller starts one overlap before it is configured: its first poll reports exactly the
  records changed since then (some made just before it was configured), and no poll reads before;
- each CREATED/UPDATED event carries a version the record really had, differing from the last
  version reported for it, at most one per record per poll; the first report of a record is
  CREATED exactly when the record was created after the poller started;
- DELETED comes once, only for a deleted record the poller had reported or that existed before it
  started, and nothing follows it;
- after a poll that nothing disturbed, every live record changed since the start has had its
  current version reported (no miss); after one whose pages shifted, every record that nothing
  changed while it paged has, when the hub reads far enough back past a shift (as Act-On's does
  within 1,000 rows).

A final quiet poll with a reconciliation must leave every change and every delete reported.
Versions that no poll could see are not expected.

The poller's own code reads and decides (:mod:`tests.memory_poller`); only its unit of work is
replaced by a dict of remembered versions and a list of events. Each example draws the overlap
(none, so that the cursor's arithmetic alone must hold, or the default 60 s), whether the hub's
date filter includes its bound, and whether the hub reads back past a shift at all: one that
does not skips the rows that moved up, and only the cursor, kept where it was, lets the next
poll find them. 2,000 examples; ``HEADWATER_SOAK=1`` runs ten times as many. The same
properties hold against the Act-On sandbox and a database in
``tests/integration/test_poller_property.py``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headwater.elements import memory
from tests import memory_poller

SOAK = os.environ.get("HEADWATER_SOAK") == "1"
pytestmark = [pytest.mark.soak, pytest.mark.timeout(1800 if SOAK else 300)]
EXAMPLES = 2000
DATES = ("_contact_id_", "__created_date", "__modified_date")

Key = tuple[int, frozenset[tuple[str, str]]]
FAR_BACK = 1000  # rows: further back than any list of an example holds


# -- what an example does -----------------------------------------------------------------------

VALUES = ("a", "b", "c")


def _op(n: int) -> tuple[Any, ...]:
    """One change, decoded from one drawn number: ("create", value, list), ("update", record,
    value), ("touch", record), ("delete", record) or ("tick",), the clock moving on 1 ms;
    records and lists are indices that wrap. One draw generates much faster than a tuple of
    them, and small numbers shrink to creates."""
    kind, n = ("create", "update", "touch", "delete", "tick")[n % 5], n // 5
    if kind == "create":
        return kind, VALUES[n % 3], n // 3 % 2
    if kind == "update":
        return kind, n % 51, VALUES[n // 51 % 3]
    return (kind,) if kind == "tick" else (kind, n % 51)


lists = st.integers(0, 1)  # which list (modulo how many the example has)
op = st.integers(0, 5 * 51 * 3 - 1).map(_op)
ops = st.lists(op, min_size=1, max_size=6)
hooks = st.lists(st.tuples(lists, st.integers(1, 4), ops), min_size=1, max_size=3)
# a row deleted before the offset after the first page, and again while the page is read again
twice = st.tuples(ops, ops).map(
    lambda p: [(0, 1, [("delete", 0), *p[0]]), (0, 3, [("delete", 0), *p[1]])]
)
step = st.one_of(
    st.tuples(st.just("batch"), ops),
    st.tuples(st.just("advance"), st.sampled_from([0, 1, 2, 999, 61_000, 125_000])),
    st.tuples(st.just("poll"), st.none()),
    st.tuples(st.just("poll"), hooks),  # changes land between the pages of this poll
    st.tuples(st.just("poll"), twice),
    st.tuples(st.just("reconcile"), st.none()),
    # new records, a second later an old one changes, and the poll after shifts twice: only
    # the first page (the old record, the newest date) is read, the new records are not
    st.tuples(st.just("stagger"), st.tuples(st.integers(3, 6), twice)),
)
# records made shortly before the poller is configured: (created, updated) seconds before, inside
# or outside the overlap
recent = st.lists(
    st.sampled_from([(90, None), (70, 50), (30, None), (40, 10), (5, None), (65, 3)]),
    max_size=3,
)
scenario = st.tuples(
    st.sampled_from([0.0, 60.0]),  # the poll overlap, seconds
    st.booleans(),  # whether the hub's modafter includes its bound
    st.sampled_from([FAR_BACK, 0]),  # how many rows back the hub reads past a shift
    st.integers(1, 2),  # lists
    st.integers(0, 6),  # records that exist an hour before the poller starts
    recent,
    st.integers(0, 8),  # records created together right after its first poll
    st.lists(step, min_size=1, max_size=12),
)


@dataclasses.dataclass
class Model:
    """What the hub did and what the poller reported, for one example."""

    hub: memory.MemoryHub
    list_ids: list[str]
    poller: memory_poller.Poller
    # whether the clock may move on while a poll pages (see test_poller_strict_bounds.py)
    ticks: bool
    # records created before the start, and their version then (None: changed since)
    baseline: dict[str, Key | None] = dataclasses.field(default_factory=dict)
    created: set[str] = dataclasses.field(default_factory=set)  # created after the start
    history: dict[str, set[Key]] = dataclasses.field(default_factory=dict)
    reported: dict[str, list[Key]] = dataclasses.field(default_factory=dict)
    deleted_reported: set[str] = dataclasses.field(default_factory=set)
    last_event: int = 0
    figures: dict[str, int] = dataclasses.field(
        default_factory=lambda: dict.fromkeys(
            ("polls", "events", "shifted", "rereads", "clean_checks"), 0
        )
    )

    @property
    def store(self) -> memory.Store:
        return self.hub.store


def _key(record: dict[str, object]) -> Key:
    modified = record["__modified_date"]
    assert isinstance(modified, int)
    return modified, frozenset((k, str(v)) for k, v in record.items() if k not in DATES and v != "")


def _live(model: Model) -> dict[str, Key]:
    return {
        str(r["_contact_id_"]): _key(r)
        for list_id in model.list_ids
        for r in model.store.records(list_id)
    }


def _observe(model: Model) -> dict[str, Key]:
    live = _live(model)
    for oid, key in live.items():
        model.history.setdefault(oid, set()).add(key)
    return live


def _apply(model: Model, spec: list[Any]) -> set[str]:
    """Apply ``spec`` now against the live ids (indices wrap); returns the ids it touched."""
    store = model.store
    alive = sorted(oid for list_id in model.list_ids for oid in store.ids(list_id))
    touched: set[str] = set()
    for item in spec:
        kind = item[0]
        if kind == "tick":
            if model.ticks:
                store.clock.advance(1)
            continue
        if kind == "create":
            list_id = model.list_ids[item[2] % len(model.list_ids)]
            oid = store.insert(list_id, {"Job Title": item[1]})
            model.created.add(oid)
            touched.add(oid)
            continue
        if not alive:
            continue
        target = alive[item[1] % len(alive)]
        touched.add(target)
        if kind == "update":
            store.update(target, {"Job Title": item[2]})
        elif kind == "touch":
            store.touch(target)
        else:
            store.delete(target)
            alive.remove(target)
    _observe(model)
    return touched


def _arm(model: Model, which: int, after: int, spec: list[Any], touched: set[str]) -> memory.Hook:
    """Apply ``spec`` after the ``after``-th page of a list is read, adding what it touches to
    ``touched``."""
    list_id = model.list_ids[which % len(model.list_ids)]
    return model.hub.after_fetches(list_id, after, lambda: touched.update(_apply(model, spec)))


async def _poll(
    model: Model,
    *,
    reconcile: bool,
    armed: list[memory.Hook] = (),  # type: ignore[assignment]
    touched: set[str] | None = None,
    before: set[str] | None = None,
) -> None:
    read = await memory_poller.run(model.hub, model.poller, reconcile=reconcile)
    disturbed = any(hook.ran for hook in armed)
    model.figures["polls"] += 1
    model.figures["shifted"] += read.shifted
    model.figures["rereads"] += read.rereads
    live = _live(model)
    found = model.poller.events[model.last_event :]
    model.last_event = len(model.poller.events)
    model.figures["events"] += len(found)
    changed = [e for e in found if e.event_type != "DELETED"]
    deletes = [e for e in found if e.event_type == "DELETED"]
    assert len({e.object_id for e in changed}) == len(changed), "one event per record per poll"
    for event in changed:
        oid = event.object_id
        key = _key(event.raw)
        assert oid not in model.deleted_reported, f"{oid}: an event after its DELETED"
        assert key in model.history.get(oid, set()), f"{oid}: {key} is no version it had"
        earlier = model.reported.setdefault(oid, [])
        assert not earlier or earlier[-1] != key, f"{oid}: version {key} reported twice"
        expected = "UPDATED" if earlier or oid not in model.created else "CREATED"
        assert event.event_type == expected, f"{oid}: {event.event_type}, expected {expected}"
        earlier.append(key)
    for event in deletes:
        oid = event.object_id
        assert oid not in live, f"{oid}: DELETED while it exists"
        assert oid not in model.deleted_reported, f"{oid}: DELETED twice"
        assert oid in model.reported or oid in model.baseline, f"{oid}: DELETED, never known"
        model.deleted_reported.add(oid)
    if not disturbed and not read.shifted:
        model.figures["clean_checks"] += 1
        for oid, key in live.items():
            if model.baseline.get(oid) != key:
                assert model.reported.get(oid, [None])[-1] == key, f"{oid}: {key} was missed"
    if disturbed and model.hub.max_back == FAR_BACK:
        # a version current from before the poll to after it was there to be seen on every
        # page, even when the pages shifted: the poll reports it
        assert before is not None and touched is not None
        for oid, key in live.items():
            if oid in before and oid not in touched and model.baseline.get(oid) != key:
                assert model.reported.get(oid, [None])[-1] == key, f"{oid}: {key} was missed"


async def _example(
    overlap: float,
    inclusive: bool,
    max_back: int,
    list_count: int,
    pre_existing: int,
    made_before: list[tuple[int, int | None]],
    fresh: int,
    steps: list[Any],
) -> Model:
    store = memory.Store(memory_poller.LAYOUT)
    hub = memory.MemoryHub(store, inclusive_bounds=inclusive, max_back=max_back)
    clock = store.clock
    list_ids = [store.add_parent() for _ in range(list_count)]
    now = clock.now_ms()
    old = now - 3_600_000
    for i in range(pre_existing):
        store.insert(list_ids[i % list_count], {"First Name": f"p{i}"}, at_ms=old)
    for i, (created, updated) in enumerate(made_before):
        oid = store.insert(
            list_ids[i % list_count], {"First Name": f"r{i}"}, at_ms=now - created * 1000
        )
        if updated is not None:
            store.update(oid, {"Job Title": "r"}, at_ms=now - updated * 1000)
    poller = memory_poller.Poller.configured(now, overlap)
    start_ms = poller.start_ms
    clock.advance(1000)
    model = Model(hub, list_ids, poller, ticks=True)
    for list_id in list_ids:
        for record in store.records(list_id):
            oid = str(record["_contact_id_"])
            created_ms, modified_ms = record["__created_date"], record["__modified_date"]
            assert isinstance(created_ms, int) and isinstance(modified_ms, int)
            if created_ms >= start_ms:
                model.created.add(oid)
            elif modified_ms >= start_ms:
                model.baseline[oid] = None
            else:
                model.baseline[oid] = _key(record)
    since_start = {oid for oid, key in _observe(model).items() if key[0] >= start_ms}
    await _poll(model, reconcile=True)
    assert set(model.reported) == since_start, "the first poll reads from the start, no earlier"
    steps = [("batch", [("create", "a", i) for i in range(fresh)]), *steps] if fresh else steps
    for kind, arg in [expanded for s in steps for expanded in _expand(s)]:
        if kind == "batch":
            _apply(model, arg)
        elif kind == "advance":
            clock.advance(arg)
        elif kind == "reconcile":
            await _poll(model, reconcile=True)
        elif arg is None:
            await _poll(model, reconcile=False)
        else:
            touched: set[str] = set()
            armed = [_arm(model, which, after, spec, touched) for which, after, spec in arg]
            before = {oid for list_id in list_ids for oid in store.ids(list_id)}
            await _poll(model, reconcile=False, armed=armed, touched=touched, before=before)
            hub.hooks.clear()
            if any(hook.ran for hook in armed):
                # a poll that nothing disturbs must now catch what the disturbed one could not
                await _poll(model, reconcile=False)
    clock.advance(1)
    await _poll(model, reconcile=True)
    live = _live(model)
    known = set(model.reported) | set(model.baseline)
    gone = {oid for oid in known if oid not in live}
    assert gone == model.deleted_reported, "every delete of a known record is reported once"
    events_before = model.figures["events"]
    await _poll(model, reconcile=False)
    assert model.figures["events"] == events_before, "a quiet poll finds nothing"
    return model


def _expand(step: tuple[str, Any]) -> list[tuple[str, Any]]:
    if step[0] != "stagger":
        return [step]
    count, hooks = step[1]
    return [
        ("batch", [("create", "a", 0)] * count),
        ("advance", 999),
        ("batch", [("touch", 0)]),
        ("poll", hooks),
    ]


def test_the_poller_reports_every_version_once() -> None:
    examples = EXAMPLES * (10 if SOAK else 1)
    totals: dict[str, int] = {}
    started, cpu = time.monotonic(), time.process_time()
    with asyncio.Runner() as runner:

        @settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            database=None,
        )
        @given(scenario)
        def check(example: tuple[Any, ...]) -> None:
            model = runner.run(_example(*example))
            for name, value in model.figures.items():
                totals[name] = totals.get(name, 0) + value
            totals["examples"] = totals.get("examples", 0) + 1

        check()
    elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
    print(f"\nproperty (memory hub): {totals} in {elapsed:.1f} s ({cpu:.1f} s of CPU)")
    assert totals["examples"] >= examples
    assert totals["rereads"] > 0, "some polls must have seen their pages shift"
    assert totals["shifted"] > 0, "some polls must have kept their cursor"

"""CEQL with OR, NOT, parentheses, IN, LIKE and IS NULL over stored events and deliveries, on SQLite
and PostgreSQL: each database answers exactly what evaluating the expression in Python answers."""

from __future__ import annotations

import datetime as dt
import operator
import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from headwater import bootstrap
from headwater.domain import ceql
from headwater.errors import InputError
from headwater.storage import db, deliveries, delivery_log, events, filters, tables
from tests import delivery_support as support
from tests.api_fixtures import RunningApi

TRICKY_IDS = [
    "l-0001:1",
    "l-0001:2",
    "L-0001:3",
    "l-0002:10",
    "100%",
    "100",
    "a_b",
    "axb",
    "a*b",
    "a?b",
    "a[b]",
    "back\\slash",
    "O'Brien",
    "ünïcode",
    "ÜNÏCODE",
    "",
]
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _aware(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def holds(expr: ceql.Expr, record: Mapping[str, Any], fields: filters.Fields) -> bool:
    """The reference semantics: a comparison with a missing value is false; NOT negates."""
    if isinstance(expr, ceql.And):
        return all(holds(term, record, fields) for term in expr.terms)
    if isinstance(expr, ceql.Or):
        return any(holds(term, record, fields) for term in expr.terms)
    if isinstance(expr, ceql.Not):
        return not holds(expr.term, record, fields)
    value = record[expr.field]
    read = fields[expr.field][1]
    if isinstance(expr, ceql.IsNull):
        return (value is None) != expr.negated
    if value is None:
        return False
    if isinstance(expr, ceql.Condition):
        return _COMPARE[expr.op](value, read(expr.value))
    if isinstance(expr, ceql.In):
        return (value in [read(v) for v in expr.values]) != expr.negated
    pattern = read(expr.pattern)
    assert isinstance(pattern, str)
    return bool(ceql.like_regex(pattern).fullmatch(value)) != expr.negated


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _like_pattern(rng: random.Random) -> str:
    source = rng.choice(TRICKY_IDS)
    out = []
    for char in source[: rng.randint(0, len(source))]:
        roll = rng.random()
        if char in "%_\\" or roll < 0.15:
            out.append("\\" + char)
        elif roll < 0.3:
            out.append("_")
        else:
            out.append(char)
    return "".join(out) + rng.choice(["", "%", "_", "%"])


def _event_term(rng: random.Random, ids: list[int], depth: int) -> str:
    kind = rng.choice(["id", "type", "object", "like", "null", "in", "date"])
    if depth < 3 and rng.random() < 0.45:
        joiner = rng.choice(["and", "or", "AND", "Or"])
        left = _event_term(rng, ids, depth + 1)
        right = _event_term(rng, ids, depth + 1)
        shape = rng.choice(["({} {} {})", "not ({} {} {})", "{} {} {}"])
        return shape.format(left, joiner, right)
    if kind == "id":
        return f"id {rng.choice(ceql.OPERATORS)} {rng.choice(ids)}"
    if kind == "type":
        return f"eventType {rng.choice(['=', '!='])} {_quote(rng.choice(['created', 'UPDATED']))}"
    if kind == "object":
        return f"objectId {rng.choice(['=', '!='])} {_quote(rng.choice(TRICKY_IDS))}"
    if kind == "like":
        field = rng.choice(["objectId", "notificationId", "objectType"])
        return f"{field} {rng.choice(['like', 'not like'])} {_quote(_like_pattern(rng))}"
    if kind == "null":
        return f"notificationId is {rng.choice(['', 'not '])}null"
    if kind == "in":
        chosen = rng.sample(TRICKY_IDS, rng.randint(1, 4))
        values = ", ".join(_quote(v) for v in chosen)
        return f"objectId {rng.choice(['in', 'not in'])} ({values})"
    moment = dt.datetime(2026, 11, 29, 10, 0, rng.randint(0, 20), tzinfo=dt.UTC)
    return f"date {rng.choice(ceql.OPERATORS)} '{moment.isoformat()}'"


async def _stored_events(c: bootstrap.Container) -> tuple[int, list[int]]:
    instance_id = await support.make_instance(
        c, callback_url="https://app.example.com/events", key="k" * 16
    )
    start = dt.datetime(2026, 11, 29, 10, 0, tzinfo=dt.UTC)
    found = [
        events.NewEvent(
            "contacts" if n % 3 else "lists",
            object_id,
            ("CREATED", "UPDATED", "DELETED")[n % 3],
            start + dt.timedelta(seconds=n),
            {"n": n},
        )
        for n, object_id in enumerate(TRICKY_IDS)
    ]
    # half of them notified (a notificationId), half not (none: NULL through the outer join)
    notified, _ = await support.add_events(c, instance_id, found[::2])
    async with db.transaction(c.engine) as conn:
        unsent = await events.insert(
            conn,
            instance_id=instance_id,
            element_key="acton",
            hub_key="marketing",
            poll_date=support.now(),
            found=found[1::2],
        )
    return instance_id, sorted(notified + unsent)


async def _event_records(c: bootstrap.Container, organization_id: int) -> list[dict[str, Any]]:
    async with db.reading(c.engine) as conn:
        rows = await events.page(
            conn,
            organization_id=organization_id,
            instance_id=None,
            where=[],
            before_id=None,
            limit=1000,
        )
    return [
        {
            "id": row.id,
            "instanceId": row.instance_id,
            "elementKey": row.element_key,
            "hubKey": row.hub_key,
            "objectType": row.object_type,
            "objectId": row.object_id,
            "eventType": row.event_type,
            "date": _aware(row.date),
            "pollDate": _aware(row.poll_date),
            "status": row.status,
            "notificationId": row.notification_id,
        }
        for row in rows
    ]


async def _organization(c: bootstrap.Container, instance_id: int) -> int:
    async with db.reading(c.engine) as conn:
        found = await conn.scalar(
            sa.select(tables.instances.c.organization_id).where(
                tables.instances.c.id == instance_id
            )
        )
    assert found is not None
    return int(found)


async def _matching_events(c: bootstrap.Container, organization_id: int, where: str) -> list[int]:
    async with db.reading(c.engine) as conn:
        rows = await events.page(
            conn,
            organization_id=organization_id,
            instance_id=None,
            where=ceql.parse(where),
            before_id=None,
            limit=1000,
        )
    return sorted(row.id for row in rows)


FIXED_EVENT_FILTERS = [
    "objectId like 'l-0001:%'",
    "objectId like 'L-0001:%'",
    "objectId like '100\\%'",
    "objectId like '100%'",
    "objectId like 'a\\_b'",
    "objectId like 'a_b'",
    "objectId like 'a*b' or objectId like 'a?b' or objectId like 'a[b]'",
    "objectId like 'back\\\\slash'",
    "objectId like '%''%'",
    "objectId like 'ü%'",
    "objectId like ''",
    "objectId not like '%:%'",
    "notificationId is null",
    "notificationId is not null and eventType in ('created', 'deleted')",
    "notificationId != 'nothing'",
    "not notificationId = 'nothing'",
    "not (notificationId like 'msg%')",
    "notificationId not like 'msg%'",
    "objectId in ('a_b', 'axb', 'missing') or (eventType = 'updated' and not objectType='lists')",
    "(id < 5 or id > 10) and not (objectId in ('100', '100%'))",
    "eventType = 'created' or eventType = 'updated' and objectType = 'lists'",
    "(eventType = 'created' or eventType = 'updated') and objectType = 'lists'",
]


async def test_events_match_the_python_reference(db_url: str, tmp_path: Path) -> None:
    async with support.container(support.settings_for(db_url, tmp_path)) as c:
        instance_id, ids = await _stored_events(c)
        organization_id = await _organization(c, instance_id)
        records = await _event_records(c, organization_id)
        assert len(records) == len(TRICKY_IDS)
        rng = random.Random(20261203)
        generated = [_event_term(rng, ids, 0) for _ in range(150)]
        nonempty = 0
        for where in FIXED_EVENT_FILTERS + generated:
            expected = sorted(
                record["id"]
                for record in records
                if all(holds(term, record, events.FIELDS) for term in ceql.parse(where))
            )
            assert await _matching_events(c, organization_id, where) == expected, where
            nonempty += 0 < len(expected) < len(records)
        assert nonempty > 50  # the filters discriminate, not all-or-nothing


async def test_like_is_case_sensitive_and_escapes_on_every_database(
    db_url: str, tmp_path: Path
) -> None:
    async with support.container(support.settings_for(db_url, tmp_path)) as c:
        instance_id, _ = await _stored_events(c)
        organization_id = await _organization(c, instance_id)
        by_id = {r["id"]: r["objectId"] for r in await _event_records(c, organization_id)}

        async def objects(where: str) -> list[str]:
            return sorted(by_id[i] for i in await _matching_events(c, organization_id, where))

        assert await objects("objectId like 'l-%'") == ["l-0001:1", "l-0001:2", "l-0002:10"]
        assert await objects("objectId like '100\\%'") == ["100%"]
        assert await objects("objectId like 'a\\_b'") == ["a_b"]
        assert await objects("objectId like 'a_b'") == ["a*b", "a?b", "a_b", "axb"]
        assert await objects("objectId like 'a[b]'") == ["a[b]"]
        assert await objects("objectId like 'back\\\\%'") == ["back\\slash"]
        assert await objects("objectId like 'Ü%'") == ["ÜNÏCODE"]


async def test_deliveries_match_the_python_reference(db_url: str, tmp_path: Path) -> None:
    async with support.container(support.settings_for(db_url, tmp_path)) as c:
        instance_id = await support.make_instance(
            c, callback_url="https://app.example.com/events", key="k" * 16
        )
        organization_id = await _organization(c, instance_id)
        at = support.now()
        async with db.transaction(c.engine) as conn:
            for n, (status, url) in enumerate(
                [
                    ("created", "https://a.example.com/hook"),
                    ("queued", "https://a.example.com/hook"),
                    ("queued", "https://b.example.com/50%_off"),
                    ("created", "https://b.example.com/50x_off"),
                    ("queued", "https://B.example.com/hook"),
                ]
            ):
                await deliveries.insert(
                    conn,
                    notification_id=f"msg_{n:032x}",
                    instance_id=instance_id,
                    kind="events" if n % 2 else "replay",
                    url=url,
                    body="{}",
                    status=status,
                    now=at + dt.timedelta(seconds=n),
                )
        async with db.reading(c.engine) as conn:
            rows = await delivery_log.page(
                conn, organization_id=organization_id, where=[], before_id=None, limit=100
            )
        records = [
            {
                "id": row.id,
                "notificationId": row.notification_id,
                "instanceId": row.instance_id,
                "kind": row.kind,
                "url": row.url,
                "config.url": row.url,
                "channel": "webhook",
                "status": row.status,
                "attemptCount": row.attempt_count,
                "nextAttemptDate": _aware(row.next_attempt_at),
                "createdDate": _aware(row.created_at),
                "updatedDate": _aware(row.updated_at),
            }
            for row in rows
        ]
        filters_ = [
            "channel='webhook' and status='queued'",
            "status in ('QUEUED', 'retry') and config.url like 'https://b.%'",
            "url like '%50\\%\\_off'",
            "url like '%50%off'",
            "nextAttemptDate is null",
            "not nextAttemptDate > '2000-01-01T00:00:00Z'",
            "nextAttemptDate is not null or kind = 'REPLAY'",
            "(kind = 'events' or status = 'created') and not url like '%a.example%'",
            "channel like 'web%' and id not in (1, 2)",
        ]
        for where in filters_:
            expected = sorted(
                record["id"]
                for record in records
                if all(holds(term, record, delivery_log.FIELDS) for term in ceql.parse(where))
            )
            async with db.reading(c.engine) as conn:
                found = await delivery_log.page(
                    conn,
                    organization_id=organization_id,
                    where=delivery_log.translate(ceql.parse(where)),
                    before_id=None,
                    limit=100,
                )
            assert sorted(row.id for row in found) == expected, where
        assert len(records) == 5


@pytest.mark.parametrize(
    ("where", "problem"),
    [
        ("date like '2026%'", "date is not a text field; LIKE applies to text fields only"),
        ("id in (1, 'x')", "id must be a whole number, not 'x'"),
        ("id in (1, 4294967296)", "id is out of range: 4294967296"),
        ("not (date > 'yesterday')", "date must be an ISO-8601 date-time"),
        ("colour is null or id = 1", "unknown field 'colour'"),
    ],
)
def test_values_are_checked_per_field_inside_any_expression(where: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        events.translate(ceql.parse(where))
    ((field, found),) = caught.value.problems
    assert field == "where"
    assert found.startswith(problem), found


async def test_the_events_api_filters_with_the_full_grammar(api: RunningApi) -> None:
    auth = await api.create_user()
    instance = await api.create_instance(auth=auth)
    start = dt.datetime(2026, 11, 29, 10, 0, tzinfo=dt.UTC)
    found = [
        events.NewEvent("contacts", object_id, kind, start + dt.timedelta(seconds=n), {})
        for n, (object_id, kind) in enumerate(
            [("l-0001:1", "CREATED"), ("l-0001:2", "UPDATED"), ("l-0002:1", "DELETED")]
        )
    ]
    await support.add_events(api.container, instance["id"], found)

    async def objects(where: str) -> list[str]:
        reply = await api.call("GET", "instances/events", auth=auth, params={"where": where})
        assert reply.status == 200, reply.text
        return sorted(event["objectId"] for event in reply.json)

    assert await objects("objectId like 'l-0001:%' and not eventType = 'created'") == ["l-0001:2"]
    assert await objects("eventType in ('CREATED', 'DELETED') or objectId = 'x'") == [
        "l-0001:1",
        "l-0002:1",
    ]
    assert await objects("(notificationId is not null) and objectId not like '%:1'") == ["l-0001:2"]
    bad = await api.call(
        "GET", "instances/events", auth=auth, params={"where": "eventType in () or x=1"}
    )
    assert bad.status == 400
    assert bad.json["errors"] == [
        {"field": "where", "problem": "IN () at position 13 is empty: give at least one value"}
    ]

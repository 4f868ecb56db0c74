"""A CEQL ``where`` over events becomes SQLAlchemy expressions over known columns only."""

from __future__ import annotations

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from headwater.domain import ceql
from headwater.errors import InputError
from headwater.storage import events


def _sql(where: str) -> str:
    clauses = events.translate(ceql.parse(where))
    return " AND ".join(
        str(c.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
        for c in clauses
    )


def test_fields_and_operators_become_bound_comparisons() -> None:
    sql = _sql("eventType='updated' and objectId != 'l-1:7' and id >= 10")
    assert (
        sql == "events.event_type = 'UPDATED' AND events.object_id != 'l-1:7' AND events.id >= 10"
    )


def test_dates_are_read_as_iso_8601() -> None:
    sql = _sql("date >= '2026-11-29T10:15:00Z' and pollDate < '2026-11-30T00:00:00.500Z'")
    assert "events.date >= '2026-11-29 10:15:00.000000'" in sql
    assert "events.poll_date < '2026-11-30 00:00:00.500000'" in sql


def test_a_quote_cannot_break_out_of_a_value() -> None:
    sql = _sql("objectId = 'x'' or 1=1 --'")
    assert sql == "events.object_id = 'x'' or 1=1 --'"


def test_unknown_fields_and_bad_values_name_every_problem() -> None:
    with pytest.raises(InputError) as caught:
        events.translate(ceql.parse("color = 'red' and date > 'yesterday' and id = 'x'"))
    problems = [problem for _, problem in caught.value.problems]
    assert len(problems) == 3
    assert problems[0].startswith("unknown field 'color'")
    assert "ISO-8601" in problems[1] and "whole number" in problems[2]


def test_an_id_beyond_the_databases_integers_is_a_bad_value_not_a_storage_error() -> None:
    with pytest.raises(InputError) as caught:
        events.translate(ceql.parse("id = 110669200159"))
    assert caught.value.problems == [("where", "id is out of range: 110669200159")]


def test_or_not_in_like_and_is_null_compile_to_bound_parameters_only() -> None:
    where = (
        "(objectId like 'x''; drop%' or eventType in ('created', 'deleted')) "
        "and not notificationId is null and objectType not like 'a\\_b'"
    )
    for dialect, pattern in ((sqlite.dialect(), "x'; drop*"), (postgresql.dialect(), "x'; drop%")):
        compiled = [c.compile(dialect=dialect) for c in events.translate(ceql.parse(where))]
        sql = " AND ".join(str(c) for c in compiled)
        assert "drop" not in sql and "CREATED" not in sql
        values = [v for c in compiled for v in c.params.values()]
        assert pattern in values and ["CREATED", "DELETED"] in values
    like = events.translate(ceql.parse("objectId like 'a%'"))[0]
    assert "GLOB" in str(like.compile(dialect=sqlite.dialect()))  # SQLite's LIKE ignores case
    assert "LIKE" in str(like.compile(dialect=postgresql.dialect()))

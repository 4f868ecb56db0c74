from __future__ import annotations

import pytest

from headwater.domain import ceql
from headwater.domain.ceql import Condition
from headwater.errors import InputError


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("", []),
        ("   ", []),
        ("status = 'queued'", [Condition("status", "=", "queued")]),
        ("status='queued'", [Condition("status", "=", "queued")]),
        (
            "objectType = 'contacts' AND eventType != 'DELETED'",
            [Condition("objectType", "=", "contacts"), Condition("eventType", "!=", "DELETED")],
        ),
        (
            "a < 1 and b <= 2 And c > -3 aNd d >= 4.5",
            [
                Condition("a", "<", 1),
                Condition("b", "<=", 2),
                Condition("c", ">", -3),
                Condition("d", ">=", 4.5),
            ],
        ),
        ("date >= '2026-11-29T10:15:00Z'", [Condition("date", ">=", "2026-11-29T10:15:00Z")]),
        ("name = 'O''Brien'", [Condition("name", "=", "O'Brien")]),
        ("name = ''", [Condition("name", "=", "")]),
        ("name = 'a and b or c'", [Condition("name", "=", "a and b or c")]),
        ("raw.contact.id = '7'", [Condition("raw.contact.id", "=", "7")]),
        ("`odd <col>` = 1", [Condition("odd <col>", "=", 1)]),
        ("`or` = 1", [Condition("or", "=", 1)]),
    ],
)
def test_parse(where: str, expected: list[Condition]) -> None:
    assert ceql.parse(where) == expected


@pytest.mark.parametrize(
    ("where", "problem"),
    [
        (
            "status = 'x' or a = 1",
            "unsupported token 'or' at position 13: OR is not supported;"
            " only comparisons joined by AND are",
        ),
        ("a like 'x%'", "unsupported token 'like' at position 2: LIKE is not supported"),
        ("a in ('x')", "unsupported token 'in' at position 2: IN is not supported"),
        ("a is null", "unsupported token 'is' at position 2: IS NULL is not supported"),
        ("not a = 1", "unsupported token 'not' at position 0: NOT is not supported"),
        ("(a = 1)", "unsupported token '(' at position 0: parentheses are not supported"),
        ("a = 1 and", "unexpected end of the expression: expected a field name"),
        ("a =", "unexpected end of the expression: expected a quoted value or a number"),
        ("a", "unexpected end of the expression: expected an operator"),
        ("a = b", "unexpected token 'b' at position 4: expected a quoted value or a number"),
        ("a == 1", "unexpected token '=' at position 3: expected a quoted value or a number"),
        ("a <> 1", "unexpected token '>' at position 3: expected a quoted value or a number"),
        ("a = 1 b = 2", "unexpected token 'b' at position 6: expected AND"),
        ("and = 1", "unexpected token 'and' at position 0: expected a field name"),
        ("a = 'x", "unterminated quoted value at position 4"),
        ("a = 1; drop table x", "unexpected token ';' at position 5: expected AND"),
        ("'x' = a", "unexpected token ''x'' at position 0: expected a field name"),
    ],
)
def test_parse_refuses_naming_token_and_position(where: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        ceql.parse(where)
    ((field, found),) = caught.value.problems
    assert field == "where"
    assert found.startswith(problem), found


def test_the_field_can_be_named() -> None:
    with pytest.raises(InputError) as caught:
        ceql.parse("a or b", field="query.where")
    assert caught.value.problems[0][0] == "query.where"


def test_conditions_are_frozen() -> None:
    condition = ceql.parse("a = 1")[0]
    with pytest.raises(AttributeError):
        condition.op = "!="  # type: ignore[misc]

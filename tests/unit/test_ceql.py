from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headwater.domain import ceql
from headwater.domain.ceql import And, Condition, In, IsNull, Like, Not, Or
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
        ("a = 1 and", "unexpected end of the expression: expected a field name, NOT or '('"),
        ("a =", "unexpected end of the expression: expected a quoted value or a number"),
        ("a", "unexpected end of the expression: expected an operator"),
        ("a = b", "unexpected token 'b' at position 4: expected a quoted value or a number"),
        ("a == 1", "unexpected token '=' at position 3: expected a quoted value or a number"),
        ("a <> 1", "unexpected token '>' at position 3: expected a quoted value or a number"),
        ("a = 1 b = 2", "unexpected token 'b' at position 6: expected AND or OR"),
        ("and = 1", "unexpected token 'and' at position 0: expected a field name"),
        ("a = 'x", "unterminated quoted value at position 4"),
        ("a = 1; drop table x", "unexpected token ';' at position 5: expected AND or OR"),
        ("'x' = a", "unexpected token ''x'' at position 0: expected a field name"),
        ("a = 1 or", "unexpected end of the expression: expected a field name"),
        ("(a = 1", "unexpected end of the expression: expected ')' to close the '(' at position 0"),
        ("(a = 1 b", "unexpected token 'b' at position 7: expected AND, OR or ')' to close"),
        ("a = 1)", "unexpected token ')' at position 5: expected AND or OR (this ')' closes no"),
        ("()", "unexpected token ')' at position 1: expected a field name, NOT or '('"),
        ("a in ()", "IN () at position 5 is empty: give at least one value"),
        ("a in (1,)", "unexpected token ')' at position 8: expected a quoted value or a number"),
        ("a in (1 2)", "unexpected token '2' at position 8: expected ',' or ')'"),
        ("a in 1", "unexpected token '1' at position 5: expected '(' and a list of values"),
        ("a like 5", "unexpected token '5' at position 7: expected a quoted pattern"),
        ("a like 'x\\'", "the pattern at position 7 ends with a lone backslash"),
        ("a is 1", "unexpected token '1' at position 5: expected NULL"),
        ("a is not", "unexpected end of the expression: expected NULL"),
        ("a not = 1", "unexpected token '=' at position 6: expected IN or LIKE after NOT"),
        ("a = null", "'null' at position 4 is not a value: use IS NULL or IS NOT NULL"),
        ("a != NULL", "'NULL' at position 5 is not a value: use IS NULL"),
        ("not", "unexpected end of the expression: expected a field name, NOT or '('"),
        ("a = 1 or or b = 2", "unexpected token 'or' at position 9: expected a field name"),
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


def a(value: object = 1) -> Condition:
    return Condition("a", "=", value)  # type: ignore[arg-type]


def b(value: object = 2) -> Condition:
    return Condition("b", "=", value)  # type: ignore[arg-type]


def c(value: object = 3) -> Condition:
    return Condition("c", "=", value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        # AND binds tighter than OR, NOT tighter than AND; keywords in any case
        ("a=1 or b=2 and c=3", [Or((a(), And((b(), c()))))]),
        ("a=1 and b=2 or c=3", [Or((And((a(), b())), c()))]),
        ("(a=1 or b=2) and c=3", [Or((a(), b())), c()]),
        ("a=1 OR b=2 Or c=3", [Or((a(), b(), c()))]),
        ("not a=1 and b=2", [Not(a()), b()]),
        ("NOT (a=1 and b=2)", [Not(And((a(), b())))]),
        ("not not a=1", [Not(Not(a()))]),
        ("((a=1))", [a()]),
        ("a=1 and (b=2 and c=3)", [a(), b(), c()]),
        ("(a=1 or b=2) or c=3", [Or((Or((a(), b())), c()))]),
        ("a in (1, 'x', 2.5)", [In("a", (1, "x", 2.5))]),
        ("a NOT IN ('x')", [In("a", ("x",), negated=True)]),
        ("a like 'O''B%'", [Like("a", "O'B%")]),
        ("a not like '50\\%'", [Like("a", "50\\%", negated=True)]),
        ("a is null", [IsNull("a")]),
        ("a IS NOT NULL", [IsNull("a", negated=True)]),
        ("`not` is null or `in` in (1)", [Or((IsNull("not"), In("in", (1,))))]),
        ("a in(1)and b=2", [In("a", (1,)), b()]),
    ],
)
def test_precedence_parentheses_and_predicates(where: str, expected: list[ceql.Expr]) -> None:
    assert ceql.parse(where) == expected


def test_positions_point_at_operators_and_fields() -> None:
    (found,) = ceql.parse("modafter='1' or modbefore='2'")
    assert isinstance(found, Or) and found.position == 13
    (negation,) = ceql.parse("x = 1 and not y in (2)")[1:]
    assert isinstance(negation, Not) and negation.position == 10
    assert isinstance(negation.term, In) and negation.term.position == 14


def test_nesting_length_terms_and_values_are_bounded() -> None:
    deep = "(" * (ceql.MAX_DEPTH + 1) + "a=1" + ")" * (ceql.MAX_DEPTH + 1)
    with pytest.raises(InputError, match="nested more than 32 levels deep at position 32"):
        ceql.parse(deep)
    assert ceql.parse("(" * ceql.MAX_DEPTH + "a=1" + ")" * ceql.MAX_DEPTH) == [a()]
    with pytest.raises(InputError, match="nested more than"):
        ceql.parse("not " * 40 + "a=1")
    with pytest.raises(InputError, match="longer than 4000 characters"):
        ceql.parse("a=" + "1" * 4000)
    with pytest.raises(InputError, match="more than 200 comparisons"):
        ceql.parse(" or ".join(["a=1"] * 201))
    with pytest.raises(InputError, match="more than 500 values"):
        ceql.parse("a in (" + ",".join(["1"] * 501) + ")")
    with pytest.raises(InputError, match="number at position 2 is too long"):
        ceql.parse("a=" + "9" * 41)


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("a%", ["a", "abc", "a%"], ["ba", "A"]),
        ("a_c", ["abc", "a_c", "a%c"], ["ac", "abbc"]),
        ("50\\%", ["50%"], ["50", "500", "50%x"]),
        ("a\\_c", ["a_c"], ["abc"]),
        ("a\\\\%", ["a\\", "a\\x"], ["ax"]),
        ("%.*[x]?%", ["..*[x]?", "a.*[x]?b"], ["ax", "a.*x?"]),
        ("%\n%", ["a\nb"], ["ab"]),
    ],
)
def test_like_patterns(pattern: str, matches: list[str], misses: list[str]) -> None:
    regex = ceql.like_regex(pattern)
    for text in matches:
        assert regex.fullmatch(text), (pattern, text)
    for text in misses:
        assert not regex.fullmatch(text), (pattern, text)


_names = st.sampled_from(["a", "b", "objectId", "raw.x", "`odd name`", "`or`"])
_values = st.one_of(
    st.integers(-(10**12), 10**12),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=8),
)


def _value_text(value: object) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


@st.composite
def _expressions(draw: st.DrawFn, depth: int = 0) -> str:
    kind = draw(
        st.sampled_from(["cmp", "in", "like", "null"] + (["and", "or", "not"] * (depth < 3)))
    )
    name = draw(_names)
    if kind == "cmp":
        op = draw(st.sampled_from(ceql.OPERATORS))
        return f"{name} {op} {_value_text(draw(_values))}"
    if kind == "in":
        values = draw(st.lists(_values, min_size=1, max_size=3))
        neg = draw(st.sampled_from(["", "not "]))
        return f"{name} {neg}in (" + ", ".join(_value_text(v) for v in values) + ")"
    if kind == "like":
        pattern = draw(st.text(alphabet="ab%_'\\", max_size=6)).rstrip("\\")
        return f"{name} like {_value_text(pattern)}"
    if kind == "null":
        return f"{name} is {draw(st.sampled_from(['', 'not ']))}null"
    if kind == "not":
        return f"not ({draw(_expressions(depth + 1))})"
    left, right = draw(_expressions(depth + 1)), draw(_expressions(depth + 1))
    return f"({left}) {kind} ({right})"


def _render(expr: ceql.Expr) -> str:
    """CEQL text for a parsed expression, fully parenthesized."""
    if isinstance(expr, Condition):
        return f"`{expr.field}` {expr.op} {_value_text(expr.value)}"
    if isinstance(expr, In):
        values = ", ".join(_value_text(v) for v in expr.values)
        return f"`{expr.field}` {'not ' if expr.negated else ''}in ({values})"
    if isinstance(expr, Like):
        return f"`{expr.field}` {'not ' if expr.negated else ''}like {_value_text(expr.pattern)}"
    if isinstance(expr, IsNull):
        return f"`{expr.field}` is {'not ' if expr.negated else ''}null"
    if isinstance(expr, Not):
        return f"not ({_render(expr.term)})"
    joiner = " or " if isinstance(expr, Or) else " and "
    return joiner.join(f"({_render(term)})" for term in expr.terms)


@settings(max_examples=300, deadline=None)
@given(_expressions())
def test_round_trip(where: str) -> None:
    parsed = ceql.parse(where)
    again = ceql.parse(" and ".join(f"({_render(term)})" for term in parsed))
    assert again == parsed

"""CEQL ``where`` conditions as SQLAlchemy expressions over a table's named fields.

Each queryable table names its fields as ``{wire name: (column, reader)}``; a reader turns the
condition's value into the column's type or raises ValueError saying what it must be.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles

from headwater.domain import ceql, dates
from headwater.errors import InputError

Reader = Callable[[object], object]
Fields = Mapping[str, tuple[Any, Reader]]

_INT32 = 2**31


def whole(value: object) -> int:
    """A whole number that fits the databases' INTEGER."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"must be a whole number, not {value!r}")
    if not -_INT32 <= value < _INT32:
        raise ValueError(f"is out of range: {value}")
    return value


def text(value: object) -> str:
    if isinstance(value, str) and "\x00" not in value:
        return value
    raise ValueError(f"must be a quoted text without NUL characters, not {value!r}")


def upper(value: object) -> str:
    return text(value).upper()


def lower(value: object) -> str:
    return text(value).lower()


def date(value: object) -> dt.datetime:
    try:
        return dates.parse(value, None, None)
    except ValueError:
        raise ValueError(
            f"must be an ISO-8601 date-time such as '2026-11-29T10:15:00Z', not {value!r}"
        ) from None


_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "=": lambda column, value: column == value,
    "!=": lambda column, value: column != value,
    "<": lambda column, value: column < value,
    "<=": lambda column, value: column <= value,
    ">": lambda column, value: column > value,
    ">=": lambda column, value: column >= value,
}


def translate(
    conditions: Sequence[ceql.Expr], fields: Fields, *, field: str = "where"
) -> list[Any]:
    """SQLAlchemy expressions for the AND terms ``conditions`` over ``fields``; one InputError
    naming every bad comparison, under ``field``.

    A comparison with a field that has no value (NULL) is false, whatever its operator (ask with
    ``IS NULL``); ``NOT`` of a false term is true. Values only ever travel as bound parameters.
    """
    problems: list[tuple[str, str]] = []
    clauses = [_expression(term, fields, field, problems) for term in conditions]
    if problems:
        raise InputError(problems=problems)
    return clauses


def _expression(
    expr: ceql.Expr, fields: Fields, field: str, problems: list[tuple[str, str]]
) -> Any:
    if isinstance(expr, ceql.And):
        return sa.and_(*(_expression(term, fields, field, problems) for term in expr.terms))
    if isinstance(expr, ceql.Or):
        return sa.or_(*(_expression(term, fields, field, problems) for term in expr.terms))
    if isinstance(expr, ceql.Not):
        inner = _expression(expr.term, fields, field, problems)
        # NULL (a comparison with a missing value) counts as false, so NOT of it is true
        return sa.not_(sa.func.coalesce(inner, sa.false()))
    known = fields.get(expr.field)
    if known is None:
        names = ", ".join(fields)
        problems.append((field, f"unknown field '{expr.field}' (known: {names})"))
        return sa.false()
    column, read = known
    try:
        return _predicate(expr, column, read)
    except ValueError as exc:
        problems.append((field, f"{expr.field} {exc}"))
        return sa.false()


def _predicate(expr: ceql.Predicate, column: Any, read: Reader) -> Any:
    if isinstance(expr, ceql.Condition):
        return _OPERATORS[expr.op](column, read(expr.value))
    if isinstance(expr, ceql.In):
        values = [read(value) for value in expr.values]
        return column.not_in(values) if expr.negated else column.in_(values)
    if isinstance(expr, ceql.IsNull):
        return column.is_not(None) if expr.negated else column.is_(None)
    if not isinstance(getattr(column, "type", None), sa.String):
        raise ValueError("is not a text field; LIKE applies to text fields only")
    pattern = read(expr.pattern)
    assert isinstance(pattern, str)
    matches = Like(column, pattern)
    return sa.not_(matches) if expr.negated else matches


class Like(sa.sql.expression.ColumnElement[bool]):
    """``column LIKE pattern`` with CEQL's wildcards (``%``, ``_``, ``\\`` escaping the next
    character), case-sensitive on every database: ``LIKE … ESCAPE`` where LIKE is case-sensitive
    (PostgreSQL), ``GLOB`` on SQLite, whose LIKE ignores ASCII case."""

    inherit_cache = False
    type = sa.Boolean()

    def __init__(self, column: Any, pattern: str) -> None:
        self.column = column
        self.pattern = pattern


@compiles(Like)
def _compile_like(element: Like, compiler: Any, **kw: Any) -> str:
    clause = element.column.like(sa.literal(element.pattern, sa.String), escape="\\")
    return f"({compiler.process(clause, **kw)})"


@compiles(Like, "sqlite")
def _compile_glob(element: Like, compiler: Any, **kw: Any) -> str:
    glob = element.column.op("GLOB", is_comparison=True)(
        sa.literal(glob_pattern(element.pattern), sa.String)
    )
    return f"({compiler.process(glob, **kw)})"


def glob_pattern(pattern: str) -> str:
    """A LIKE pattern as the SQLite GLOB pattern that matches the same texts."""
    parts: list[str] = []
    escaped = False
    for char in pattern:
        if not escaped and char == "\\":
            escaped = True
            continue
        if not escaped and char in "%_":
            parts.append("*" if char == "%" else "?")
        elif char in "*?[":
            parts.append(f"[{char}]")
        else:
            parts.append(char)
        escaped = False
    return "".join(parts)

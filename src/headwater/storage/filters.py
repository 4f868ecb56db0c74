"""CEQL ``where`` conditions as SQLAlchemy expressions over a table's named fields.

Each queryable table names its fields as ``{wire name: (column, reader)}``; a reader turns the
condition's value into the column's type or raises ValueError saying what it must be.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

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
    conditions: Sequence[ceql.Condition], fields: Fields, *, field: str = "where"
) -> list[Any]:
    """SQLAlchemy expressions for ``conditions`` over ``fields``; one InputError naming every
    bad condition, under ``field``."""
    problems: list[tuple[str, str]] = []
    clauses: list[Any] = []
    for condition in conditions:
        known = fields.get(condition.field)
        if known is None:
            names = ", ".join(fields)
            problems.append((field, f"unknown field '{condition.field}' (known: {names})"))
            continue
        column, read = known
        try:
            value = read(condition.value)
        except ValueError as exc:
            problems.append((field, f"{condition.field} {exc}"))
            continue
        clauses.append(_OPERATORS[condition.op](column, value))
    if problems:
        raise InputError(problems=problems)
    return clauses

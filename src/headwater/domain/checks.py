"""Checkers of configuration values, shared by :mod:`config` and :mod:`resources`.

A checker takes ``(value, name, problems)`` and returns the canonical value, or raises
:class:`Invalid` with the problem; a checker of a nested object appends the problems of its parts
to ``problems`` (each named in full) and returns what was valid.
"""

from __future__ import annotations

import json
import math

Problems = list[tuple[str, str]]


class Invalid(ValueError):
    """The problem with one value, reported under the name of the key that holds it."""


def named(problems: Problems, name: str) -> bool:
    """Whether a problem was already reported for ``name`` or a key inside it."""
    return any(found == name or found.startswith(name + ".") for found, _ in problems)


def show(value: object) -> str:
    """``value`` as JSON for a message, cut short when long."""
    try:
        text = json.dumps(value, default=str)
    except ValueError:  # an integer longer than Python writes out (4300 digits by default)
        return "a number too long to show"
    return text if len(text) <= 60 else text[:57] + "..."


def boolean(value: object, name: str, problems: Problems) -> bool:
    """The checker of a flag: a boolean, or ``"true"``/``"false"`` in any case."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise Invalid(f"must be true or false, not {show(value)}")


def number(value: object) -> float:
    """A finite number from a number or a numeric string; raises Invalid."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Invalid(f"must be a number, not {show(value)}")
    try:
        found = float(value)
    except ValueError:
        raise Invalid(f"must be a number, not {show(value)}") from None
    except OverflowError:  # an integer beyond any float
        raise Invalid(f"must be a number within range, not {show(value)}") from None
    if not math.isfinite(found):
        raise Invalid(f"must be a finite number, not {show(value)}")
    return found


def seconds(value: object, *, most: float) -> float:
    """A number of seconds from 0 to ``most``; raises Invalid."""
    found = number(value)
    if not 0 <= found <= most:
        raise Invalid(
            f"must be a number of seconds from 0 to {most:.0f} ({duration(most)}),"
            f" not {show(value)}"
        )
    return found


def duration(seconds: float) -> str:
    """``seconds`` in the largest whole unit that fits, for messages: ``31 days``, ``24 hours``."""
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds:g} second{'' if seconds == 1 else 's'}"

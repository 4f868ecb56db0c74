"""Poller URL variables and path placeholders.

Variables stand for the poll's cursor (already moved back by ``pollDelay``): ``${epoch}`` and
``${epoch:ms}``/``${milliseconds}`` (epoch milliseconds), ``${epoch:s}``, ``${epoch:us}``,
``${gmtDate:<Java pattern>}`` and ``${date:<Java pattern>}`` (UTC), and
``${dateTimeZone:<zone>:<Java pattern>}`` (an IANA zone, a Java short id such as ``PST``, or an
offset such as ``-8:00``). Each value is percent-encoded where it needs to be; the URL around it is
left as written. Path placeholders such as ``{listId}`` are not variables: the poller fills them
with :func:`fill`.
"""

from __future__ import annotations

import re
import urllib.parse
from datetime import UTC, datetime, timedelta

from headwater.domain import dates

_VARIABLE = re.compile(r"\$\{([^{}]*)\}")
_PLACEHOLDER = re.compile(r"(?<!\$)\{([A-Za-z_][A-Za-z0-9_-]*)\}")
_ZONED = re.compile(r"dateTimeZone:((?:GMT|UTC|UT)?[+-]\d{1,2}(?::?\d{2})?|[^:]+):(.+)", re.DOTALL)
_EPOCH_UNITS = {
    "epoch": 1000,
    "milliseconds": 1000,
    "epoch:ms": 1000,
    "epoch:s": 1,
    "epoch:us": 10**6,
}
_KNOWN = (
    "${epoch}, ${epoch:s}, ${epoch:ms}, ${epoch:us}, ${milliseconds}, ${gmtDate:<pattern>},"
    " ${date:<pattern>}, ${dateTimeZone:<zone>:<pattern>}"
)
_SAMPLE = datetime(2026, 11, 29, 10, 15, tzinfo=UTC)


def expand(url: str, cursor: datetime) -> str:
    """``url`` with each variable replaced by ``cursor``'s value; raises ValueError on a bad one."""
    if cursor.tzinfo is None or cursor.utcoffset() is None:
        raise ValueError("the cursor must be an aware datetime")
    return _VARIABLE.sub(lambda match: _value(match.group(1), cursor), url)


def validate(url: str) -> list[str]:
    """Every problem with the variables and placeholders of ``url`` (empty when it is usable)."""
    problems: list[str] = []
    for match in _VARIABLE.finditer(url):
        try:
            _value(match.group(1), _SAMPLE)
        except ValueError as exc:
            problems.append(str(exc))
    rest = _PLACEHOLDER.sub("", _VARIABLE.sub("", url))
    if "${" in rest:
        problems.append("a '${' is never closed by '}'")
    elif "{" in rest or "}" in rest:
        problems.append(
            "a brace is neither part of a {placeholder} (letters, digits, _ and -)"
            " nor of a ${variable}"
        )
    return problems


def placeholders(url: str) -> list[str]:
    """The names of the path placeholders of ``url`` (``{listId}`` → ``listId``), in order."""
    return list(dict.fromkeys(_PLACEHOLDER.findall(url)))


def fill(url: str, name: str, value: str) -> str:
    """``url`` with the placeholder ``{name}`` replaced by ``value``, percent-encoded."""
    encoded = urllib.parse.quote(value, safe="")
    return re.sub(r"(?<!\$)\{" + re.escape(name) + r"\}", lambda _: encoded, url)


def _value(spec: str, cursor: datetime) -> str:
    if spec in _EPOCH_UNITS:
        per_second = _EPOCH_UNITS[spec]
        return str((cursor - dates.EPOCH) // (timedelta(seconds=1) / per_second))
    name, _, pattern = spec.partition(":")
    if name == "epoch":
        raise ValueError(f"'${{{spec}}}': unknown epoch unit '{pattern}' (use s, ms or us)")
    if name in ("gmtDate", "date"):
        if not pattern:
            raise ValueError(
                f"'${{{spec}}}' needs a Java date pattern,"
                f" e.g. ${{{name}:yyyy-MM-dd'T'HH:mm:ss'Z'}}"
            )
        return _formatted(spec, cursor, pattern, None)
    if name == "dateTimeZone":
        zoned = _ZONED.fullmatch(spec)
        if zoned is None:
            raise ValueError(
                f"'${{{spec}}}' must be written ${{dateTimeZone:<zone>:<Java pattern>}},"
                " e.g. ${dateTimeZone:America/New_York:yyyy-MM-dd HH:mm:ss}"
            )
        return _formatted(spec, cursor, zoned.group(2), zoned.group(1))
    raise ValueError(f"unknown URL variable '${{{spec}}}' (known: {_KNOWN})")


def _formatted(spec: str, cursor: datetime, pattern: str, tz: str | None) -> str:
    problem = dates.validate_format(pattern)
    if problem is not None or dates.keyword(pattern) is not None:
        raise ValueError(f"'${{{spec}}}': {problem or 'needs a Java date pattern'}")
    try:
        text = dates.format_java(cursor, pattern, tz)
    except ValueError as exc:
        raise ValueError(f"'${{{spec}}}': {exc}") from None
    except OverflowError:  # a cursor at the edge of the calendar, moved into another zone
        raise ValueError(f"'${{{spec}}}': {dates.iso(cursor)} cannot be written there") from None
    return urllib.parse.quote(text, safe=":")

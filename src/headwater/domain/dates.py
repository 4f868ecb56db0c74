"""Date formats of poller records and URL variables.

A format is one of the keywords ``milliseconds`` or ``seconds`` (epoch numbers, also as numeric
strings), ``iso8601`` (also ``ISO8601``, ``iso``), ``None`` (numbers as milliseconds, strings as
ISO-8601) or a Java ``SimpleDateFormat`` pattern such as ``yyyy-MM-dd'T'HH:mm:ss.SSSXXX``.

Patterns are read as :mod:`headwater.domain.java_dates` says; a value without a zone is read in the
given time zone (an IANA name, a Java short id such as ``PST``, or an offset: see
:func:`headwater.domain.zones.zone`), else UTC. Every parsed value is an aware UTC datetime with
its microseconds.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from headwater.domain import java_dates, zones

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_KEYWORDS = {
    "milliseconds": "milliseconds",
    "seconds": "seconds",
    "iso8601": "iso8601",
    "iso-8601": "iso8601",
    "iso": "iso8601",
}
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def to_ms(dt: datetime) -> int:
    """Epoch milliseconds of an aware datetime (floored)."""
    return (_aware(dt) - EPOCH) // timedelta(milliseconds=1)


def from_ms(ms: int) -> datetime:
    """The aware UTC datetime of epoch milliseconds."""
    return EPOCH + timedelta(milliseconds=ms)


def iso(dt: datetime) -> str:
    """The wire form: ISO-8601 UTC with milliseconds and ``Z``: ``2026-11-29T10:15:00.123Z``."""
    return _aware(dt).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def keyword(fmt: str | None) -> str | None:
    """The canonical keyword ``fmt`` names (``milliseconds``, ``seconds``, ``iso8601``), if any."""
    return None if fmt is None else _KEYWORDS.get(fmt.strip().lower())


def validate_format(fmt: object) -> str | None:
    """The problem with ``fmt`` as a date format, or ``None`` when it is usable."""
    if fmt is None:
        return None
    if not isinstance(fmt, str) or not fmt.strip():
        return "must be milliseconds, seconds, iso8601 or a Java date pattern"
    if keyword(fmt) is not None:
        return None
    try:
        java_dates.compile_pattern(fmt)
    except ValueError as exc:
        return (
            f"unknown date format '{fmt}': {exc}"
            " (use milliseconds, seconds, iso8601 or a Java date pattern"
            " such as yyyy-MM-dd'T'HH:mm:ssXXX)"
        )
    return None


def parse(value: object, fmt: str | None, tz: str | None) -> datetime:
    """``value`` read with ``fmt`` as an aware UTC datetime; raises ValueError saying why not."""
    if isinstance(value, datetime):
        return _local(value, tz).astimezone(UTC)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{_show(value)} is not a date")
    kind = keyword(fmt)
    if fmt is None:
        numeric = not isinstance(value, str) or _NUMBER.fullmatch(value.strip()) is not None
        kind = "milliseconds" if numeric else "iso8601"
    if kind == "milliseconds":
        return _from_epoch(value, 1000)
    if kind == "seconds":
        return _from_epoch(value, 1)
    if kind == "iso8601":
        if not isinstance(value, str):
            raise ValueError(f"{_show(value)} is not an ISO-8601 date-time string")
        return _parse_iso(value, tz)
    assert fmt is not None
    if isinstance(value, float):
        raise ValueError(f"{_show(value)} is not a date string for format '{fmt}'")
    return java_dates.compile_pattern(fmt).parse(
        str(value), tz
    )  # an integer such as 20261129 for yyyyMMdd


def format_java(dt: datetime, pattern: str, tz: str | None) -> str:
    """``dt`` written with a Java date pattern, in time zone ``tz`` (default UTC)."""
    local = _aware(dt).astimezone(zones.zone(tz))
    return java_dates.compile_pattern(pattern).format(local)


def _aware(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("a naive datetime has no instant; give it a time zone")
    return dt


def _local(dt: datetime, tz: str | None) -> datetime:
    return dt.replace(tzinfo=zones.zone(tz)) if dt.tzinfo is None else dt


def _from_epoch(value: int | float | str, per_second: int) -> datetime:
    unit = "milliseconds" if per_second == 1000 else "seconds"
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()) is None:
        raise ValueError(f"{_show(value)} is not a number of epoch {unit}")
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(repr(value))
    except InvalidOperation:
        raise ValueError(f"{_show(value)} is not a number of epoch {unit}") from None
    if not number.is_finite():
        raise ValueError(f"{_show(value)} is not a number of epoch {unit}")
    micros = int((number * 1_000_000 / per_second).to_integral_value())
    try:
        return EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        raise ValueError(f"{_show(value)} epoch {unit} is out of range") from None


def _parse_iso(value: str, tz: str | None) -> datetime:
    text = value.strip()
    if text[-1:] in ("z", "Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{_show(value)} is not an ISO-8601 date-time") from None
    return _local(parsed, tz).astimezone(UTC)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."

"""Java ``SimpleDateFormat`` patterns such as ``yyyy-MM-dd'T'HH:mm:ss.SSSXXX``: read and written.

Patterns are read as Java reads them, with two deliberate differences: ``S`` is a fraction of a
second (as ``java.time`` reads it, so ``SSSSSS`` keeps microseconds), and the whole value must
match (Java ignores trailing text, which silently drops precision). A pattern without a zone is
read in the given time zone (see :func:`headwater.domain.zones.zone`), else UTC.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from headwater.domain import zones

_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_SUPPORTED = frozenset("yMLdEaHkKhmsSzZX")
_UNSUPPORTED = {
    "G": "it is the era",
    "Y": "it is the week year; use y for the year",
    "w": "it is the week in year",
    "W": "it is the week in month",
    "D": "it is the day in year",
    "F": "it is the day of week in month",
    "u": "it is the day number of week",
}
_NUMERIC = frozenset("ydHkKhmsS")
_WIDTH = {"y": 4, "M": 2, "L": 2, "d": 2, "H": 2, "k": 2, "K": 2, "h": 2, "m": 2, "s": 2, "S": 9}
# Zone names a formatted value may carry (minutes east of UTC), as RFC 822 and Java know them.
_ZONE_NAMES = {
    "UTC": 0, "GMT": 0, "UT": 0, "Z": 0, "WET": 0, "WEST": 60, "BST": 60, "CET": 60, "CEST": 120,
    "EET": 120, "EEST": 180, "MSK": 180, "JST": 540, "KST": 540, "AEST": 600, "AEDT": 660,
    "EST": -300, "EDT": -240, "CST": -360, "CDT": -300, "MST": -420, "MDT": -360,
    "PST": -480, "PDT": -420, "AKST": -540, "AKDT": -480, "HST": -600,
}  # fmt: skip
_ZONE_REGEX = {
    "z": r"(?:GMT|UTC|UT)[+-]\d{1,2}(?::?\d{2})?|[A-Z]{1,5}|[+-]\d{2}:?\d{2}",
    "Z": r"[+-]\d{2}:?\d{2}|(?:GMT|UTC|UT)[+-]\d{1,2}(?::?\d{2})?|GMT|UTC|UT|Z",
    "X": r"Z|[+-]\d{2}(?::?\d{2})?",
}


@dataclasses.dataclass(frozen=True)
class _Token:
    letter: str  # "" for literal text
    count: int = 0
    text: str = ""

    @property
    def numeric(self) -> bool:
        return self.letter in _NUMERIC or (self.letter in ("M", "L") and self.count <= 2)


@dataclasses.dataclass(frozen=True)
class Pattern:
    """A compiled pattern: ``parse`` reads a value with it, ``format`` writes one."""

    pattern: str
    tokens: tuple[_Token, ...]
    regex: re.Pattern[str]

    def parse(self, value: str, tz: str | None) -> datetime:
        """``value`` as an aware UTC datetime (in zone ``tz`` when it names none); or ValueError."""
        match = self.regex.fullmatch(value.strip())
        if match is None:
            raise ValueError(f"{_show(value)} does not match the date pattern '{self.pattern}'")
        year, month, day, hour, minute, second, micros = 1970, 1, 1, 0, 0, 0, 0
        half_day_hour: int | None = None
        pm = False
        found_zone: tzinfo | None = None
        for index, token in enumerate(self.tokens):
            if not token.letter:
                continue
            text, letter = match.group(f"f{index}"), token.letter
            if letter == "y":
                year = _year(text, token.count)
            elif letter in "ML":
                month = int(text) if token.count <= 2 else _name_index(text, _MONTHS) + 1
            elif letter == "d":
                day = int(text)
            elif letter == "H":
                hour = int(text)
            elif letter == "k":
                hour = _ranged(text, 1, 24, "hour (k)", value) % 24
            elif letter == "h":
                half_day_hour = _ranged(text, 1, 12, "hour (h)", value) % 12
            elif letter == "K":
                half_day_hour = _ranged(text, 0, 11, "hour (K)", value)
            elif letter == "a":
                pm = text.upper() == "PM"
            elif letter == "m":
                minute = int(text)
            elif letter == "s":
                second = int(text)
            elif letter == "S":
                micros = int(text[:6].ljust(6, "0"))
            elif letter in "zZX":
                found_zone = _zone_in_value(text)
        if half_day_hour is not None:
            hour = half_day_hour + (12 if pm else 0)
        try:
            local = datetime(year, month, day, hour, minute, second, micros)
        except ValueError as exc:
            raise ValueError(f"{_show(value)} is not a valid date ({exc})") from None
        return local.replace(tzinfo=found_zone or zones.zone(tz)).astimezone(UTC)

    def format(self, local: datetime) -> str:
        """``local`` written with the pattern, in its own time zone."""
        return "".join(_format_token(token, local) for token in self.tokens)


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> Pattern:
    """``pattern`` compiled; raises ValueError saying what is wrong with it."""
    tokens = _tokenize(pattern)
    if not any(token.letter for token in tokens):
        raise ValueError("the pattern has no date or time letters")
    parts: list[str] = []
    for index, token in enumerate(tokens):
        if not token.letter:
            parts.append(re.escape(token.text))
            continue
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        parts.append(f"(?P<f{index}>{_token_regex(token, following)})")
    return Pattern(pattern, tuple(tokens), re.compile("".join(parts), re.IGNORECASE))


def _tokenize(pattern: str) -> list[_Token]:
    tokens: list[_Token] = []

    def literal(text: str) -> None:
        if tokens and not tokens[-1].letter:
            tokens[-1] = _Token("", text=tokens[-1].text + text)
        else:
            tokens.append(_Token("", text=text))

    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "'":
            if pattern.startswith("''", i):
                literal("'")
                i += 2
                continue
            end, text = i + 1, []
            while True:
                if end >= len(pattern):
                    raise ValueError(f"the quote at position {i} is never closed")
                if pattern.startswith("''", end):
                    text.append("'")
                    end += 2
                    continue
                if pattern[end] == "'":
                    break
                text.append(pattern[end])
                end += 1
            literal("".join(text))
            i = end + 1
        elif char.isascii() and char.isalpha():
            end = i
            while end < len(pattern) and pattern[end] == char:
                end += 1
            if char in _UNSUPPORTED:
                raise ValueError(f"pattern letter '{char}' is not supported: {_UNSUPPORTED[char]}")
            if char not in _SUPPORTED:
                raise ValueError(
                    f"invalid pattern letter '{char}' at position {i};"
                    f" put literal text in single quotes, e.g. '{char}'"
                )
            if char == "X" and end - i > 3:
                # as Java's SimpleDateFormat, which refuses the pattern
                raise ValueError(f"'{pattern[i:end]}' at position {i}: X is written X, XX or XXX")
            tokens.append(_Token(char, end - i))
            i = end
        else:
            literal(char)
            i += 1
    return tokens


def _token_regex(token: _Token, following: _Token | None) -> str:
    letter, count = token.letter, token.count
    if letter in _ZONE_REGEX:
        return _ZONE_REGEX[letter]
    if letter == "a":
        return "AM|PM"
    if letter == "E":
        return _names(_DAYS)
    if letter in "ML" and count > 2:
        return _names(_MONTHS)
    if following is not None and following.numeric:
        return rf"\d{{{count}}}"  # adjacent numbers, as in yyyyMMdd: fixed widths
    return rf"\d{{1,{max(count, _WIDTH[letter])}}}"


def _names(names: tuple[str, ...]) -> str:
    both = {*names, *(name[:3] for name in names)}
    return "|".join(sorted(both, key=len, reverse=True))


def _name_index(text: str, names: tuple[str, ...]) -> int:
    lowered = text.lower()
    return next(i for i, name in enumerate(names) if lowered in (name.lower(), name[:3].lower()))


def _year(text: str, count: int) -> int:
    if count <= 2 and len(text) == 2:
        # Java reads a two-digit year within 80 years before and 20 after the present.
        start = datetime.now(UTC).year - 80
        year = start - start % 100 + int(text)
        return year + 100 if year < start else year
    return int(text)


def _ranged(text: str, low: int, high: int, what: str, value: str) -> int:
    number = int(text)
    if not low <= number <= high:
        raise ValueError(f"{_show(value)} has {what} {number}, outside {low}-{high}")
    return number


def _zone_in_value(text: str) -> tzinfo:
    minutes = _ZONE_NAMES.get(text.upper())
    if minutes is not None:
        return UTC if minutes == 0 else timezone(timedelta(minutes=minutes))
    if zones.OFFSET.fullmatch(text) is None:
        raise ValueError(f"unknown time zone '{text}' in the date")
    return zones.zone(text)


def _format_token(token: _Token, local: datetime) -> str:
    letter, count = token.letter, token.count
    if not letter:
        return token.text
    if letter == "y":
        return f"{local.year % 100:02d}" if count == 2 else str(local.year).zfill(count)
    if letter in "ML":
        if count <= 2:
            return str(local.month).zfill(count)
        name = _MONTHS[local.month - 1]
        return name[:3] if count == 3 else name
    if letter == "E":
        name = _DAYS[local.weekday()]
        return name[:3] if count <= 3 else name
    if letter == "a":
        return "PM" if local.hour >= 12 else "AM"
    if letter == "S":
        return f"{local.microsecond:06d}"[:count].ljust(count, "0")
    if letter in "zZX":
        return _format_zone(letter, count, local)
    number = {
        "d": local.day,
        "H": local.hour,
        "k": local.hour or 24,
        "K": local.hour % 12,
        "h": local.hour % 12 or 12,
        "m": local.minute,
        "s": local.second,
    }[letter]
    return str(number).zfill(count)


def _format_zone(letter: str, count: int, local: datetime) -> str:
    offset = local.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign, hours, rest = "-" if minutes < 0 else "+", abs(minutes) // 60, abs(minutes) % 60
    if letter == "z":
        name = (local.tzname() or "").upper()
        if _ZONE_NAMES.get(name) == minutes:
            return name
        return "UTC" if minutes == 0 else f"GMT{sign}{hours:02d}:{rest:02d}"
    if letter == "Z":
        return f"{sign}{hours:02d}{rest:02d}"
    if minutes == 0:
        return "Z"
    if count == 1:
        return f"{sign}{hours:02d}"
    return f"{sign}{hours:02d}{rest:02d}" if count == 2 else f"{sign}{hours:02d}:{rest:02d}"


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."

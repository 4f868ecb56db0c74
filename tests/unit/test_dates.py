from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from headwater.domain import dates, zones


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


MOMENT = utc(2026, 11, 29, 10, 15, 0)


@pytest.mark.parametrize(
    ("value", "fmt", "tz", "expected"),
    [
        # the patterns the issue lists
        ("2026-11-29T10:15:00+05:30", "yyyy-MM-dd'T'HH:mm:ssXXX", None, utc(2026, 11, 29, 4, 45)),
        ("2026-11-29T10:15:00Z", "yyyy-MM-dd'T'HH:mm:ssXXX", None, MOMENT),
        ("2026-11-29T10:15:00-0800", "yyyy-MM-dd'T'HH:mm:ssZ", None, utc(2026, 11, 29, 18, 15)),
        ("2026-11-29T10:15:00Z", "yyyy-MM-dd'T'HH:mm:ss'Z'", None, MOMENT),
        (
            "2026-11-29T10:15:00.123Z",
            "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
            None,
            utc(2026, 11, 29, 10, 15, 0, 123000),
        ),
        ("2026-11-29 10:15:00", "yyyy-MM-dd HH:mm:ss", None, MOMENT),
        ("2026-11-29 05:15:00", "yyyy-MM-dd HH:mm:ss", "America/New_York", MOMENT),
        ("2026-07-01 06:15:00", "yyyy-MM-dd HH:mm:ss", "America/New_York", utc(2026, 7, 1, 10, 15)),
        ("2026-11-29", "yyyy-MM-dd", None, utc(2026, 11, 29)),
        ("2026-11-29", "yyyy-MM-dd", "Asia/Tokyo", utc(2026, 11, 28, 15)),
        ("11/29/2026 10:15:00", "MM/dd/yyyy HH:mm:ss", None, MOMENT),
        ("Sun, 29 Nov 2026 10:15:00 +0000", "EEE, dd MMM yyyy HH:mm:ss Z", None, MOMENT),
        ("Sun, 29 Nov 2026 02:15:00 -0800", "EEE, dd MMM yyyy HH:mm:ss Z", None, MOMENT),
        # more of Java's letters
        ("Sun, 29 Nov 2026 10:15:00 GMT", "EEE, dd MMM yyyy HH:mm:ss z", None, MOMENT),
        ("29 Nov 2026 02:15 AM PST", "dd MMM yyyy hh:mm a z", None, MOMENT),
        (
            "29 november 2026 10:15 am GMT+05:30",
            "d MMMM yyyy h:mm a z",
            None,
            utc(2026, 11, 29, 4, 45),
        ),
        ("Sunday 29 Nov 2026 12:15 PM", "EEEE d MMM yyyy hh:mm a", None, utc(2026, 11, 29, 12, 15)),
        ("29 Nov 2026 12:15 AM", "d MMM yyyy hh:mm a", None, utc(2026, 11, 29, 0, 15)),
        ("29 Nov 2026 24:15", "d MMM yyyy kk:mm", None, utc(2026, 11, 29, 0, 15)),
        ("29 Nov 2026 11:15 PM", "d MMM yyyy KK:mm a", None, utc(2026, 11, 29, 23, 15)),
        ("20261129101500123", "yyyyMMddHHmmssSSS", None, utc(2026, 11, 29, 10, 15, 0, 123000)),
        (
            "2026-11-29T10:15:00.123456",
            "yyyy-MM-dd'T'HH:mm:ss.SSSSSS",
            None,
            utc(2026, 11, 29, 10, 15, 0, 123456),
        ),
        (
            "2026-11-29T10:15:00.5",
            "yyyy-MM-dd'T'HH:mm:ss.S",
            None,
            utc(2026, 11, 29, 10, 15, 0, 500000),
        ),
        (
            "2026-11-29T10:15:00.1234567",
            "yyyy-MM-dd'T'HH:mm:ss.SSSSSSS",
            None,
            utc(2026, 11, 29, 10, 15, 0, 123456),
        ),
        ("2026-11-29T10:15:00+05", "yyyy-MM-dd'T'HH:mm:ssX", None, utc(2026, 11, 29, 5, 15)),
        ("2026-11-29T10:15:00+0530", "yyyy-MM-dd'T'HH:mm:ssXX", None, utc(2026, 11, 29, 4, 45)),
        ("2026-11-29T10:15:00+05:30", "yyyy-MM-dd'T'HH:mm:ssZ", None, utc(2026, 11, 29, 4, 45)),
        ("It's 2026-11-29", "'It''s' yyyy-MM-dd", None, utc(2026, 11, 29)),
        ("2026-11-29 10:15:00 PDT", "yyyy-MM-dd HH:mm:ss z", None, utc(2026, 11, 29, 17, 15)),
        ("  2026-11-29  ", "yyyy-MM-dd", None, utc(2026, 11, 29)),
        ("1/2/2026", "M/d/yyyy", None, utc(2026, 1, 2)),
        (20261129, "yyyyMMdd", None, utc(2026, 11, 29)),
        ("2/1/2026", "d/M/y", None, utc(2026, 1, 2)),
        ("10:15", "HH:mm", None, utc(1970, 1, 1, 10, 15)),
        ("2026-11-29 10:15:00", "yyyy-MM-dd HH:mm:ss", "+05:30", utc(2026, 11, 29, 4, 45)),
        ("2026-11-29 10:15:00", "yyyy-MM-dd HH:mm:ss", "-8:00", utc(2026, 11, 29, 18, 15)),
        ("2026-11-29 10:15:00", "yyyy-MM-dd HH:mm:ss", "PST", utc(2026, 11, 29, 18, 15)),
        ("2026-11-29 10:15:00", "yyyy-MM-dd HH:mm:ss", "EST", utc(2026, 11, 29, 15, 15)),
        # keywords
        (1795947300123, "milliseconds", None, utc(2026, 11, 29, 10, 15, 0, 123000)),
        ("1795947300123", "milliseconds", None, utc(2026, 11, 29, 10, 15, 0, 123000)),
        (1795947300123.5, "milliseconds", None, utc(2026, 11, 29, 10, 15, 0, 123500)),
        ("1795947300", "seconds", None, MOMENT),
        (1795947300.25, "seconds", None, utc(2026, 11, 29, 10, 15, 0, 250000)),
        (-1000, "milliseconds", None, utc(1969, 12, 31, 23, 59, 59)),
        ("2026-11-29T10:15:00Z", "iso8601", None, MOMENT),
        ("2026-11-29T10:15:00.123456789Z", "ISO8601", None, utc(2026, 11, 29, 10, 15, 0, 123456)),
        ("2026-11-29T11:15:00+01:00", "iso", None, MOMENT),
        ("2026-11-29T05:15:00", "iso8601", "America/New_York", MOMENT),
        ("2026-11-29", "iso8601", None, utc(2026, 11, 29)),
        # auto
        (1795947300123, None, None, utc(2026, 11, 29, 10, 15, 0, 123000)),
        ("1795947300123", None, None, utc(2026, 11, 29, 10, 15, 0, 123000)),
        ("2026-11-29T10:15:00.123Z", None, None, utc(2026, 11, 29, 10, 15, 0, 123000)),
        (datetime(2026, 11, 29, 11, 15, tzinfo=timezone(timedelta(hours=1))), None, None, MOMENT),
    ],
)
def test_parse(value: object, fmt: str | None, tz: str | None, expected: datetime) -> None:
    parsed = dates.parse(value, fmt, tz)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "fmt", "words"),
    [
        ("2026-11-29T10:15:00", "yyyy-MM-dd'T'HH:mm:ssXXX", "does not match"),
        ("2026-11-29T10:15:00Z trailing", "yyyy-MM-dd'T'HH:mm:ss'Z'", "does not match"),
        ("2026-02-30", "yyyy-MM-dd", "not a valid date"),
        ("2026-13-01", "yyyy-MM-dd", "not a valid date"),
        ("2026-11-29 25:00", "yyyy-MM-dd HH:mm", "not a valid date"),
        ("2026-11-29 13:00 PM", "yyyy-MM-dd hh:mm a", "outside 1-12"),
        ("2026-11-29 10:00 XYZ", "yyyy-MM-dd HH:mm z", "unknown time zone 'XYZ'"),
        ("Foo, 29 Nov 2026", "EEE, dd MMM yyyy", "does not match"),
        (1795947300123, "yyyy-MM-dd", "does not match"),
        (20261129.0, "yyyyMMdd", "not a date string"),
        (1795947300123, "iso8601", "not an ISO-8601 date-time string"),
        ("abc", "milliseconds", "not a number of epoch milliseconds"),
        ("nan", "seconds", "not a number of epoch seconds"),
        ("1e400", "seconds", "out of range"),
        (10**20, "milliseconds", "out of range"),
        ("yesterday", "iso8601", "not an ISO-8601 date-time"),
        ("yesterday", None, "not an ISO-8601 date-time"),
        (True, "milliseconds", "not a date"),
        (None, None, "not a date"),
        ([1], None, "not a date"),
    ],
)
def test_parse_refuses_with_a_reason(value: object, fmt: str | None, words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        dates.parse(value, fmt, None)


def test_a_zone_in_the_value_wins_over_the_given_zone() -> None:
    assert dates.parse("2026-11-29T10:15:00Z", "yyyy-MM-dd'T'HH:mm:ssXXX", "Asia/Tokyo") == MOMENT


def test_a_naive_datetime_is_read_in_the_given_zone() -> None:
    assert dates.parse(datetime(2026, 11, 29, 19, 15), None, "Asia/Tokyo") == MOMENT


def test_two_digit_years_fall_within_80_years_before_and_20_after_now() -> None:
    year = datetime.now(UTC).year
    soon = (year + 10) % 100
    long_ago = (year + 30) % 100
    assert dates.parse(f"{soon:02d}-01-01", "yy-MM-dd", None).year == year + 10
    assert dates.parse(f"{long_ago:02d}-01-01", "yy-MM-dd", None).year == year + 30 - 100
    assert dates.parse("2026-01-01", "yy-MM-dd", None).year == 2026  # not two digits: literal


@pytest.mark.parametrize(
    "fmt",
    [
        None,
        "milliseconds",
        "seconds",
        "iso8601",
        "ISO8601",
        "iso",
        "yyyy-MM-dd'T'HH:mm:ssXXX",
        "yyyy-MM-dd'T'HH:mm:ssZ",
        "yyyy-MM-dd'T'HH:mm:ss'Z'",
        "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
        "yyyy-MM-dd HH:mm:ss",
        "yyyy-MM-dd",
        "MM/dd/yyyy HH:mm:ss",
        "EEE, dd MMM yyyy HH:mm:ss Z",
        "yyyy/MM/dd HH:mm:ss z",
        "''yyyy''",
    ],
)
def test_valid_formats(fmt: str | None) -> None:
    assert dates.validate_format(fmt) is None


@pytest.mark.parametrize(
    ("fmt", "words"),
    [
        ("epoch", "invalid pattern letter 'e' at position 0"),
        ("yyyy-MM-ddTHH:mm:ss", "invalid pattern letter 'T' at position 10"),
        ("YYYY-MM-dd", "pattern letter 'Y' is not supported: it is the week year; use y"),
        ("yyyy-DDD", "pattern letter 'D' is not supported"),
        ("yyyy 'at", "the quote at position 5 is never closed"),
        ("--", "no date or time letters"),
        ("''", "no date or time letters"),
        ("", "must be milliseconds, seconds, iso8601"),
        (15, "must be milliseconds, seconds, iso8601"),
    ],
)
def test_invalid_formats_say_why(fmt: object, words: str) -> None:
    problem = dates.validate_format(fmt)
    assert problem is not None and words in problem


@pytest.mark.parametrize(
    ("pattern", "tz", "expected"),
    [
        ("yyyy-MM-dd'T'HH:mm:ssXXX", None, "2026-11-29T10:15:00Z"),
        ("yyyy-MM-dd'T'HH:mm:ssXXX", "America/Los_Angeles", "2026-11-29T02:15:00-08:00"),
        ("yyyy-MM-dd'T'HH:mm:ssXX", "Asia/Kolkata", "2026-11-29T15:45:00+0530"),
        ("yyyy-MM-dd'T'HH:mm:ssX", "Asia/Kolkata", "2026-11-29T15:45:00+05"),
        ("yyyy-MM-dd'T'HH:mm:ssZ", None, "2026-11-29T10:15:00+0000"),
        ("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", None, "2026-11-29T10:15:00.123Z"),
        ("yyyy-MM-dd'T'HH:mm:ss.SSSSSS", None, "2026-11-29T10:15:00.123456"),
        ("yyyy-MM-dd'T'HH:mm:ss.SSSSSSSS", None, "2026-11-29T10:15:00.12345600"),
        ("EEE, dd MMM yyyy HH:mm:ss Z", "America/New_York", "Sun, 29 Nov 2026 05:15:00 -0500"),
        ("EEEE, MMMM d, yy h:mm a z", "America/Los_Angeles", "Sunday, November 29, 26 2:15 AM PST"),
        ("MM/dd/yyyy hh:mm a z", None, "11/29/2026 10:15 AM UTC"),
        ("dd.M.y k K z", "Asia/Kolkata", "29.11.2026 15 3 GMT+05:30"),
        ("H 'o''clock'", None, "10 o'clock"),
        ("yyyyMMdd", "Asia/Tokyo", "20261129"),
    ],
)
def test_format_java(pattern: str, tz: str | None, expected: str) -> None:
    moment = utc(2026, 11, 29, 10, 15, 0, 123456)
    assert dates.format_java(moment, pattern, tz) == expected


def test_format_java_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="naive"):
        dates.format_java(datetime(2026, 1, 1), "yyyy", None)


@pytest.mark.parametrize(
    ("name", "offset_at_moment"),
    [
        (None, timedelta(0)),
        ("", timedelta(0)),
        ("UTC", timedelta(0)),
        ("gmt", timedelta(0)),
        ("Europe/Paris", timedelta(hours=1)),
        ("America/New_York", timedelta(hours=-5)),
        ("PST", timedelta(hours=-8)),
        ("IST", timedelta(hours=5, minutes=30)),
        ("EST", timedelta(hours=-5)),
        ("+05:30", timedelta(hours=5, minutes=30)),
        ("-8:00", timedelta(hours=-8)),
        ("-0800", timedelta(hours=-8)),
        ("GMT+2", timedelta(hours=2)),
        ("UTC-03:00", timedelta(hours=-3)),
    ],
)
def test_zone(name: str | None, offset_at_moment: timedelta) -> None:
    assert MOMENT.astimezone(zones.zone(name)).utcoffset() == offset_at_moment


@pytest.mark.parametrize("name", ["Mars/Olympus", "../etc/passwd", "+25:00", "Nowhere"])
def test_unknown_zones_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="time zone"):
        zones.zone(name)


def test_epoch_helpers() -> None:
    moment = utc(2026, 11, 29, 10, 15, 0, 123999)
    assert dates.to_ms(moment) == 1795947300123
    assert dates.from_ms(1795947300123) == utc(2026, 11, 29, 10, 15, 0, 123000)
    assert dates.iso(moment) == "2026-11-29T10:15:00.123Z"
    tokyo = moment.astimezone(zones.zone("Asia/Tokyo"))
    assert dates.iso(tokyo) == "2026-11-29T10:15:00.123Z"
    assert dates.to_ms(utc(1969, 12, 31, 23, 59, 59, 999500)) == -1


# --- round trip: format_java then parse gives the same instant, at the pattern's precision ------

DATE_PARTS = ["yyyy-MM-dd", "MM/dd/yyyy", "dd MMM yyyy", "yyyyMMdd", "EEE, d MMMM yyyy", "d/M/yyyy"]
TIME_PARTS = [
    ("HH:mm:ss", timedelta(seconds=1)),
    ("HH:mm", timedelta(minutes=1)),
    ("hh:mm:ss a", timedelta(seconds=1)),
    ("HHmmss", timedelta(seconds=1)),
    ("HH:mm:ss.SSS", timedelta(milliseconds=1)),
    ("HH:mm:ss.SSSSSS", timedelta(microseconds=1)),
    ("h:mm a", timedelta(minutes=1)),
    ("kk:mm:ss", timedelta(seconds=1)),
    ("K:mm:ss.S a", timedelta(milliseconds=100)),
]
ZONE_PARTS = ["", "XXX", "XX", "X", "Z", " z", "'Z'", " zzzz"]
ZONES = [None, "UTC", "America/New_York", "Asia/Kolkata", "Europe/Paris", "+05:45", "PST"]


@st.composite
def java_patterns(draw: st.DrawFn) -> tuple[str, timedelta]:
    date = draw(st.sampled_from(DATE_PARTS))
    if draw(st.booleans()):
        return date, timedelta(days=1)
    time, precision = draw(st.sampled_from(TIME_PARTS))
    separator = draw(st.sampled_from(["'T'", " ", ""]))
    return date + separator + time + draw(st.sampled_from(ZONE_PARTS)), precision


@settings(max_examples=300, deadline=None)
@given(
    pattern=java_patterns(),
    tz=st.sampled_from(ZONES),
    moment=st.datetimes(
        min_value=datetime(1900, 1, 2), max_value=datetime(2200, 12, 30), timezones=st.just(UTC)
    ),
)
def test_format_then_parse_is_the_same_instant(
    pattern: tuple[str, timedelta], tz: str | None, moment: datetime
) -> None:
    text, precision = pattern
    local = moment.astimezone(zones.zone(tz))
    offset = local.utcoffset()
    assert offset is not None
    assume(offset % timedelta(minutes=1) == timedelta(0))  # local mean time before ~1920
    if "X" in text and not text.endswith(("XX", "XXX")):
        assume(offset % timedelta(hours=1) == timedelta(0))
    if not any(zone in text for zone in "XZz"):
        # Without a zone in the text, a wall time repeated when clocks go back is ambiguous.
        assume(local.replace(fold=0).utcoffset() == local.replace(fold=1).utcoffset())
    written = dates.format_java(moment, text, tz)
    if precision == timedelta(days=1):
        expected = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    else:
        expected = moment - (moment - dates.EPOCH) % precision
    assert dates.parse(written, text, tz) == expected, written

"""How the Mailchimp sandbox reads and writes dates (one-second precision, ISO 8601)."""

from __future__ import annotations

import pytest

from headwater.sandbox.mailchimp import dates

T = 1_800_000_000  # 2027-01-15T08:00:00+00:00


@pytest.mark.parametrize(
    "raw",
    [
        "2027-01-15T08:00:00+00:00",
        "2027-01-15T08:00:00Z",
        "2027-01-15T08:00:00",
        "2027-01-15 08:00:00",
        "2027-01-15T08:00:00.9999999+00:00",
        "2027-01-15T10:00:00+02:00",
        "2027-01-15T03:00:00.5-05:00",
    ],
)
def test_readable_dates(raw: str) -> None:
    assert dates.parse(raw) == T


@pytest.mark.parametrize(
    "raw", ["", "yesterday", "2027-01-15T08:00:00 00:00", "2027-01-15T08:00:00 0000", "1800000000"]
)
def test_malformed_dates(raw: str) -> None:
    with pytest.raises(dates.MalformedDate):
        dates.parse(raw)


def test_ignore_offset_reads_the_wall_time_as_utc() -> None:
    assert dates.parse("2027-01-15T08:00:00+02:00", ignore_offset=True) == T


def test_iso_has_an_offset_and_empty_for_never() -> None:
    assert dates.iso(T) == "2027-01-15T08:00:00+00:00"
    assert dates.iso(None) == ""

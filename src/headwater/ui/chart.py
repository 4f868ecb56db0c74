"""The home page's chart: events found and delivery attempts that failed, per hour of the last
day, as the geometry of a small inline SVG bar chart."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable

HOURS = 24
WIDTH, HEIGHT = 480, 120
GAP = 2


@dataclasses.dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    count: int
    label: str


@dataclasses.dataclass(frozen=True)
class Chart:
    """Two series of bars over the same hours, and what they add up to."""

    events: list[Bar]
    failures: list[Bar]
    top: int
    total_events: int
    total_failures: int
    width: int = WIDTH
    height: int = HEIGHT


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def hourly(dates: Iterable[dt.datetime], now: dt.datetime) -> list[int]:
    """Counts per hour, oldest first, the last bucket ending at ``now``."""
    counts = [0] * HOURS
    end = _utc(now)
    for date in dates:
        age = (end - _utc(date)).total_seconds()
        if 0 <= age < HOURS * 3600:
            counts[HOURS - 1 - int(age // 3600)] += 1
    return counts


def build(
    events: Iterable[dt.datetime], failures: Iterable[dt.datetime], now: dt.datetime
) -> Chart:
    found, failed = hourly(events, now), hourly(failures, now)
    top = max([*found, *failed, 1])
    slot = WIDTH / HOURS
    half = (slot - GAP) / 2

    def bars(counts: list[int], offset: float, what: str) -> list[Bar]:
        out = []
        for hour, count in enumerate(counts):
            height = HEIGHT * count / top
            ago = HOURS - 1 - hour
            label = f"{count} {what}, {ago}–{ago + 1} h ago"
            out.append(Bar(hour * slot + offset, HEIGHT - height, half, height, count, label))
        return out

    return Chart(
        events=bars(found, 0, "events"),
        failures=bars(failed, half, "failed attempts"),
        top=top,
        total_events=sum(found),
        total_failures=sum(failed),
    )

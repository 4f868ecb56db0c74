from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from headwater.domain import retry
from headwater.domain.retry import Delivered, GiveUp, RetryAt

NOW = datetime(2026, 11, 29, 10, 15, tzinfo=UTC)
SCHEDULE = (4.0, 16.0, 64.0)


def step(
    attempt_number: int = 1,
    status: int | None = 500,
    retry_after: float | None = None,
    schedule: tuple[float, ...] = SCHEDULE,
    seed: int = 1,
) -> retry.Step:
    return retry.next_step(
        attempt_number=attempt_number,
        schedule=schedule,
        status=status,
        retry_after=retry_after,
        now=NOW,
        rng=random.Random(seed),
    )


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_any_2xx_is_delivered(status: int) -> None:
    assert step(status=status) == Delivered()
    assert step(attempt_number=99, status=status) == Delivered()


def test_410_gives_up_at_once() -> None:
    found = step(status=410)
    assert isinstance(found, GiveUp) and "gone" in found.reason


@pytest.mark.parametrize("status", [None, 300, 400, 401, 404, 429, 500, 503])
@pytest.mark.parametrize(("attempt", "delay"), [(1, 4.0), (2, 16.0), (3, 64.0)])
def test_failures_follow_the_schedule_within_ten_percent(
    status: int | None, attempt: int, delay: float
) -> None:
    for seed in range(20):
        found = step(attempt_number=attempt, status=status, seed=seed)
        assert isinstance(found, RetryAt)
        waited = (found.at - NOW).total_seconds()
        assert delay * 0.9 <= waited <= delay * 1.1


def test_jitter_spreads_retries() -> None:
    ats = set()
    for seed in range(10):
        found = step(seed=seed)
        assert isinstance(found, RetryAt)
        ats.add(found.at)
    assert len(ats) == 10


def test_the_same_rng_gives_the_same_decision() -> None:
    assert step(seed=7) == step(seed=7)


def test_an_exhausted_schedule_gives_up() -> None:
    found = step(attempt_number=4)
    assert isinstance(found, GiveUp) and "exhausted after 4 attempts" in found.reason
    assert isinstance(step(attempt_number=1, schedule=()), GiveUp)


@pytest.mark.parametrize(
    ("retry_after", "waited"), [(30.0, 30.0), (0.0, 0.0), (-5.0, 0.0), (7200.0, 3600.0)]
)
def test_retry_after_replaces_the_delay_capped_at_an_hour(
    retry_after: float, waited: float
) -> None:
    found = step(status=429, retry_after=retry_after)
    assert found == RetryAt(NOW + timedelta(seconds=waited))


def test_retry_after_does_not_extend_an_exhausted_schedule() -> None:
    assert isinstance(step(attempt_number=4, status=503, retry_after=10), GiveUp)


def test_attempt_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        step(attempt_number=0)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Sun, 29 Nov 2026 10:16:00 GMT", 60.0),
        ("Sun, 29 Nov 2026 10:14:00 GMT", 0.0),
        ("Sun, 29 Nov 2026 10:16:00 -0000", 60.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert retry.parse_retry_after(header, NOW) == seconds


def test_a_huge_stored_delay_is_capped_instead_of_overflowing() -> None:
    found = step(schedule=(1e308,))
    assert isinstance(found, RetryAt)
    assert found.at - NOW <= timedelta(days=31) * (1 + retry.JITTER)
    assert found.at - NOW >= timedelta(days=31) * (1 - retry.JITTER)


@pytest.mark.parametrize(
    ("delays", "words"),
    [
        ([1.0] * 20, None),
        ([86400.0], None),
        ([], None),
        ([1.0] * 21, "has 21 delays"),
        ([0.5], "not 0.5"),
        ([86401.0], "not 86401"),
        ([float("inf")], "not inf"),
        ([float("nan")], "not nan"),
    ],
)
def test_schedule_problem(delays: list[float], words: str | None) -> None:
    problem = retry.schedule_problem(delays)
    if words is None:
        assert problem is None
    else:
        assert problem is not None and words in problem

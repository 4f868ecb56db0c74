"""The client-side token bucket, on a fake clock (no sockets, no sleeping)."""

from __future__ import annotations

import pytest

from headwater.elements import limits


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_by_default_calls_are_spaced_evenly() -> None:
    clock = FakeClock()
    bucket = limits.RateLimiter(5.0, clock=clock)
    assert [bucket.reserve() for _ in range(3)] == pytest.approx([0.0, 0.2, 0.4])
    clock.now += 0.4
    assert bucket.reserve() == pytest.approx(0.2)


def test_a_burst_passes_then_callers_wait_their_turn() -> None:
    clock = FakeClock()
    bucket = limits.RateLimiter(5.0, burst=5, clock=clock)
    assert [bucket.reserve() for _ in range(5)] == [0.0] * 5
    waits = [bucket.reserve() for _ in range(3)]
    assert waits == pytest.approx([0.2, 0.4, 0.6])


def test_tokens_come_back_with_time_but_never_beyond_the_burst() -> None:
    clock = FakeClock()
    bucket = limits.RateLimiter(5.0, burst=5, clock=clock)
    for _ in range(5):
        bucket.reserve()
    clock.now += 10
    assert [bucket.reserve() for _ in range(5)] == [0.0] * 5
    assert bucket.reserve() == pytest.approx(0.2)


def test_hold_delays_every_caller_until_it_ends() -> None:
    clock = FakeClock()
    bucket = limits.RateLimiter(5.0, clock=clock)
    bucket.hold(3.0)
    assert bucket.held_for() == pytest.approx(3.0)
    assert bucket.reserve() == pytest.approx(3.0)
    clock.now += 3.0
    assert bucket.held_for() == 0.0
    assert bucket.reserve() == 0.0


def test_one_limiter_per_instance() -> None:
    registry = limits.RateLimiters()
    first = registry.for_instance(1, 5.0)
    assert registry.for_instance(1, 5.0) is first
    assert registry.for_instance(2, 5.0) is not first
    registry.forget(1)
    assert registry.for_instance(1, 5.0) is not first
    again = registry.for_instance(1, 5.0)
    assert registry.for_instance(1, 10.0).rate == 10.0  # its element's rate changed
    assert registry.for_instance(1, 10.0) is not again


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rate"):
        limits.RateLimiter(0)

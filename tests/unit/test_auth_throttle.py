"""Failed authentications: a sliding window per address, bounded in memory."""

from __future__ import annotations

from headwater.api import auth_throttle


def test_the_limit_is_reached_then_the_window_slides() -> None:
    window = auth_throttle.FailureWindow(limit=3, window=60.0)
    for at in (0.0, 10.0, 20.0):
        assert window.retry_after("a", at) == 0
        window.failed("a", at)
    assert window.retry_after("a", 21.0) == 39  # the failure at 0 leaves the window at 60
    assert window.retry_after("b", 21.0) == 0  # other addresses are not affected
    assert window.retry_after("a", 60.5) == 0  # one slot free again
    window.failed("a", 60.5)
    assert window.retry_after("a", 61.0) == 9


def test_retry_after_is_at_least_one_second() -> None:
    window = auth_throttle.FailureWindow(limit=1, window=1.0)
    window.failed("a", 0.0)
    assert window.retry_after("a", 0.999) == 1


def test_a_limit_of_zero_disables_it() -> None:
    window = auth_throttle.FailureWindow(limit=0, window=60.0)
    for at in range(100):
        window.failed("a", float(at))
    assert window.retry_after("a", 100.0) == 0


def test_memory_is_bounded_by_clients_and_limit() -> None:
    window = auth_throttle.FailureWindow(limit=2, window=60.0, max_clients=3)
    for at in range(50):
        window.failed("a", float(at) / 100)
    for address in ("b", "c", "d"):
        window.failed(address, 1.0)
    assert window.retry_after("a", 1.0) == 0  # the least recently failing address was forgotten
    assert len(window._failures) == 3
    assert all(len(times) <= 2 for times in window._failures.values())

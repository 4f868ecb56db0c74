"""The cursor's window and advance, and when a poller runs next (pure decisions)."""

from __future__ import annotations

import datetime as dt

from headwater.domain import cursors, schedule

NOW = dt.datetime(2026, 11, 29, 10, 0, tzinfo=dt.UTC)


def test_the_window_starts_before_the_cursor_by_delay_and_overlap() -> None:
    assert cursors.window_start(100_000, poll_delay_seconds=0, overlap_seconds=0) == 100_000
    assert cursors.window_start(100_000, poll_delay_seconds=5, overlap_seconds=60) == 35_000
    assert cursors.window_start(100_000, poll_delay_seconds=0.0001, overlap_seconds=0) == 99_999


def test_the_cursor_moves_to_the_high_water_mark_minus_the_poll_duration() -> None:
    assert cursors.advance(1_000, high_water_ms=5_000, duration_ms=300, shifted=False) == 4_700


def test_the_cursor_never_moves_backward() -> None:
    assert cursors.advance(5_000, high_water_ms=5_100, duration_ms=300, shifted=False) == 5_000
    assert cursors.advance(5_000, high_water_ms=4_000, duration_ms=0, shifted=False) == 5_000


def test_a_shifted_or_empty_poll_keeps_the_cursor() -> None:
    assert cursors.advance(1_000, high_water_ms=9_000, duration_ms=10, shifted=True) == 1_000
    assert cursors.advance(1_000, high_water_ms=None, duration_ms=10, shifted=False) == 1_000


def test_a_record_changed_during_the_poll_stays_in_the_next_window() -> None:
    # the poll began at provider time 10_000 and lasted 250 ms; a record changed at 10_000 was
    # on a page already read, the newest date seen is 10_250
    cursor = cursors.advance(0, high_water_ms=10_250, duration_ms=250, shifted=False)
    assert cursors.window_start(cursor, poll_delay_seconds=0, overlap_seconds=0) <= 10_000


def test_after_success_runs_one_interval_later_with_a_little_jitter() -> None:
    planned = schedule.after_success(NOW, interval_seconds=900, jitter=0.0)
    assert planned == schedule.Next(NOW + dt.timedelta(seconds=900), 0)
    jittered = schedule.after_success(NOW, interval_seconds=900, jitter=0.99)
    assert dt.timedelta(seconds=900) < jittered.run_at - NOW <= dt.timedelta(seconds=905)  # type: ignore[operator]
    short = schedule.after_success(NOW, interval_seconds=2, jitter=0.99)
    assert short.run_at - NOW <= dt.timedelta(seconds=2.1)  # type: ignore[operator]


def test_failures_back_off_from_the_interval_up_to_an_hour() -> None:
    waits = [schedule.backoff_seconds(60, n) for n in range(1, 9)]
    assert waits == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert schedule.backoff_seconds(7200, 5) == 7200


def test_retry_after_sets_the_next_run_exactly() -> None:
    planned = schedule.after_failure(
        NOW, interval_seconds=60, failures_before=0, limit=100, error="429", retry_after=120
    )
    assert planned == schedule.Next(NOW + dt.timedelta(seconds=120), 1)


def test_the_limit_th_failure_in_a_row_disables_the_poller() -> None:
    kept = schedule.after_failure(
        NOW, interval_seconds=60, failures_before=98, limit=100, error="x"
    )
    assert kept.run_at is not None and kept.consecutive_failures == 99
    stopped = schedule.after_failure(
        NOW, interval_seconds=60, failures_before=99, limit=100, error="HTTP 500"
    )
    assert stopped.run_at is None and stopped.consecutive_failures == 100
    assert stopped.disabled_reason == "disabled after 100 failures in a row; last: HTTP 500"


def test_no_window_reaches_before_the_pollers_start() -> None:
    start = 100_000
    for cursor in (start, start + 30_000, start + 90_000):
        found = cursors.window_start(
            cursor, poll_delay_seconds=30, overlap_seconds=60, start_ms=start
        )
        assert found == max(start, cursor - 90_000)
    assert cursors.window_start(start, poll_delay_seconds=0, overlap_seconds=60) == 40_000


def test_a_refused_reconciliation_is_retried_in_seconds_then_less_often() -> None:
    def wait(due_since: dt.datetime | None, interval: float = 900) -> float:
        at = schedule.reconcile_retry(
            NOW, due_since=due_since, retry_seconds=10, interval_seconds=interval
        )
        return (at - NOW).total_seconds()

    assert wait(None) == 10, "a first reconciliation has no due date: the retry delay"
    assert wait(NOW) == 10
    assert wait(NOW - dt.timedelta(seconds=10)) == 10
    assert wait(NOW - dt.timedelta(seconds=40)) == 40, "as long again as it has been due"
    assert wait(NOW - dt.timedelta(hours=3)) == 900, "never later than the next regular run"
    assert wait(NOW, interval=5) == 5
    at = schedule.reconcile_retry(NOW, due_since=None, retry_seconds=0, interval_seconds=900)
    assert at - NOW == dt.timedelta(seconds=1), "never a tight loop"

"""Configurations stored before numbers were bounded: their numbers are capped where they are
used, so that they cannot overflow a poll window or the scheduler."""

from __future__ import annotations

import datetime as dt

from headwater.domain import instance_config, resources, schedule
from headwater.poller import context
from headwater.settings import Settings

NOW = dt.datetime(2026, 11, 29, 10, 15, tzinfo=dt.UTC)
MONTH = 31 * 86_400


def test_a_huge_stored_refresh_or_reconcile_interval_is_capped_at_31_days() -> None:
    settings = Settings()
    stored = instance_config.InstanceConfig.read(
        {"event.poller.refresh_interval": 1e308, "event.poller.reconcile_interval": 1e308}
    )
    interval = context.interval_seconds(settings, stored)
    assert interval == MONTH
    assert schedule.after_success(NOW, interval_seconds=interval, jitter=0.5).run_at is not None
    assert context.reconcile_seconds(settings, stored) == MONTH
    fifteen = instance_config.InstanceConfig.read({"event.poller.refresh_interval": 15})
    assert context.interval_seconds(settings, fifteen) == 900


def test_a_huge_stored_poll_delay_or_tolerance_is_capped_at_31_days() -> None:
    stored = {
        resources.KEY: {
            "contacts": {
                "url": "/hubs/marketing/contacts",
                "idField": "id",
                "pollDelay": 1e308,
                "createdCheckTolerance": 1e308,
            }
        }
    }
    found = resources.read(stored)["contacts"]
    assert found.poll_delay == MONTH
    assert found.created_check_tolerance == MONTH

"""An instance's health at a glance, from its record, its pollers and its subscription."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from headwater.delivery import subscriptions
from headwater.instances import views
from headwater.poller import control


@dataclasses.dataclass(frozen=True)
class Badge:
    """One word of health, with its tone (``ok``, ``warn``, ``bad``, ``off``) and details."""

    label: str
    tone: str
    detail: str = ""


@dataclasses.dataclass(frozen=True)
class Health:
    instance: views.Instance
    badges: list[Badge]
    queue: int | None


def of(
    instance: views.Instance,
    pollers: Sequence[control.PollerState],
    subscription: subscriptions.Subscription | None,
    *,
    polling: bool,
) -> Health:
    """What a user must know first: invalid, disabled, failing, subscription deactivated."""
    badges: list[Badge] = []
    if not instance.valid:
        badges.append(Badge("invalid", "bad", instance.invalid_reason or ""))
    if instance.disabled:
        badges.append(Badge("disabled", "off", "the instance is disabled"))
    failing = [p for p in pollers if p.enabled and p.consecutive_failures]
    stopped = [p for p in pollers if not p.enabled]
    if failing:
        names = ", ".join(p.resource for p in failing)
        badges.append(Badge("failing", "bad", f"{names}: {failing[0].last_error or ''}"))
    if stopped:
        names = ", ".join(f"{p.resource} ({p.disabled_reason or 'paused'})" for p in stopped)
        badges.append(Badge("poller disabled", "warn", names))
    if subscription is not None and not subscription.active:
        badges.append(
            Badge("subscription deactivated", "bad", "notifications are queued until released")
        )
    if polling and not failing and len(stopped) < len(pollers):
        badges.append(Badge("polling", "ok", f"{len(pollers) - len(stopped)} resource(s)"))
    elif not instance.events_enabled:
        badges.append(Badge("events off", "off"))
    queue = None
    if subscription is not None:
        queue = subscription.queue.pending + subscription.queue.retrying + subscription.queue.queued
    return Health(instance, badges, queue)

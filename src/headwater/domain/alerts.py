"""Operations alerts: the conditions watched on each instance, and what their notices say.

A condition is *firing* or not; each change of it is one transition, told once: a WARNING log
line and an operations notification when it starts (``poller.disabled``, ``instance.invalid``,
``subscription.deactivated``, ``backlog.exceeded``), an INFO line and a notification when it ends
(``poller.recovered``, ``instance.valid``, ``subscription.reactivated``, ``backlog.cleared``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from headwater.domain import dates


@dataclasses.dataclass(frozen=True)
class Condition:
    """One kind of condition and the notification types of its two transitions."""

    name: str
    fired: str
    recovered: str


POLLER = Condition("poller", "poller.disabled", "poller.recovered")
INSTANCE = Condition("instance", "instance.invalid", "instance.valid")
SUBSCRIPTION = Condition("subscription", "subscription.deactivated", "subscription.reactivated")
BACKLOG = Condition("backlog", "backlog.exceeded", "backlog.cleared")
CONDITIONS = {c.name: c for c in (POLLER, INSTANCE, SUBSCRIPTION, BACKLOG)}
TYPES = tuple(t for c in CONDITIONS.values() for t in (c.fired, c.recovered))


def subject(condition: Condition, poller_id: int | None = None) -> str:
    """The name an instance's condition is kept under: ``poller:<id>`` for a poller's."""
    return f"{condition.name}:{poller_id}" if poller_id is not None else condition.name


def condition_of(subject: str) -> tuple[Condition, int | None]:
    """The condition (and poller id) a :func:`subject` names."""
    name, _, poller = subject.partition(":")
    return CONDITIONS[name], int(poller) if poller else None


@dataclasses.dataclass(frozen=True)
class Transition:
    """A condition that started (``firing``) or ended, on one instance."""

    condition: Condition
    firing: bool
    organization_id: int
    instance_id: int
    reason: str
    at: dt.datetime
    poller_id: int | None = None
    resource: str | None = None

    @property
    def type(self) -> str:
        return self.condition.fired if self.firing else self.condition.recovered

    @property
    def subject(self) -> str:
        return subject(self.condition, self.poller_id)


def body(notification_id: str, transition: Transition) -> str:
    """The operations notification's exact JSON text."""
    notice: dict[str, object] = {
        "id": notification_id,
        "type": transition.type,
        "organizationId": transition.organization_id,
        "instanceId": transition.instance_id,
    }
    if transition.poller_id is not None:
        notice["pollerId"] = transition.poller_id
        notice["resource"] = transition.resource
    notice.update(reason=transition.reason, at=dates.iso(transition.at))
    return json.dumps(notice, ensure_ascii=False, separators=(",", ":"))


def backlog_reason(oldest: dt.datetime | None, now: dt.datetime, threshold: float) -> str:
    """Why the backlog condition holds, or no longer does."""
    if oldest is None:
        return f"no undelivered notification left (threshold {threshold:g} s)"
    age = max((now - oldest).total_seconds(), 0.0)
    side = "over" if age > threshold else "under"
    return (
        f"the oldest undelivered notification is {age:.0f} s old, {side} the threshold of "
        f"{threshold:g} s"
    )

"""Integer ids in paths, one type per kind, used by every route that takes one.

Ids are 32-bit ``INTEGER`` columns on both databases, so an id beyond that range names no row:
it is a 404 here, before any query (a larger number would overflow the database driver: a 500
on SQLite, a 503 on PostgreSQL). The caller is authenticated first, as on any other 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from headwater.api import auth
from headwater.errors import NotFoundError
from headwater.storage import instances

MAX_ID = instances.MAX_ID


def _in_range(value: int, kind: str) -> int:
    if value > MAX_ID:
        raise NotFoundError(f"No {kind} with id {value}.")
    return value


def _instance_id(
    instance_id: Annotated[int, Path(ge=1, description="The instance's id.")],
    _who: auth.Principal,
) -> int:
    return _in_range(instance_id, "instance")


def _event_id(
    event_id: Annotated[int, Path(ge=1, description="The event's id.")],
    _who: auth.Principal,
) -> int:
    return _in_range(event_id, "event")


def _subscription_id(
    subscription_id: Annotated[
        int, Path(ge=1, description="The subscription's id (that of its instance).")
    ],
    _who: auth.Principal,
) -> int:
    return _in_range(subscription_id, "subscription")


InstanceId = Annotated[int, Depends(_instance_id)]
SubscriptionId = Annotated[int, Depends(_subscription_id)]
EventId = Annotated[int, Depends(_event_id)]

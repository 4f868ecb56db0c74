"""Where an instance's notifications go and the key that signs them, kept in memory while the
instance does not change.

Reading the instance and opening its sealed secrets for every notification costs more than the
send itself. The last version read is kept, keyed by the instance's ``updated_at``, which every
change of its configuration or secrets moves and which a claim returns.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import functools

from sqlalchemy.ext.asyncio import AsyncEngine

from headwater.delivery import outbox
from headwater.domain import instance_config, signing
from headwater.storage import db, deliveries, secrets

MAX_KEPT = 20_000


@dataclasses.dataclass(frozen=True)
class Target:
    """One instance's notification settings, as of ``updated_at``."""

    sending: deliveries.Sending
    updated_at: dt.datetime | None
    key: str | None  # the signature key; None: notifications go unsigned
    previous: str | None = None  # a rotation's previous key, signing until ``overlap_until``

    @functools.cached_property
    def config(self) -> instance_config.InstanceConfig:
        return instance_config.InstanceConfig.read(self.sending.configuration)

    def headers(self, notification_id: str, body: bytes, now: dt.datetime) -> dict[str, str]:
        """The notification's headers, signed with the instance's key when it has one (and,
        during a rotation's overlap, with the previous key too)."""
        return signed_headers(
            self.key, self.previous, self.sending.overlap_until, notification_id, body, now
        )


def signed_headers(
    key: str | None,
    previous: str | None,
    overlap_until: dt.datetime | None,
    notification_id: str,
    body: bytes,
    now: dt.datetime,
) -> dict[str, str]:
    """A notification's headers: unsigned without ``key``; with ``previous`` as well while
    ``now`` is before ``overlap_until``."""
    if not key:
        return {"Elements-Webhook-Id": notification_id, "webhook-id": notification_id}
    overlapping = previous if overlap_until is not None and now < overlap_until else None
    return signing.headers(key, notification_id, int(now.timestamp()), body, previous=overlapping)


def keys(box: secrets.SecretBox, sending: deliveries.Sending) -> tuple[str | None, str | None]:
    """The instance's signature key and its rotation's previous key (None when absent)."""
    key = box.open(sending.sealed_secrets).get(outbox.SIGNATURE_KEY)
    previous = None
    if sending.sealed_previous_key:
        found = box.open(sending.sealed_previous_key).get("key")
        previous = found if isinstance(found, str) and found else None
    return (key if isinstance(key, str) and key else None), previous


class TargetCache:
    """The latest targets read, least recently used first out."""

    def __init__(self, engine: AsyncEngine, box: secrets.SecretBox, *, size: int = MAX_KEPT):
        self.engine = engine
        self.box = box
        self.size = size
        self._kept: collections.OrderedDict[int, Target] = collections.OrderedDict()

    async def get(self, instance_id: int, updated_at: dt.datetime | None) -> Target | None:
        """The instance's target, from memory when ``updated_at`` (its version, as the claim
        returned it) says the copy is current; None when the instance is gone."""
        kept = self._kept.get(instance_id)
        if kept is not None and updated_at is not None and kept.updated_at == updated_at:
            self._kept.move_to_end(instance_id)
            return kept
        async with db.reading(self.engine) as conn:
            sending = await deliveries.sending(conn, instance_id)
        if sending is None:
            self._kept.pop(instance_id, None)
            return None
        key, previous = keys(self.box, sending)
        target = Target(sending, updated_at, key, previous)
        self._kept[instance_id] = target
        self._kept.move_to_end(instance_id)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)
        return target

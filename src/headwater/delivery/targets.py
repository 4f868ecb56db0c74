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

    @functools.cached_property
    def config(self) -> instance_config.InstanceConfig:
        return instance_config.InstanceConfig.read(self.sending.configuration)

    def headers(self, notification_id: str, body: bytes, now: dt.datetime) -> dict[str, str]:
        """The notification's headers, signed with the instance's key when it has one."""
        if not self.key:
            return {"Elements-Webhook-Id": notification_id, "webhook-id": notification_id}
        return signing.headers(self.key, notification_id, int(now.timestamp()), body)


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
        key = self.box.open(sending.sealed_secrets).get(outbox.SIGNATURE_KEY)
        target = Target(sending, updated_at, key if isinstance(key, str) and key else None)
        self._kept[instance_id] = target
        self._kept.move_to_end(instance_id)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)
        return target

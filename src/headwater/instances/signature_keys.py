"""Rotating an instance's notification signature key without breaking its receivers.

``POST /instances/{id}/signature-key/rotate`` makes a new key current and keeps the old one as
the *previous* key for an overlap (``HEADWATER_SIGNATURE_OVERLAP_SECONDS``, 24 h by default, or
the rotation's ``overlapSeconds``). During the overlap every notification carries both Standard
Webhooks signatures (``webhook-signature: v1,<new> v1,<old>``) and an ``Elements-Webhook-Signature``
made with the old key, so a receiver still verifying with the old key accepts it, as does one
that already verifies the Standard Webhooks header with the new key; afterwards only the new key
signs. A key set explicitly (``PUT``/``PATCH`` naming ``event.notification.signature.key``)
replaces it at once and ends any overlap.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from headwater.domain import signing
from headwater.errors import ConflictError, InputError, NotFoundError
from headwater.instances import configuration as conf
from headwater.settings import Settings
from headwater.storage import db, instances, secrets, tenants

MAX_OVERLAP_SECONDS = 30 * 86400.0


@dataclasses.dataclass(frozen=True)
class Rotated:
    """A rotation: the new key (shown this once), and until when the old one signs too."""

    instance_id: int
    key: str
    fingerprint: str
    previous_fingerprint: str
    rotated_at: dt.datetime
    overlap_until: dt.datetime


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def overlap_of(value: object, default: float) -> float:
    """The overlap a rotation asked for (None: ``default``); InputError naming it when bad."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(problems=[("overlapSeconds", "must be a number of seconds")])
    if not 0 <= value <= MAX_OVERLAP_SECONDS:
        raise InputError(
            problems=[("overlapSeconds", f"must be from 0 to {MAX_OVERLAP_SECONDS:g} (30 days)")]
        )
    return float(value)


class SignatureKeys:
    """Signature-key rotations of instances."""

    def __init__(
        self,
        *,
        settings: Settings,
        engine: AsyncEngine,
        secrets: secrets.SecretBox,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.box = secrets
        self.clock = clock

    async def rotate(
        self, principal: tenants.Principal, instance_id: int, *, overlap_seconds: object = None
    ) -> Rotated:
        """Make a new key current, the old one signing beside it for the overlap.

        ConflictError while an earlier rotation's overlap still runs: rotating again would stop
        the oldest key at once, under receivers that may still verify with it.
        """
        overlap = overlap_of(overlap_seconds, self.settings.signature_overlap_seconds)
        now = self.clock()
        new_key = signing.generate_key()

        async def rotate(conn: AsyncConnection) -> Rotated:
            row = await instances.get(
                conn, instance_id, organization_id=principal.organization_id, for_update=True
            )
            if row is None:
                raise NotFoundError(f"No instance with id {instance_id}.")
            until = row.signature_overlap_until
            if row.previous_signature_key and until is not None and now < until:
                raise ConflictError(
                    f"Instance {instance_id} is rotating its signature key already: the previous"
                    f" key signs until {until.isoformat()}. Rotate again after that, or set"
                    " event.notification.signature.key with PATCH to replace it at once."
                )
            stored = self.box.open(row.secrets)
            old = stored.get(conf.SIGNATURE_KEY)
            if not isinstance(old, str) or not old:
                raise ConflictError(f"Instance {instance_id} has no signature key to rotate.")
            stored[conf.SIGNATURE_KEY] = new_key
            ends = now + dt.timedelta(seconds=overlap)
            change = instances.Change(
                secrets=self.box.seal(stored),
                previous_signature_key=self.box.seal({"key": old}),
                signature_overlap_until=ends,
                signature_rotated_at=now,
                updated_at=now,
            )
            await instances.update(conn, instance_id, change)
            return Rotated(
                instance_id=instance_id,
                key=new_key,
                fingerprint=signing.fingerprint(new_key),
                previous_fingerprint=signing.fingerprint(old),
                rotated_at=now,
                overlap_until=ends,
            )

        return await db.write(self.engine, rotate)

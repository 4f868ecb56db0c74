"""An instance as shown to its organization: :class:`Instance`, built from its stored row."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from headwater.domain import signing
from headwater.instances import configuration as conf
from headwater.storage import instances, secrets


@dataclasses.dataclass(frozen=True)
class Instance:
    """An instance as shown to its organization (secrets masked unless just generated)."""

    id: int
    name: str
    element_key: str
    tags: list[str]
    valid: bool
    invalid_reason: str | None
    disabled: bool
    events_enabled: bool
    configuration: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime
    token: str | None = None
    element_id: int | None = None
    element_name: str | None = None
    signature_key: SignatureKey | None = None


@dataclasses.dataclass(frozen=True)
class SignatureKey:
    """Which signature key signs the instance's notifications, never the key itself: the
    current key's fingerprint, and during a rotation's overlap the previous key's, which still
    signs ``Elements-Webhook-Signature`` until ``overlap_until``."""

    fingerprint: str
    rotated_at: dt.datetime | None
    previous_fingerprint: str | None = None
    overlap_until: dt.datetime | None = None


@dataclasses.dataclass(frozen=True)
class ConfigurationItem:
    """One configuration key with its numeric id and its value as shown."""

    id: int
    key: str
    value: Any


def instance(
    row: instances.Instance, box: secrets.SecretBox, revealed: Sequence[str] = ()
) -> Instance:
    """``row`` as shown: its secrets (opened with ``box``) masked, but for the keys ``revealed``."""
    opened = box.open(row.secrets)
    return Instance(
        id=row.id,
        name=row.name,
        element_key=row.element_key,
        tags=list(row.tags),
        valid=row.valid,
        invalid_reason=row.invalid_reason,
        disabled=row.disabled,
        events_enabled=row.events_enabled,
        configuration=conf.masked(row.configuration, opened, revealed),
        created_at=row.created_at,
        updated_at=row.updated_at,
        signature_key=signature_key(row, box, opened.get(conf.SIGNATURE_KEY)),
    )


def signature_key(
    row: instances.Instance, box: secrets.SecretBox, key: object, now: dt.datetime | None = None
) -> SignatureKey | None:
    """The instance's signature key as shown (None when it has none)."""
    if not isinstance(key, str) or not key:
        return None
    shown = SignatureKey(fingerprint=signing.fingerprint(key), rotated_at=row.signature_rotated_at)
    until = row.signature_overlap_until
    if row.previous_signature_key and until is not None and (now or _now()) < until:
        previous = box.open(row.previous_signature_key).get("key")
        if isinstance(previous, str):
            shown = dataclasses.replace(
                shown, previous_fingerprint=signing.fingerprint(previous), overlap_until=until
            )
    return shown


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)

"""An instance as shown to its organization: :class:`Instance`, built from its stored row."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

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
    return Instance(
        id=row.id,
        name=row.name,
        element_key=row.element_key,
        tags=list(row.tags),
        valid=row.valid,
        invalid_reason=row.invalid_reason,
        disabled=row.disabled,
        events_enabled=row.events_enabled,
        configuration=conf.masked(row.configuration, box.open(row.secrets), revealed),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )

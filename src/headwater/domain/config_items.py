"""Numeric ids of configuration items: ``…/configuration/{configurationId}`` takes an id or a key.

Cloud Elements clients address one configuration item by a number. Ours are derived, never stored:
a key of :data:`CATALOGUE` has its position there (from 1), so the catalogue only ever grows at
its end; any other key (an element's own) gets a number of its own above :data:`FIRST_DERIVED_ID`,
a checksum of the key, stable on every node and across restarts.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

CATALOGUE = (
    "oauth.api.key",
    "oauth.api.secret",
    "oauth.callback.url",
    "event.notification.enabled",
    "event.vendor.type",
    "event.notification.callback.url",
    "event.notification.signature.key",
    "event.poller.refresh_interval",
    "event.poller.configuration",
    "event.poller.reconcile_interval",
    "event.vendor.signature.key",
    "event.notification.instance.finder",
    "event.notification.retry.schedule",
    "event.notification.type",
)
"""Known configuration keys, in id order: append new ones, never reorder or remove."""

FIRST_DERIVED_ID = 1000
_DERIVED_SPAN = 2**31 - 1 - FIRST_DERIVED_ID
_POSITIONS = {key: index + 1 for index, key in enumerate(CATALOGUE)}


def item_id(key: str) -> int:
    """The numeric id of configuration ``key``."""
    position = _POSITIONS.get(key)
    if position is not None:
        return position
    return FIRST_DERIVED_ID + zlib.crc32(key.encode()) % _DERIVED_SPAN


def resolve(reference: str, keys: Iterable[str]) -> str | None:
    """The key that ``reference`` (a key or a numeric id) names among ``keys``; None when none."""
    candidates = list(keys)
    if reference in candidates:
        return reference
    if reference.isascii() and reference.isdigit() and len(reference) <= 10:
        wanted = int(reference)
        for key in candidates:
            if item_id(key) == wanted:
                return key
    return None

"""The instances a process is working with, kept in memory while they do not change.

A poll needs its instance's configuration and access token. Reading the row and decrypting the
tokens for every poll costs more than the poll's own work, so the last version read is kept,
keyed by the instance's ``updated_at``: every write that matters to a poll (configuration,
state, tokens) moves it, and a claim returns the current one, so a stale copy is never used.
"""

from __future__ import annotations

import collections
from typing import Any

from headwater.storage import instances, secrets

MAX_KEPT = 20_000


class RecordCache:
    """The latest instance records read, and their opened provider tokens, least recently used
    first out."""

    def __init__(self, box: secrets.SecretBox, *, size: int = MAX_KEPT) -> None:
        self._box = box
        self._size = size
        self._records: collections.OrderedDict[int, instances.Instance] = collections.OrderedDict()
        self._tokens: dict[int, dict[str, Any]] = {}

    def get(self, instance_id: int, updated_at: object) -> instances.Instance | None:
        """The kept record when it is the version ``updated_at`` names, else None."""
        record = self._records.get(instance_id)
        if record is None or record.updated_at != updated_at:
            return None
        self._records.move_to_end(instance_id)
        return record

    def put(self, record: instances.Instance) -> None:
        self._records[record.id] = record
        self._records.move_to_end(record.id)
        self._tokens.pop(record.id, None)
        while len(self._records) > self._size:
            gone, _ = self._records.popitem(last=False)
            self._tokens.pop(gone, None)

    def forget(self, instance_id: int) -> None:
        self._records.pop(instance_id, None)
        self._tokens.pop(instance_id, None)

    def tokens(self, record: instances.Instance) -> dict[str, Any]:
        """The provider tokens of ``record``, opened once per version."""
        kept = self._records.get(record.id)
        if kept is not record:
            return self._box.open(record.provider_tokens) if record.provider_tokens else {}
        opened = self._tokens.get(record.id)
        if opened is None:
            opened = self._tokens[record.id] = (
                self._box.open(record.provider_tokens) if record.provider_tokens else {}
            )
        return opened

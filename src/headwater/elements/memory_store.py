"""The in-memory hub's data: parents (lists) of JSON records, on a clock moved by hand.

Served by :class:`headwater.elements.memory.MemoryHub`; tests write to it directly, between or
during the hub's reads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from headwater import errors


class Clock:
    """Epoch milliseconds that stand still until moved."""

    def __init__(self, now_ms: int = 1_796_000_000_000) -> None:
        self._now_ms = now_ms

    def now_ms(self) -> int:
        return self._now_ms

    def advance(self, delta_ms: int) -> int:
        """Move the clock forward by ``delta_ms`` (not backward); returns the new time."""
        if delta_ms < 0:
            raise ValueError("the clock does not go back")
        self._now_ms += delta_ms
        return self._now_ms


@dataclasses.dataclass(frozen=True)
class Layout:
    """The hub's path names and where its records keep their id and dates (epoch ms)."""

    hub: str = "marketing"
    parents: str = "lists"
    children: str = "contacts"
    id_field: str = "id"
    created_field: str = "createdDate"
    modified_field: str = "modifiedDate"


@dataclasses.dataclass
class Record:
    """One stored record: its id, its fields and its times (epoch ms)."""

    record_id: str
    values: dict[str, object]
    created_ms: int
    modified_ms: int


@dataclasses.dataclass
class _Parent:
    id: str
    name: str
    records: dict[str, Record] = dataclasses.field(default_factory=dict)  # creation order
    next_number: int = 0


class Store:
    """The parents and their records. Every write is stamped with the clock's time (or
    ``at_ms``); record ids are ``<parent id>:<n>``, numbered per parent from 0."""

    def __init__(self, layout: Layout | None = None, *, clock: Clock | None = None) -> None:
        self.layout = layout or Layout()
        self.clock = clock or Clock()
        self._parents: dict[str, _Parent] = {}

    def add_parent(self, name: str = "") -> str:
        """A new empty parent; returns its id (``lists-1``, ``lists-2``, …)."""
        parent_id = f"{self.layout.parents}-{len(self._parents) + 1}"
        self._parents[parent_id] = _Parent(parent_id, name or parent_id)
        return parent_id

    def parent_ids(self) -> list[str]:
        return list(self._parents)

    def insert(
        self, parent_id: str, values: Mapping[str, object], *, at_ms: int | None = None
    ) -> str:
        """Add a record; returns its id. The id and date fields of ``values`` are ignored."""
        parent = self._parent(parent_id)
        now = self.clock.now_ms() if at_ms is None else at_ms
        record_id = f"{parent_id}:{parent.next_number}"
        parent.next_number += 1
        parent.records[record_id] = Record(record_id, self._writable(values), now, now)
        return record_id

    def update(
        self,
        record_id: str,
        values: Mapping[str, object],
        *,
        replace: bool = False,
        at_ms: int | None = None,
    ) -> None:
        """Change the given fields (``replace``: drop every other one); an empty change still
        stamps the record, as a touch."""
        record = self._record(record_id)
        if replace:
            record.values = {}
        record.values.update(self._writable(values))
        record.modified_ms = self.clock.now_ms() if at_ms is None else at_ms

    def touch(self, record_id: str, *, at_ms: int | None = None) -> None:
        """Stamp the record as modified without changing a field."""
        self.update(record_id, {}, at_ms=at_ms)

    def delete(self, record_id: str) -> None:
        """Remove the record; ``ProviderNotFound`` when there is none."""
        self._record(record_id)
        del self._parents[record_id.rpartition(":")[0]].records[record_id]

    def record(self, record_id: str) -> dict[str, object]:
        """The record as the hub reads it; ``ProviderNotFound`` when there is none."""
        return self.view(self._record(record_id))

    def ids(self, parent_id: str) -> list[str]:
        """The ids of a parent's records, in creation order."""
        return list(self._parent(parent_id).records)

    def records(self, parent_id: str) -> list[dict[str, object]]:
        """Every record of a parent, in creation order, as the hub reads them."""
        return [self.view(r) for r in self._parent(parent_id).records.values()]

    def summary(self, parent_id: str) -> dict[str, object]:
        parent = self._parent(parent_id)
        return {"id": parent.id, "name": parent.name, "size": len(parent.records)}

    def rows(self, parent_id: str) -> list[Record]:
        """A parent's records as stored, in creation order (for the hub)."""
        return list(self._parent(parent_id).records.values())

    def view(self, record: Record) -> dict[str, object]:
        """A stored record as the hub reads it."""
        layout = self.layout
        return {
            layout.id_field: record.record_id,
            **record.values,
            layout.created_field: record.created_ms,
            layout.modified_field: record.modified_ms,
        }

    def _writable(self, values: Mapping[str, object]) -> dict[str, object]:
        layout = self.layout
        fixed = (layout.id_field, layout.created_field, layout.modified_field)
        return {k: v for k, v in values.items() if k not in fixed}

    def _parent(self, parent_id: str) -> _Parent:
        found = self._parents.get(parent_id)
        if found is None:
            raise errors.ProviderNotFound(f"there is no {self.layout.parents} item {parent_id}")
        return found

    def _record(self, record_id: str) -> Record:
        parent = self._parents.get(record_id.rpartition(":")[0])
        found = None if parent is None else parent.records.get(record_id)
        if found is None:
            raise errors.ProviderNotFound(f"there is no record {record_id}")
        return found

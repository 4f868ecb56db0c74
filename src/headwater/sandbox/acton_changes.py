"""Scripted changes to the sandbox's contacts: atomic batches and "between pages" hooks.

A batch is a list of operations, applied all or nothing, every one stamped with the same time:

    {"op": "create", "list": "l-0001", "values": {"First Name": "Ada"}}
    {"op": "update", "id": "l-0001:3", "values": {"Job Title": "CTO"}}
    {"op": "touch",  "id": "l-0001:3"}          (an update that changes no column)
    {"op": "delete", "id": "l-0001:4"}

A hook holds a batch back until the ``after``-th successful download of one list (counted from when
the hook is armed) has been answered, then applies it, so the next page that a paging client asks
for sees the data shifted under it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from headwater.sandbox import acton_data, acton_errors


class BatchError(ValueError):
    """An operation of a batch is malformed or refers to nothing; nothing was applied."""


def _problem(index: int, message: str) -> BatchError:
    return BatchError(f"ops[{index}]: {message}")


def _values(index: int, op: Mapping[str, Any]) -> dict[str, Any]:
    values = op.get("values", {})
    if not isinstance(values, dict):
        raise _problem(index, "values must be an object")
    return values


def apply_batch(
    store: acton_data.Store, ops: Sequence[Mapping[str, Any]], *, at_ms: int | None = None
) -> list[str]:
    """Applies ``ops`` atomically at one time (default: the sandbox clock's now).

    Returns the id each operation touched, in order; raises BatchError and changes nothing when
    any operation is wrong (checked against the state as the earlier operations leave it).
    """
    with store.lock:
        _check(store, ops)
        now = store.clock.now_ms() if at_ms is None else at_ms
        touched: list[str] = []
        for op in ops:
            kind = op["op"]
            if kind == "create":
                touched.append(store.insert(op["list"], op.get("values", {}), at_ms=now))
                continue
            list_id, _, _ = str(op["id"]).rpartition(":")
            if kind == "delete":
                touched.append(store.delete(list_id, op["id"], at_ms=now))
            else:
                touched.append(store.update(list_id, op["id"], op.get("values", {}), at_ms=now))
        return touched


def _check(store: acton_data.Store, ops: Sequence[Mapping[str, Any]]) -> None:
    live: dict[str, set[int]] = {}
    next_number: dict[str, int] = {}

    def target(index: int, list_id: str) -> acton_data.ContactList:
        try:
            found = store.get_list(list_id)
        except acton_errors.ActonError as exc:
            raise _problem(index, f"no list {list_id!r}") from exc
        if list_id not in live:
            live[list_id] = set(found.contacts)
            next_number[list_id] = found.next_number
        return found

    for index, op in enumerate(ops):
        if not isinstance(op, Mapping):
            raise _problem(index, "must be an object")
        kind = op.get("op")
        if kind == "create":
            found = target(index, str(op.get("list")))
            number = next_number[found.id]
            next_number[found.id] += 1
            live[found.id].add(number)
        elif kind in ("update", "touch", "delete"):
            list_id, sep, number_text = str(op.get("id", "")).rpartition(":")
            if not sep or not number_text.isdigit():
                raise _problem(index, "id must look like 'l-0001:7'")
            found = target(index, list_id)
            number = int(number_text)
            if number not in live[list_id]:
                raise _problem(index, f"no contact {op['id']!r}")
            if kind == "delete":
                live[list_id].discard(number)
        else:
            raise _problem(index, "op must be create, update, touch or delete")
        unknown = [
            k for k in _values(index, op) if k not in (acton_data.CONTACT_ID, *found.headings)
        ]
        if unknown:
            raise _problem(index, f"unknown column {unknown[0]!r}")


@dataclass
class Hook:
    """A batch waiting for the ``after``-th download of ``list_id``."""

    id: int
    list_id: str
    after: int
    ops: list[dict[str, Any]]
    seen: int = 0
    applied: list[str] | None = None
    error: str | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "list": self.list_id,
            "after": self.after,
            "seen": self.seen,
            "ops": self.ops,
            "applied": self.applied,
            "error": self.error,
        }


@dataclass
class PageHooks:
    """The armed hooks; thread-safe."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _hooks: list[Hook] = field(default_factory=list)
    _next_id: int = 1

    def add(self, list_id: str, after: int, ops: list[dict[str, Any]]) -> Hook:
        if after < 1:
            raise ValueError("after must be at least 1")
        with self._lock:
            hook = Hook(self._next_id, list_id, after, ops)
            self._next_id += 1
            self._hooks.append(hook)
            return hook

    def armed(self) -> list[Hook]:
        with self._lock:
            return list(self._hooks)

    def clear(self) -> None:
        with self._lock:
            self._hooks.clear()

    def downloaded(self, store: acton_data.Store, list_id: str) -> None:
        """Called after each successful download of ``list_id``; applies the hooks now due."""
        with self._lock:
            due: list[Hook] = []
            for hook in self._hooks:
                if hook.list_id == list_id and hook.applied is None and hook.error is None:
                    hook.seen += 1
                    if hook.seen == hook.after:
                        due.append(hook)
        for hook in due:
            try:
                hook.applied = apply_batch(store, hook.ops)
            except BatchError as exc:
                hook.error = str(exc)

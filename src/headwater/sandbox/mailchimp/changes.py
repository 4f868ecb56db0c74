"""Scripted member changes for the admin surface: atomic batches stamped with one chosen second.

    {"op": "create",  "list": "<list id>", "email": "a@example.com", "status": "subscribed",
                      "mergeFields": {"FNAME": "Ada"}}
    {"op": "update",  "list": …, "email": …, "status"?: …, "mergeFields"?: {…}, "newEmail"?: …}
    {"op": "touch",   "list": …, "email": …}     (moves last_changed, changes nothing else)
    {"op": "archive", "list": …, "email": …}     (as DELETE through the API)
    {"op": "delete",  "list": …, "email": …}     (permanent, as actions/delete-permanent)

``email`` may also be the subscriber hash. Each operation may name its webhook ``source``
(``user``, ``admin`` or ``api``; default ``admin``). The batch is all or nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from headwater.sandbox.mailchimp import problems, store

OPS = ("create", "update", "touch", "archive", "delete")


class BatchError(ValueError):
    """An operation is malformed or refused; nothing was applied."""


def apply_batch(data: store.Store, ops: Sequence[Any], *, at: int) -> list[str]:
    """Applies ``ops`` atomically at epoch second ``at``; returns the member id each touched."""

    def apply() -> list[str]:
        return [_apply(data, index, op, at) for index, op in enumerate(ops)]

    return data.atomically(apply)


def _apply(data: store.Store, index: int, op: Any, at: int) -> str:
    if not isinstance(op, Mapping):
        raise BatchError(f"ops[{index}]: must be an object")
    kind, list_id, email = op.get("op"), op.get("list"), op.get("email")
    source = op.get("source", "admin")
    if kind not in OPS:
        raise BatchError(f"ops[{index}].op: must be one of {', '.join(OPS)}")
    if not isinstance(list_id, str) or not isinstance(email, str) or not email:
        raise BatchError(f"ops[{index}]: list and email (strings) are required")
    if source not in store.SOURCES:
        raise BatchError(f"ops[{index}].source: must be one of {', '.join(store.SOURCES)}")
    try:
        if kind == "create":
            body = {
                "email_address": email,
                "status": op.get("status", "subscribed"),
                "merge_fields": op.get("mergeFields", {}),
            }
            return data.add(list_id, body, source=source, at=at).id
        if kind == "update":
            changes: dict[str, Any] = {}
            for key, name in (("status", "status"), ("mergeFields", "merge_fields")):
                if key in op:
                    changes[name] = op[key]
            if "newEmail" in op:
                changes["email_address"] = op["newEmail"]
            return data.update(list_id, email, changes, source=source, at=at).id
        if kind == "touch":
            return data.touch(list_id, email, at=at).id
        if kind == "archive":
            return data.archive(list_id, email, source=source, at=at).id
        member_id = data.get(list_id, email).id
        data.delete_permanent(list_id, email, source=source, at=at)
        return member_id
    except problems.Problem as exc:
        fields = "; ".join(f"{e['field']}: {e['message']}" for e in exc.errors)
        raise BatchError(f"ops[{index}]: {exc.title}: {exc.detail} {fields}".strip()) from exc

"""Inbound provider webhooks, read: the body, where it goes, and the changes it reports.

A webhook arrives as :class:`Received` (headers, query, the exact bytes of its body). Its body is
read as JSON, as a form (``data[merges][FNAME]=Ada`` nests), or, when empty, from the query
string (:func:`parse_body`). The instance it is for is named by the ``Element-Instances`` header,
by the base64 instance id in the path, or found by ``event.notification.instance.finder``
(``configKey|bodyPath``); :func:`path_instance`, :func:`header_instances` and
:func:`finder_matches` read each. :func:`read_changes` turns a body into the changes it reports,
as the element's :class:`Spec` says.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import hashlib
import json
import urllib.parse
from collections.abc import Mapping
from typing import Any

from headwater.domain import dates, json_depth, paths
from headwater.errors import HeadwaterError

UNKNOWN = "UNKNOWN"
"""The event type of a webhook type the element does not map: kept, under its own name."""


class BodyError(HeadwaterError):
    """The webhook's body cannot be read."""


@dataclasses.dataclass(frozen=True)
class Received:
    """One inbound webhook as it arrived: header names lower-cased, the body's exact bytes."""

    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes
    content_type: str = ""

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclasses.dataclass(frozen=True)
class Spec:
    """What an element declares of its webhooks (``events.webhooks`` of its declaration)."""

    verification: str  # svix | hmac | urlSecret
    types: Mapping[str, str]  # provider type -> CREATED | UPDATED | DELETED
    type_field: str = "type"
    object_type: str | None = None
    id_field: str = "id"  # dotted paths joined by "|": the first present
    id_transform: str | None = None  # md5Lowercase
    record_field: str | None = None
    date_field: str | None = None
    date_format: str | None = None
    hmac_header: str | None = None
    hmac_algorithm: str = "sha256"
    hmac_encoding: str = "hex"
    hmac_prefix: str = ""


@dataclasses.dataclass(frozen=True)
class Change:
    """One change a webhook reports. ``record`` is the record as the hub shows it, when the
    body carries one; ``raw`` is the whole body (the event's ``raw``)."""

    provider_type: str
    object_type: str
    object_id: str
    event_type: str
    date: dt.datetime | None
    record: Mapping[str, object] | None
    raw: dict[str, object]


def parse_body(received: Received) -> dict[str, object]:
    """The body as an object: JSON, a form, or the query string when the body is empty."""
    kind = received.content_type.split(";", 1)[0].strip().lower()
    if not received.body.strip():
        if received.query:
            return nest(list(received.query.items()))
        raise BodyError("the webhook's body is empty")
    try:
        text = received.body.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError("the webhook's body is not UTF-8 text") from None
    if kind == "application/x-www-form-urlencoded":
        return nest(urllib.parse.parse_qsl(text, keep_blank_values=True))
    if json_depth.too_deep(text):
        raise BodyError(f"the webhook's body is not acceptable: {json_depth.problem()}")
    try:
        found = json.loads(text)
    except ValueError as exc:
        raise BodyError(f"the webhook's body is not JSON (nor a form): {exc}") from None
    if not isinstance(found, dict):
        raise BodyError("the webhook's body must be a JSON object")
    return found


def nest(pairs: list[tuple[str, str]]) -> dict[str, object]:
    """Form fields as an object: ``data[merges][FNAME]=Ada`` → ``{"data": {"merges": {…}}}``."""
    out: dict[str, object] = {}
    for name, value in pairs:
        head, _, rest = name.partition("[")
        keys = [head] + [part.rstrip("]") for part in rest.split("[")] if rest else [head]
        current = out
        for key in keys[:-1]:
            child = current.get(key)
            if not isinstance(child, dict):
                child = current[key] = {}
            current = child
        current[keys[-1]] = value
    return out


def path_instance(text: str) -> int | None:
    """The instance id in a path segment (base64, padded or not, standard or URL-safe)."""
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    try:
        decoded = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    value = decoded.decode("ascii", "replace").strip()
    return int(value) if value.isdigit() and len(value) < 12 else None


def encode_instance(instance_id: int) -> str:
    """The path segment naming ``instance_id`` (URL-safe base64, unpadded)."""
    return base64.urlsafe_b64encode(str(instance_id).encode()).decode().rstrip("=")


def header_instances(value: str) -> list[int]:
    """The instance ids an ``Element-Instances`` header names (comma-separated)."""
    found = [part.strip() for part in value.split(",")]
    return [int(part) for part in found if part.isdigit() and len(part) < 12]


def finder_matches(finder: str, configuration: Mapping[str, object], body: object) -> bool:
    """Whether ``body`` holds, at the finder's body path, the instance's value of its key."""
    key, _, body_path = finder.partition("|")
    wanted = configuration.get(key)
    if wanted is None or not isinstance(body, Mapping):
        return False
    try:
        found = paths.get(body, body_path)
    except KeyError:
        return False
    return _text(found) == _text(wanted)


def read_changes(spec: Spec, body: Mapping[str, object], *, message_id: str) -> list[Change]:
    """The changes ``body`` reports: one per webhook (the providers shipped send one each).

    A type the element maps becomes its event type on the declared object type; any other is
    kept with event type UNKNOWN, its own name as object type, and the message id as object id
    when the body has no id. Raises BodyError naming what is missing."""
    try:
        provider_type = _text(paths.get(body, spec.type_field))
    except KeyError:
        raise BodyError(f"the webhook has no type at '{spec.type_field}'") from None
    mapped = spec.types.get(provider_type)
    object_id = next(
        (text for path in spec.id_field.split("|") if (text := _optional(body, path))), None
    )
    if object_id and spec.id_transform == "md5Lowercase":
        object_id = hashlib.md5(object_id.lower().encode()).hexdigest()
    if mapped is None:
        return [
            Change(
                provider_type=provider_type,
                object_type=provider_type or "unknown",
                object_id=object_id or message_id,
                event_type=UNKNOWN,
                date=None,
                record=None,
                raw=dict(body),
            )
        ]
    if not object_id:
        raise BodyError(f"the '{provider_type}' webhook has no record id at '{spec.id_field}'")
    record = None
    if spec.record_field is not None:
        try:
            carried = paths.get(body, spec.record_field)
        except KeyError:
            carried = None
        record = carried if isinstance(carried, Mapping) else None
    return [
        Change(
            provider_type=provider_type,
            object_type=spec.object_type or provider_type,
            object_id=object_id,
            event_type=mapped,
            date=_date(body, spec),
            record=record,
            raw=dict(body),
        )
    ]


def _date(body: Mapping[str, object], spec: Spec) -> dt.datetime | None:
    if spec.date_field is None:
        return None
    try:
        value = paths.get(body, spec.date_field)
        return dates.parse(value, spec.date_format, None)
    except (KeyError, ValueError):
        return None


def _optional(body: Mapping[str, object], path: str) -> str | None:
    try:
        value = paths.get(body, path)
    except KeyError:
        return None
    text = _text(value)
    return text or None


def _text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    return str(value).strip() if isinstance(value, str | int | float) else ""

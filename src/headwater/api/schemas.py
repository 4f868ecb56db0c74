"""The wire: request bodies (validated) and response shapes of the instances and elements API."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema

from headwater.api import examples
from headwater.domain import config_items
from headwater.instances import service, views

MAX_DEPTH = 32
T = TypeVar("T")


def wire_time(value: dt.datetime) -> str:
    """ISO-8601 in UTC with milliseconds and ``Z``."""
    utc = value.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _storable(value: Any, depth: int = 0) -> None:
    """Refuse what neither database can store: NUL characters, NaN and infinities, deep nesting."""
    if depth > MAX_DEPTH:
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("contains a NUL character")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("numbers must be finite")
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(key, depth + 1)
            _storable(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _storable(item, depth + 1)


def _check_storable(value: T) -> T:
    _storable(value)
    return value


Text = Annotated[
    str, StringConstraints(min_length=1, max_length=200), AfterValidator(_check_storable)
]
Tag = Annotated[str, StringConstraints(max_length=200), AfterValidator(_check_storable)]
Configuration = Annotated[dict[str, Any], AfterValidator(_check_storable)]

_MINUTES = {
    "anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "string"}],
    "description": "Minutes: a number or a numeric string (fractions down to the server's "
    "minimum).",
}
_BOOLEAN = {"anyOf": [{"type": "boolean"}, {"type": "string", "enum": ["true", "false"]}]}
_KEY = {"type": "string", "minLength": 16, "description": "At least 16 characters."}
_POLLED_RESOURCE: dict[str, Any] = {
    "type": "object",
    "required": ["url", "idField"],
    "properties": {
        "url": {"type": "string", "description": "A hub URL with a `where` and date variables."},
        "idField": {"type": "string", "description": "Dotted path of the record's id."},
        "datesConfiguration": {
            "type": "object",
            "properties": {
                name: {"type": "string"}
                for name in (
                    "updatedDateField",
                    "updatedDateFormat",
                    "updatedDateTimezone",
                    "createdDateField",
                    "createdDateFormat",
                    "createdDateTimezone",
                )
            },
        },
        "filterByUpdatedDate": {"type": "boolean", "default": True},
        "filterByCurrentDate": {"type": "boolean"},
        "createdCheckTolerance": {"type": "number", "description": "Seconds."},
        "pageSize": {"type": "integer", "minimum": 1},
        "pollDelay": {"type": "number", "description": "Seconds."},
        "backfillFrom": {
            "anyOf": [{"type": "string"}, {"type": "integer"}],
            "description": "Where the first poll's cursor starts: ISO-8601 or epoch ms.",
        },
    },
}
CONFIGURATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "InstanceConfiguration",
    "description": "Configuration keys (all validated; an unknown `event.*` key is an error). "
    "Booleans and numbers may arrive as strings, as in the Cloud Elements docs.",
    "properties": {
        "oauth.api.key": {"type": "string", "description": "The provider's OAuth client id."},
        "oauth.api.secret": {"type": "string", "description": "Its client secret (stored sealed)."},
        "oauth.callback.url": {"type": "string", "description": "The OAuth redirect URI."},
        "event.notification.enabled": {**_BOOLEAN, "default": False},
        "event.vendor.type": {"type": "string", "enum": ["polling", "webhooks", "webhook"]},
        "event.notification.type": {"type": "string", "enum": ["webhook"]},
        "event.notification.callback.url": {
            "type": "string",
            "description": "Where notifications are POSTed (private and loopback addresses "
            "are refused unless the server allows them).",
        },
        "event.notification.signature.key": {
            **_KEY,
            "description": "Signs notifications; generated (and shown once) when absent.",
        },
        "event.poller.refresh_interval": _MINUTES,
        "event.poller.reconcile_interval": _MINUTES,
        "event.poller.configuration": {
            "anyOf": [
                {"type": "object", "additionalProperties": _POLLED_RESOURCE},
                {"type": "string", "description": "The same object as JSON text."},
            ],
            "description": "Polled resources by name.",
        },
        "event.vendor.signature.key": {**_KEY, "description": "Verifies provider webhooks."},
        "event.notification.instance.finder": {
            "type": "string",
            "description": "`configKey|bodyPath`: routes inbound webhooks to this instance.",
        },
        "event.notification.retry.schedule": {
            "anyOf": [
                {"type": "array", "items": {"type": "number", "minimum": 0}},
                {"type": "string"},
            ],
            "description": "Delays in seconds between attempts.",
        },
    },
    "additionalProperties": True,
}
"""What the documentation shows of ``configuration``; the service validates it (naming each
key) so that every problem is listed at once."""
DocumentedConfiguration = Annotated[Configuration, WithJsonSchema(CONFIGURATION_SCHEMA)]
PropertyValue = Annotated[Any, AfterValidator(_check_storable)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ElementRef(_Body):
    key: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description=f"The element's key, e.g. `{examples.SHOWN.key}`."
    )


class ProviderData(_Body):
    code: Text | None = Field(
        default=None, description="The authorization code from the OAuth redirect."
    )


class InstanceCreate(_Body):
    """`POST /instances` (and `PUT /instances/{id}`): the body of the Cloud Elements docs."""

    element: ElementRef
    providerData: ProviderData | None = None
    configuration: DocumentedConfiguration = Field(default_factory=dict)
    tags: list[Tag] = Field(default_factory=list, max_length=100)
    name: Text

    def to_input(self) -> service.InstanceInput:
        return service.InstanceInput(
            element_key=self.element.key,
            name=self.name,
            configuration=self.configuration,
            tags=self.tags,
            code=self.providerData.code if self.providerData else None,
        )


class InstancePatch(_Body):
    """`PATCH /instances/{id}`: name and tags replace; configuration keys merge (null removes)."""

    name: Text | None = None
    tags: list[Tag] | None = Field(default=None, max_length=100)
    configuration: Configuration | None = None

    def to_patch(self) -> service.InstancePatch:
        return service.InstancePatch(
            name=self.name, tags=self.tags, configuration=self.configuration
        )


class ConfigurationItemIn(_Body):
    propertyValue: PropertyValue = Field(description="The new value; null removes the key.")


class ConfigurationItem(BaseModel):
    id: int = Field(description="The item's numeric id: stable for its key.")
    key: str
    propertyValue: Any


class ElementKey(BaseModel):
    id: int | None = None
    key: str
    name: str | None = None


class SignatureKeyOut(BaseModel):
    """Which key signs the instance's notifications (never the key): during a rotation's
    overlap, both sign `webhook-signature` and the previous one `Elements-Webhook-Signature`."""

    fingerprint: str = Field(description="The current key's `sha256:` fingerprint.")
    rotatedDate: str | None = None
    previousFingerprint: str | None = None
    overlapEndsDate: str | None = Field(
        None, description="Until when the previous key signs too (absent: no overlap)."
    )
    elementsSignatureKey: str = Field(
        description="`previous` during an overlap, else `current`: the key of "
        "`Elements-Webhook-Signature`."
    )


class InstanceOut(BaseModel):
    """An element instance. `token` only in the answer to its creation."""

    id: int
    name: str
    token: str | None = None
    element: ElementKey
    tags: list[str]
    valid: bool
    invalidReason: str | None = None
    disabled: bool
    eventsEnabled: bool
    configuration: dict[str, Any]
    createdDate: str
    signatureKey: SignatureKeyOut | None = None


class EventSupport(BaseModel):
    supported: bool
    methods: list[str] = Field(description="`polling`, `webhook`.")


class ResourceEvents(EventSupport):
    eventTypes: list[str] = Field(description="`CREATED`, `UPDATED`, `DELETED`.")


class ResourceMetadata(BaseModel):
    canonicalName: str
    events: ResourceEvents


class ElementMetadata(BaseModel):
    """`GET /elements/{key}/metadata`."""

    id: int
    key: str
    name: str
    description: str
    authenticationType: str
    hub: str
    events: EventSupport
    resources: list[ResourceMetadata]


class OAuthUrl(BaseModel):
    element: str
    oauthUrl: str


def instance_json(instance: views.Instance) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": instance.id,
        "name": instance.name,
        "element": _element_ref(instance),
        "tags": instance.tags,
        "valid": instance.valid,
        "disabled": instance.disabled,
        "eventsEnabled": instance.events_enabled,
        "configuration": instance.configuration,
        "createdDate": wire_time(instance.created_at),
    }
    if instance.token is not None:
        body["token"] = instance.token
    if instance.invalid_reason is not None:
        body["invalidReason"] = instance.invalid_reason
    if instance.signature_key is not None:
        body["signatureKey"] = signature_key_json(instance.signature_key)
    return body


def signature_key_json(shown: views.SignatureKey) -> dict[str, Any]:
    body: dict[str, Any] = {
        "fingerprint": shown.fingerprint,
        "elementsSignatureKey": "previous" if shown.overlap_until else "current",
    }
    if shown.rotated_at is not None:
        body["rotatedDate"] = wire_time(shown.rotated_at)
    if shown.overlap_until is not None:
        body["previousFingerprint"] = shown.previous_fingerprint
        body["overlapEndsDate"] = wire_time(shown.overlap_until)
    return body


def _element_ref(instance: views.Instance) -> dict[str, Any]:
    if instance.element_id is None:
        return {"key": instance.element_key}
    return {"id": instance.element_id, "key": instance.element_key, "name": instance.element_name}


def configuration_item(item: views.ConfigurationItem) -> dict[str, Any]:
    return {"id": item.id, "key": item.key, "propertyValue": item.value}


def configuration_items(configuration: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"id": config_items.item_id(key), "key": key, "propertyValue": value}
        for key, value in configuration.items()
    ]

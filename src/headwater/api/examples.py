"""Examples the OpenAPI description shows: request bodies and answers, as the API really sends them.

Keyed by ``(method, path)`` with the path below ``/elements/api-v2`` as documented
(``/instances/{instance_id}``). An operation without an entry here gets an example derived from
its response schema (see :mod:`headwater.api.openapi`).
"""

from __future__ import annotations

import copy
from typing import Any

from headwater.elements import registry

CALLBACK = "https://app.example.com/callback"

SHOWN = registry.build().all()[0]
"""The element the examples show: the first one the package ships."""

POLLER_CONFIGURATION: dict[str, Any] = SHOWN.poller_defaults()

INSTANCE_CREATE: dict[str, Any] = {
    "element": {"key": SHOWN.key},
    "providerData": {"code": "<authorization code from the OAuth redirect>"},
    "configuration": {
        "oauth.api.key": f"<{SHOWN.name} client id>",
        "oauth.api.secret": f"<{SHOWN.name} client secret>",
        "oauth.callback.url": CALLBACK,
        "event.notification.enabled": "true",
        "event.vendor.type": "polling",
        "event.poller.refresh_interval": "15",
        "event.notification.callback.url": "https://app.example.com/events",
        "event.poller.configuration": POLLER_CONFIGURATION,
    },
    "tags": ["Docs"],
    "name": "API Instance with Polling",
}
"""The events docs' ``POST /instances`` body, with its unbalanced quote and missing commas
fixed."""

INSTANCE: dict[str, Any] = {
    "id": 42,
    "name": "API Instance with Polling",
    "element": {"key": SHOWN.key},
    "tags": ["Docs"],
    "valid": True,
    "disabled": False,
    "eventsEnabled": True,
    "configuration": {
        "oauth.api.key": f"<{SHOWN.name} client id>",
        "oauth.api.secret": "********",
        "oauth.callback.url": CALLBACK,
        "event.notification.enabled": True,
        "event.vendor.type": "polling",
        "event.poller.refresh_interval": 15,
        "event.notification.callback.url": "https://app.example.com/events",
        "event.notification.signature.key": "********",
        "event.poller.configuration": POLLER_CONFIGURATION,
    },
    "createdDate": "2026-11-29T10:00:00.000Z",
}

CREATED_INSTANCE: dict[str, Any] = {
    **copy.deepcopy(INSTANCE),
    "token": "kT3n1vQ0bH8…",
}
CREATED_INSTANCE["configuration"]["event.notification.signature.key"] = "whsec_c2lnbmluZyBrZXk…"

ELEMENT: dict[str, Any] = {k: v for k, v in SHOWN.describe().items() if k != "id"}

EVENT: dict[str, Any] = {
    "id": 1001,
    "instanceId": 42,
    "elementKey": SHOWN.key,
    "hubKey": "marketing",
    "objectType": "contacts",
    "objectId": "l-0001:7",
    "eventType": "UPDATED",
    "date": "2026-11-29T10:15:00Z",
    "pollDate": "2026-11-29T10:16:00Z",
    "status": "NOTIFIED",
    "notificationId": "msg_0f6c7e0a3b8e4d2f9a1c5b7d3e9f1a2b",
    "raw": {"_contact_id_": "l-0001:7", "E-mail Address": "ada@example.com"},
}

DELIVERY: dict[str, Any] = {
    "id": 310,
    "notificationId": "msg_0f6c7e0a3b8e4d2f9a1c5b7d3e9f1a2b",
    "instanceId": 42,
    "kind": "events",
    "url": "https://app.example.com/events",
    "status": "delivered",
    "attempts": [
        {
            "date": "2026-11-29T10:16:01.120Z",
            "statusCode": 200,
            "latencyMs": 84,
            "error": None,
            "response": "ok",
        }
    ],
    "nextAttemptDate": None,
    "lastError": None,
    "createdDate": "2026-11-29T10:16:01.002Z",
    "updatedDate": "2026-11-29T10:16:01.204Z",
}

POLLER: dict[str, Any] = {
    "resource": "contacts",
    "enabled": True,
    "cursor": "2026-11-29T10:15:00Z",
    "lastRunDate": "2026-11-29T10:16:00Z",
    "nextRunDate": "2026-11-29T10:31:00Z",
    "lastError": None,
    "consecutiveFailures": 0,
    "lastEventCount": 3,
    "disabledReason": None,
    "nextReconcileDate": "2026-11-30T10:00:00Z",
}

CONTACT: dict[str, Any] = {
    "_contact_id_": "l-0001:7",
    "First Name": "Ada",
    "E-mail Address": "ada@example.com",
    "__created_date": 1780000000000,
    "__modified_date": 1780000900000,
}

LIST: dict[str, Any] = {
    "id": "l-0001",
    "name": "Newsletter",
    "folderName": "Lists",
    "size": 1200,
    "tsLastModified": 1780000900000,
}

CONFIGURATION_ITEM = {"key": "event.poller.refresh_interval", "propertyValue": 15}

_INSTANCE = "/instances/{instance_id}"
_POLLER = _INSTANCE + "/pollers/{resource}"
_CONTACTS = "/hubs/marketing/lists/{list_id}/contacts"
_DELIVERIES = "/notifications/subscriptions/deliveries"

RESPONSES: dict[tuple[str, str], Any] = {
    ("get", "/elements"): [ELEMENT],
    ("get", "/elements/{key}"): ELEMENT,
    ("get", "/elements/{key}/oauth/url"): {
        "element": SHOWN.key,
        "oauthUrl": SHOWN.authorize_url(client_id="<client id>", redirect_uri=CALLBACK),
    },
    ("post", "/instances"): CREATED_INSTANCE,
    ("get", "/instances"): [INSTANCE],
    ("get", _INSTANCE): INSTANCE,
    ("patch", _INSTANCE): INSTANCE,
    ("put", _INSTANCE): INSTANCE,
    ("put", _INSTANCE + "/enabled"): INSTANCE,
    ("delete", _INSTANCE + "/enabled"): {**INSTANCE, "disabled": True},
    ("get", _INSTANCE + "/configuration"): [CONFIGURATION_ITEM],
    ("patch", _INSTANCE + "/configuration"): [CONFIGURATION_ITEM],
    ("get", _INSTANCE + "/configuration/{key}"): CONFIGURATION_ITEM,
    ("patch", _INSTANCE + "/configuration/{key}"): CONFIGURATION_ITEM,
    ("get", "/hubs/marketing/lists"): [LIST],
    ("get", _CONTACTS): [CONTACT],
    ("post", _CONTACTS): CONTACT,
    ("get", _CONTACTS + "/{contact_id}"): CONTACT,
    ("patch", _CONTACTS + "/{contact_id}"): CONTACT,
    ("put", _CONTACTS + "/{contact_id}"): CONTACT,
    ("get", _DELIVERIES): [DELIVERY],
    ("put", _DELIVERIES): [{**DELIVERY, "status": "created", "attempts": []}],
    ("post", _INSTANCE + "/events/replay"): {
        "eventCount": 1,
        "deliveries": [{**DELIVERY, "kind": "replay", "status": "created", "attempts": []}],
    },
    ("post", _INSTANCE + "/notifications/test"): {**DELIVERY, "kind": "test"},
    ("get", _INSTANCE + "/pollers"): [POLLER],
    ("post", _POLLER + "/run"): POLLER,
    ("post", _POLLER + "/reconcile"): POLLER,
    ("put", _POLLER + "/enabled"): POLLER,
    ("delete", _POLLER + "/enabled"): {**POLLER, "enabled": False, "disabledReason": "paused"},
    ("get", "/instances/events"): [EVENT],
    ("get", "/instances/events/{event_id}"): EVENT,
    ("get", _INSTANCE + "/events"): [EVENT],
}
"""Success answers by (method, path below the base path)."""

BODIES: dict[tuple[str, str], Any] = {
    ("post", "/instances"): INSTANCE_CREATE,
    ("put", _INSTANCE): INSTANCE_CREATE,
    ("patch", _INSTANCE): {
        "name": "Renamed",
        "configuration": {"event.poller.refresh_interval": 5},
    },
    ("patch", _INSTANCE + "/configuration"): {"event.notification.enabled": False},
    ("patch", _INSTANCE + "/configuration/{key}"): {"propertyValue": 5},
    ("post", _INSTANCE + "/events/replay"): {
        "from": "2026-11-29T00:00:00Z",
        "to": "2026-11-30T00:00:00Z",
        "where": "objectType = 'contacts' and eventType in ('CREATED', 'UPDATED')",
    },
}
"""Request bodies by (method, path below the base path)."""

OPERATIONS: dict[tuple[str, str], Any] = {
    ("get", "/healthz"): {"status": "ok"},
    ("get", "/readyz"): {"status": "ok", "database": "ok", "migrations": "0001"},
}
"""Success answers of the routes outside the base path, by (method, full path)."""

"""The element catalog: what each connector is, supports and polls by default."""

from __future__ import annotations

import copy
import dataclasses
import urllib.parse
import zlib
from collections.abc import Mapping
from typing import Any

from headwater.errors import NotFoundError

EVENT_TYPES = ("CREATED", "UPDATED", "DELETED")
"""What a polled resource reports: DELETED comes from the periodic reconciliation."""

ACTON_CONTACTS_POLLER: Mapping[str, Any] = {
    "contacts": {
        "url": "/hubs/marketing/lists/{listId}/contacts?where=modafter='${epoch}'",
        "idField": "_contact_id_",
        "datesConfiguration": {
            "updatedDateField": "__modified_date",
            "updatedDateFormat": "milliseconds",
            "createdDateField": "__created_date",
            "createdDateFormat": "milliseconds",
        },
    }
}


@dataclasses.dataclass(frozen=True)
class ElementSpec:
    """One connector: its key, auth, hubs, event methods and default poller configuration."""

    key: str
    name: str
    description: str
    auth_type: str
    hub: str
    base_url: str
    event_methods: frozenset[str]
    resources: tuple[str, ...]
    default_poller_configuration: Mapping[str, Any]
    default_refresh_interval: float = 15.0

    @property
    def id(self) -> int:
        """The element's numeric id, derived from its key: the same on every node."""
        return zlib.crc32(self.key.encode()) & 0x7FFFFFFF

    def reference(self) -> dict[str, Any]:
        """The ``element`` object of an instance: ``id``, ``key`` and ``name``."""
        return {"id": self.id, "key": self.key, "name": self.name}

    def metadata(self) -> dict[str, Any]:
        """What ``GET /elements/{key}/metadata`` answers: the element's event support, and per
        resource whether it has events, by which methods and of which types."""
        methods = sorted("webhook" if m == "webhooks" else m for m in self.event_methods)
        polled = set(self.default_poller_configuration)
        return {
            **self.reference(),
            "description": self.description,
            "authenticationType": self.auth_type,
            "hub": self.hub,
            "events": {"supported": bool(methods), "methods": methods},
            "resources": [
                {
                    "canonicalName": resource,
                    "events": {
                        "supported": resource in polled,
                        "methods": methods if resource in polled else [],
                        "eventTypes": list(EVENT_TYPES) if resource in polled else [],
                    },
                }
                for resource in self.resources
            ],
        }

    def poller_defaults(self) -> dict[str, Any]:
        """A copy of the default ``event.poller.configuration``, safe to change."""
        return copy.deepcopy(dict(self.default_poller_configuration))

    def authorize_url(self, *, client_id: str, redirect_uri: str, state: str | None = None) -> str:
        """The provider's OAuth 2.0 authorize URL the user's browser is sent to."""
        query = {
            "scope": "PRODUCTION",
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
        }
        if state:
            query["state"] = state
        return f"{self.base_url}/authorize?{urllib.parse.urlencode(query)}"

    def describe(self) -> dict[str, Any]:
        """The element as the API shows it."""
        return {
            "id": self.id,
            "key": self.key,
            "name": self.name,
            "description": self.description,
            "authentication": {"type": self.auth_type},
            "hub": self.hub,
            "hubs": [self.hub],
            "resources": list(self.resources),
            "events": {
                "supported": bool(self.event_methods),
                "methods": sorted(self.event_methods),
                "defaultRefreshInterval": self.default_refresh_interval,
                "defaultPollerConfiguration": self.poller_defaults(),
            },
        }


class Registry:
    """Every element this server knows, by key."""

    def __init__(self, elements: list[ElementSpec]) -> None:
        self._elements = {element.key: element for element in elements}

    def get(self, key: str) -> ElementSpec:
        """The element ``key``; NotFoundError when there is none."""
        try:
            return self._elements[key]
        except KeyError:
            raise NotFoundError(f"No element with key {key!r}.") from None

    def find(self, key_or_id: str) -> ElementSpec:
        """The element whose key (or numeric id) is ``key_or_id``; NotFoundError naming it."""
        if key_or_id in self._elements:
            return self._elements[key_or_id]
        for element in self._elements.values():
            if key_or_id == str(element.id):
                return element
        raise NotFoundError(f"No element with key or id {key_or_id!r}.")

    def all(self) -> list[ElementSpec]:
        return sorted(self._elements.values(), key=lambda element: element.key)


def acton(base_url: str) -> ElementSpec:
    """The Act-On marketing element, talking to ``base_url`` (the real API or the sandbox)."""
    return ElementSpec(
        key="acton",
        name="Act-On",
        description="Act-On marketing automation: contact lists and their contacts.",
        auth_type="oauth2",
        hub="marketing",
        base_url=base_url.rstrip("/"),
        event_methods=frozenset({"polling"}),
        resources=("lists", "contacts"),
        default_poller_configuration=ACTON_CONTACTS_POLLER,
    )


def build(*, acton_base_url: str) -> Registry:
    """The catalog, with provider base URLs from the settings."""
    return Registry([acton(acton_base_url)])

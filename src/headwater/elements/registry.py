"""The element catalog: what each connector is, supports and polls by default."""

from __future__ import annotations

import copy
import dataclasses
import urllib.parse
from collections.abc import Mapping
from typing import Any

from headwater.errors import NotFoundError

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

"""``Element``: a declaration plus the behaviour built from it (OAuth, hub, catalog views)."""

from __future__ import annotations

import copy
import dataclasses
import importlib
import urllib.parse
import zlib
from typing import Any, cast

import aiohttp

from headwater.elements import base, oauth
from headwater.elements import declaration as declared

EVENT_TYPES = ("CREATED", "UPDATED", "DELETED")
"""What a polled resource reports: DELETED comes from the periodic reconciliation."""


@dataclasses.dataclass(frozen=True)
class Element:
    """One element as this server runs it: its declaration, and where its API is."""

    declaration: declared.Declaration
    base_url: str
    rate_per_second: float

    @property
    def key(self) -> str:
        return self.declaration.key

    @property
    def name(self) -> str:
        return self.declaration.name

    @property
    def hub_key(self) -> str:
        return self.declaration.hub

    @property
    def event_methods(self) -> frozenset[str]:
        return frozenset(self.declaration.events.methods)

    @property
    def id(self) -> int:
        """The element's numeric id, derived from its key: the same on every node."""
        return zlib.crc32(self.key.encode()) & 0x7FFFFFFF

    # -- behaviour ---------------------------------------------------------------------------

    def hub(self, connection: base.Connection) -> base.Hub:
        """The hub of one instance, calling the provider through ``connection``."""
        hooks = self._hooks()
        if hooks is None:
            raise NotImplementedError(f"element {self.key!r} declares no hub")
        return hooks.hub(self, connection)

    def authorize_url(self, *, client_id: str, redirect_uri: str, state: str | None = None) -> str:
        """The provider's OAuth 2.0 authorize URL the user's browser is sent to."""
        flow = self._oauth2()
        query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri}
        if flow.scopes:
            query = {"scope": " ".join(flow.scopes), **query}
        if state:
            query["state"] = state
        url = self._url(flow.authorize_url)
        joiner = "&" if "?" in url else "?"
        return f"{url}{joiner}{urllib.parse.urlencode(query)}"

    async def exchange_code(
        self,
        http: aiohttp.ClientSession,
        *,
        code: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
    ) -> base.Grant:
        """Exchange an authorization code for the instance's tokens."""
        return await oauth.exchange_code(
            http,
            self._url(self._oauth2().token_url),
            code=code,
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=redirect_uri,
        )

    async def refresh(
        self,
        http: aiohttp.ClientSession,
        *,
        refresh_token: str,
        client_id: str,
        client_secret: str,
    ) -> base.Grant:
        """Spend ``refresh_token`` for new tokens."""
        return await oauth.refresh(
            http,
            self._url(self._oauth2().token_url),
            refresh_token=refresh_token,
            client_id=client_id,
            client_secret=client_secret,
        )

    # -- catalog views -----------------------------------------------------------------------

    def reference(self) -> dict[str, Any]:
        """The ``element`` object of an instance: ``id``, ``key`` and ``name``."""
        return {"id": self.id, "key": self.key, "name": self.name}

    def poller_defaults(self) -> dict[str, Any]:
        """A copy of the default ``event.poller.configuration``, safe to change."""
        return copy.deepcopy(dict(self.declaration.events.poller_configuration))

    def metadata(self) -> dict[str, Any]:
        """What ``GET /elements/{key}/metadata`` answers: the element's event support, and per
        resource whether it has events, by which methods and of which types."""
        methods = sorted("webhook" if m == "webhooks" else m for m in self.event_methods)
        polled = set(self.declaration.events.poller_configuration)
        return {
            **self.reference(),
            "description": self.declaration.description,
            "authenticationType": self.declaration.authentication.type,
            "hub": self.hub_key,
            "events": {"supported": bool(methods), "methods": methods},
            "resources": [
                {
                    "canonicalName": resource.name,
                    "events": {
                        "supported": resource.name in polled,
                        "methods": methods if resource.name in polled else [],
                        "eventTypes": list(EVENT_TYPES) if resource.name in polled else [],
                    },
                }
                for resource in self.declaration.resources
            ],
        }

    def describe(self) -> dict[str, Any]:
        """The element as the API shows it."""
        return {
            "id": self.id,
            "key": self.key,
            "name": self.name,
            "description": self.declaration.description,
            "authentication": {"type": self.declaration.authentication.type},
            "hub": self.hub_key,
            "hubs": [self.hub_key],
            "resources": [resource.name for resource in self.declaration.resources],
            "events": {
                "supported": bool(self.event_methods),
                "methods": sorted(self.event_methods),
                "defaultRefreshInterval": self.declaration.events.default_refresh_interval,
                "defaultPollerConfiguration": self.poller_defaults(),
            },
        }

    # -- helpers -----------------------------------------------------------------------------

    def _oauth2(self) -> declared.OAuth2:
        flow = self.declaration.authentication.oauth2
        if flow is None:
            raise NotImplementedError(f"element {self.key!r} does not authenticate with OAuth 2")
        return flow

    def _url(self, template: str) -> str:
        return template.replace("{baseUrl}", self.base_url.rstrip("/"))

    def _hooks(self) -> base.Hooks | None:
        if self.declaration.hooks is None:
            return None
        return cast(base.Hooks, importlib.import_module(self.declaration.hooks))

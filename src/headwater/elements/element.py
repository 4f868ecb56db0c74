"""``Element``: a declaration plus the behaviour built from it (OAuth, hub, catalog views)."""

from __future__ import annotations

import copy
import dataclasses
import importlib
import urllib.parse
import zlib
from collections.abc import Mapping
from typing import Any

import aiohttp

from headwater import errors
from headwater.domain import inbound
from headwater.elements import base, declared_hub, declared_webhooks, oauth
from headwater.elements import declaration as declared

EVENT_TYPES = ("CREATED", "UPDATED", "DELETED")
"""What a polled resource reports: DELETED comes from the periodic reconciliation."""


@dataclasses.dataclass(frozen=True)
class Element:
    """One element as this server runs it: its declaration, and where its API is.

    ``urls`` holds the declaration's other named URLs (``api.urls``) with their settings
    applied; URL templates may name them as ``{<name>}`` beside ``{baseUrl}``.
    """

    declaration: declared.Declaration
    base_url: str
    rate_per_second: float
    urls: Mapping[str, str] = dataclasses.field(default_factory=dict)

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
    def webhooks(self) -> inbound.Spec | None:
        """How the element's webhooks are verified and read, when it declares them."""
        found = self.declaration.events.webhooks
        if found is None:
            return None
        check = found.verification
        return inbound.Spec(
            verification=check.type,
            types=dict(found.types),
            type_field=found.type_field,
            object_type=found.object_type,
            id_field=found.id_field,
            id_transform=found.id_transform,
            record_field=found.record_field,
            date_field=found.date_field,
            date_format=found.date_format,
            hmac_header=check.header,
            hmac_algorithm=check.algorithm,
            hmac_encoding=check.encoding,
            hmac_prefix=check.prefix,
        )

    @property
    def api_key_field(self) -> str | None:
        """The configuration key holding the instance's API key, for an element that
        authenticates with one (None: it uses OAuth 2)."""
        api_key = self.declaration.authentication.api_key
        return api_key.configuration_key if api_key is not None else None

    @property
    def id(self) -> int:
        """The element's numeric id, derived from its key: the same on every node."""
        return zlib.crc32(self.key.encode()) & 0x7FFFFFFF

    # -- behaviour ---------------------------------------------------------------------------

    def hub(self, connection: base.Connection) -> base.Hub:
        """The hub of one instance, calling the provider through ``connection``: the hooks
        module's ``hub`` when it has one, else the hub built from the declaration."""
        hooks = self._hooks()
        make = getattr(hooks, "hub", None) if hooks is not None else None
        if make is not None:
            hub: base.Hub = make(self, connection)
            return hub
        return declared_hub.DeclaredHub(self.declaration, connection)

    def webhook_registrations(
        self, connection: base.Connection
    ) -> declared_webhooks.Registrations | None:
        """Registering one instance's webhooks through the provider's API, when it can."""
        found = self.declaration.events.webhooks
        if found is None or found.registration is None:
            return None
        return declared_webhooks.Registrations(
            self.declaration, found.registration, connection, self.hub(connection)
        )

    def authorize_url(self, *, client_id: str, redirect_uri: str, state: str | None = None) -> str:
        """The provider's OAuth 2.0 authorize URL the user's browser is sent to."""
        flow = self._oauth2()
        query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri}
        if flow.scopes:
            query = {"scope": " ".join(flow.scopes), **query}
        if state:
            query["state"] = state
        url = self.url(flow.authorize_url)
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
        """Exchange an authorization code for the instance's tokens; when the element declares
        an account discovery call, the account's API URL is in ``account["base_url"]``."""
        flow = self._oauth2()
        grant = await oauth.exchange_code(
            http,
            self.url(flow.token_url),
            code=code,
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=redirect_uri,
        )
        found = flow.account_discovery
        if found is None:
            return grant
        account_url = await oauth.discover_account(
            http,
            self.url(found.url),
            grant.access_token,
            header=found.token_header,
            prefix=found.token_prefix,
            field=found.base_url_field,
        )
        account = {**grant.account, "base_url": account_url.rstrip("/") + found.base_path}
        return dataclasses.replace(grant, account=account)

    async def refresh(
        self,
        http: aiohttp.ClientSession,
        *,
        refresh_token: str,
        client_id: str,
        client_secret: str,
    ) -> base.Grant:
        """Spend ``refresh_token`` for new tokens; ``ProviderRefusal`` when the element's
        tokens cannot be refreshed."""
        flow = self._oauth2()
        if not flow.refresh:
            raise errors.ProviderRefusal(
                f"{self.name} tokens cannot be refreshed: the instance must be re-authenticated",
                provider_message="the provider grants no refresh tokens",
            )
        return await oauth.refresh(
            http,
            self.url(flow.token_url),
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

    def url(self, template: str) -> str:
        """``template`` with ``{baseUrl}`` and each ``{<name>}`` of ``urls`` filled in."""
        out = template.replace("{baseUrl}", self.base_url.rstrip("/"))
        for name, value in self.urls.items():
            out = out.replace("{" + name + "}", value.rstrip("/"))
        return out

    def _hooks(self) -> object | None:
        if self.declaration.hooks is None:
            return None
        return importlib.import_module(self.declaration.hooks)

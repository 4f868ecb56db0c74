"""An element's declaration: what ``element.yaml`` says, as frozen values.

:mod:`headwater.elements.declaration_loader` reads a file into a :class:`Declaration` once the
JSON Schema and the rules beyond it accept it. The format, key by key, is described in
``docs/elements.md``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FILE_NAME = "element.yaml"
DEFAULT_RATE_PER_SECOND = 5.0
DEFAULT_REFRESH_INTERVAL = 15.0


@dataclasses.dataclass(frozen=True)
class AccountDiscovery:
    """A call after the code exchange answering the account's own API host (Mailchimp's
    ``/oauth2/metadata``): the token goes in ``token_header`` after ``token_prefix``; the host is
    at ``base_url_field`` and ``base_path`` is appended to it."""

    url: str
    base_url_field: str
    token_header: str = "Authorization"
    token_prefix: str = "Bearer "
    base_path: str = ""


@dataclasses.dataclass(frozen=True)
class OAuth2:
    """OAuth 2.0 authorization code flow; URLs may hold ``{baseUrl}`` and ``{<url name>}``."""

    authorize_url: str
    token_url: str
    scopes: tuple[str, ...] = ()
    refresh: bool = True
    account_discovery: AccountDiscovery | None = None


@dataclasses.dataclass(frozen=True)
class ApiKey:
    """A key from the instance's configuration, sent in a header or a query parameter."""

    location: str  # header | query
    name: str
    prefix: str = ""
    configuration_key: str = "api.key"


@dataclasses.dataclass(frozen=True)
class Authentication:
    type: str  # oauth2 | apiKey
    oauth2: OAuth2 | None = None
    api_key: ApiKey | None = None


@dataclasses.dataclass(frozen=True)
class ErrorFormat:
    """How the provider's error bodies read: where its message is, and what means "not found"."""

    message_paths: tuple[str, ...] = ("message", "error.message", "error_description", "detail")
    not_found_statuses: tuple[int, ...] = (404,)


@dataclasses.dataclass(frozen=True)
class Call:
    """One provider call: method and path template (appended to the base URL)."""

    method: str
    path: str


@dataclasses.dataclass(frozen=True)
class WhereTerm:
    """A CEQL term ``field op 'value'`` the provider takes as the query parameter ``param``."""

    field: str
    op: str = "="
    param: str = ""


@dataclasses.dataclass(frozen=True)
class Paging:
    """How a listing pages: ``offset``, ``pageNumber``, ``pageToken`` or ``link`` (RFC 8288)."""

    style: str
    max_page_size: int | None = None
    size_param: str | None = None
    offset_param: str | None = None
    total_field: str | None = None
    page_param: str | None = None
    first_page: int = 1
    token_param: str | None = None
    next_token_field: str | None = None
    check_shift: bool = False  # offset: each next page re-reads the row before it


@dataclasses.dataclass(frozen=True)
class Operations:
    """Single-record calls; the record's hub path is the collection's path plus ``/{id}``."""

    read: Call | None = None
    create: Call | None = None
    update: Call | None = None
    replace: Call | None = None
    delete: Call | None = None


@dataclasses.dataclass(frozen=True)
class Resource:
    """One hub resource: its name, hub path and how the provider serves it."""

    name: str
    path: str
    description: str = ""
    provider: Call | None = None
    records: str | None = None  # dotted path; None: the body is the array
    id_field: str = "id"
    child_count_field: str | None = None
    where: tuple[WhereTerm, ...] = ()
    fields_param: str | None = None
    query: Mapping[str, str] = dataclasses.field(default_factory=dict)
    paging: Paging | None = None
    operations: Operations = Operations()


@dataclasses.dataclass(frozen=True)
class WebhookVerification:
    type: str  # svix | hmac | urlSecret
    header: str | None = None
    algorithm: str = "sha256"
    encoding: str = "hex"
    prefix: str = ""


@dataclasses.dataclass(frozen=True)
class WebhookRegistration:
    create: Call
    delete: Call | None = None
    per_item_of: str | None = None
    body: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    id_field: str = "id"
    list: Call | None = None  # the webhooks registered, to find Headwater's own by URL
    records: str | None = None
    url_field: str = "url"


@dataclasses.dataclass(frozen=True)
class Webhooks:
    """How the provider's webhooks are verified, registered and mapped to event types."""

    verification: WebhookVerification
    types: Mapping[str, str]  # provider type -> CREATED | UPDATED | DELETED
    registration: WebhookRegistration | None = None
    type_field: str = "type"
    object_type: str | None = None
    id_field: str = "id"  # several paths joined by "|": the first present
    id_transform: str | None = None
    record_field: str | None = None  # the record as the hub shows it; None: no record
    date_field: str | None = None
    date_format: str | None = None


@dataclasses.dataclass(frozen=True)
class Events:
    methods: tuple[str, ...]
    default_refresh_interval: float
    poller_configuration: Mapping[str, Any]
    webhooks: Webhooks | None = None


@dataclasses.dataclass(frozen=True)
class Declaration:
    key: str
    name: str
    description: str
    hub: str
    base_url: str
    authentication: Authentication
    rate_per_second: float
    resources: tuple[Resource, ...]
    events: Events
    urls: Mapping[str, str] = dataclasses.field(default_factory=dict)
    errors: ErrorFormat = ErrorFormat()
    max_in_flight: int | None = None
    hooks: str | None = None
    folder: Path | None = None
    source: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def resource(self, name: str) -> Resource | None:
        """The resource called ``name``, if declared."""
        return next((r for r in self.resources if r.name == name), None)

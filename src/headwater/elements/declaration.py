"""An element's declaration: what ``element.yaml`` says, validated and read into frozen values.

:func:`load` checks the file against the JSON Schema (:mod:`headwater.elements.schema`) and
the rules a schema cannot say (:mod:`headwater.elements.declaration_checks`), then builds a
:class:`Declaration`. Every problem names the file, the line and the key path.
The format, key by key, is described in ``docs/elements.md``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from headwater.elements import declaration_checks, schema

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


@dataclasses.dataclass(frozen=True)
class Webhooks:
    """How the provider's webhooks are verified, registered and mapped to event types."""

    verification: WebhookVerification
    types: Mapping[str, str]  # provider type -> CREATED | UPDATED | DELETED
    registration: WebhookRegistration | None = None
    type_field: str = "type"
    object_type: str | None = None
    id_field: str = "id"


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


def load(path: Path) -> Declaration:
    """The declaration in ``path`` (a folder holding ``element.yaml``, or the file itself).

    Raises :class:`headwater.elements.schema.DeclarationError` (a ``ConfigurationError``)
    listing every problem with its line and key path."""
    file = path / FILE_NAME if path.is_dir() else path
    document = schema.read(file)
    found = schema.problems(document)
    if not found:
        found = declaration_checks.problems(document)
    if found:
        raise schema.DeclarationError(str(file), found)
    return from_mapping(document.data, folder=file.parent)


def from_mapping(data: Mapping[str, Any], *, folder: Path | None = None) -> Declaration:
    """A declaration from a mapping that the schema accepts."""
    auth = data["authentication"]
    events = data.get("events", {})
    rate = data.get("rateLimit", {})
    errors = data["api"].get("errors", {})
    return Declaration(
        key=data["key"],
        name=data["name"],
        description=data.get("description", ""),
        hub=data["hub"],
        base_url=data["api"]["baseUrl"],
        urls=dict(data["api"].get("urls", {})),
        errors=ErrorFormat(
            message_paths=tuple(errors.get("messagePaths", ErrorFormat.message_paths)),
            not_found_statuses=tuple(errors.get("notFoundStatuses", (404,))),
        ),
        authentication=Authentication(
            type=auth["type"],
            oauth2=_oauth2(auth["oauth2"]) if "oauth2" in auth else None,
            api_key=_api_key(auth["apiKey"]) if "apiKey" in auth else None,
        ),
        rate_per_second=float(rate.get("perSecond", DEFAULT_RATE_PER_SECOND)),
        max_in_flight=rate.get("maxInFlight"),
        resources=tuple(_resource(r) for r in data.get("resources", ())),
        events=Events(
            methods=tuple(events.get("methods", ())),
            default_refresh_interval=float(
                events.get("defaultRefreshInterval", DEFAULT_REFRESH_INTERVAL)
            ),
            poller_configuration=events.get("pollerConfiguration", {}),
            webhooks=_webhooks(events["webhooks"]) if "webhooks" in events else None,
        ),
        hooks=data.get("hooks"),
        folder=folder,
        source=data,
    )


def _oauth2(raw: Mapping[str, Any]) -> OAuth2:
    found = raw.get("accountDiscovery")
    return OAuth2(
        authorize_url=raw["authorizeUrl"],
        token_url=raw["tokenUrl"],
        scopes=tuple(raw.get("scopes", ())),
        refresh=bool(raw.get("refresh", True)),
        account_discovery=None
        if found is None
        else AccountDiscovery(
            url=found["url"],
            base_url_field=found["baseUrlField"],
            token_header=found.get("tokenHeader", "Authorization"),
            token_prefix=found.get("tokenPrefix", "Bearer "),
            base_path=found.get("basePath", "").rstrip("/"),
        ),
    )


def _api_key(raw: Mapping[str, Any]) -> ApiKey:
    return ApiKey(
        location=raw["in"],
        name=raw["name"],
        prefix=raw.get("prefix", ""),
        configuration_key=raw.get("configurationKey", "api.key"),
    )


def _call(raw: Mapping[str, Any] | None) -> Call | None:
    return None if raw is None else Call(method=raw["method"], path=raw["path"])


def _resource(raw: Mapping[str, Any]) -> Resource:
    paging = raw.get("paging")
    operations = raw.get("operations", {})
    return Resource(
        name=raw["name"],
        path=raw["path"],
        description=raw.get("description", ""),
        provider=_call(raw.get("provider")),
        records=raw.get("records"),
        id_field=raw.get("idField", "id"),
        child_count_field=raw.get("childCountField"),
        where=tuple(
            WhereTerm(t["field"], t.get("op", "="), t.get("param", t["field"]))
            for t in raw.get("where", ())
        ),
        fields_param=raw.get("fieldsParam"),
        query=dict(raw.get("query", {})),
        paging=None
        if paging is None
        else Paging(
            style=paging["style"],
            max_page_size=paging.get("maxPageSize"),
            size_param=paging.get("sizeParam"),
            offset_param=paging.get("offsetParam"),
            total_field=paging.get("totalField"),
            page_param=paging.get("pageParam"),
            first_page=paging.get("firstPage", 1),
            token_param=paging.get("tokenParam"),
            next_token_field=paging.get("nextTokenField"),
        ),
        operations=Operations(**{name: _call(operations.get(name)) for name in _OPERATIONS}),
    )


_OPERATIONS = ("read", "create", "update", "replace", "delete")


def _webhooks(raw: Mapping[str, Any]) -> Webhooks:
    check = raw["verification"]
    registration = raw.get("registration")
    return Webhooks(
        verification=WebhookVerification(
            type=check["type"],
            header=check.get("header"),
            algorithm=check.get("algorithm", "sha256"),
            encoding=check.get("encoding", "hex"),
            prefix=check.get("prefix", ""),
        ),
        types=dict(raw["types"]),
        registration=None
        if registration is None
        else WebhookRegistration(
            create=Call(registration["create"]["method"], registration["create"]["path"]),
            delete=_call(registration.get("delete")),
            per_item_of=registration.get("perItemOf"),
            body=dict(registration.get("body", {})),
            id_field=registration.get("idField", "id"),
        ),
        type_field=raw.get("typeField", "type"),
        object_type=raw.get("objectType"),
        id_field=raw.get("idField", "id"),
    )

"""Reading ``element.yaml``: checked against the JSON Schema (:mod:`headwater.elements.schema`)
and the rules a schema cannot say (:mod:`headwater.elements.declaration_checks`), then built into
a :class:`~headwater.elements.declaration.Declaration`. Every problem names the file, the line
and the key path.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from headwater.elements import declaration, declaration_checks, schema


def load(path: Path) -> declaration.Declaration:
    """The declaration in ``path`` (a folder holding ``element.yaml``, or the file itself).

    Raises :class:`headwater.elements.schema.DeclarationError` (a ``ConfigurationError``)
    listing every problem with its line and key path."""
    file = path / declaration.FILE_NAME if path.is_dir() else path
    document = schema.read(file)
    found = schema.problems(document)
    if not found:
        found = declaration_checks.problems(document)
    if found:
        raise schema.DeclarationError(str(file), found)
    return from_mapping(document.data, folder=file.parent)


def from_mapping(data: Mapping[str, Any], *, folder: Path | None = None) -> declaration.Declaration:
    """A declaration from a mapping that the schema accepts."""
    auth = data["authentication"]
    events = data.get("events", {})
    rate = data.get("rateLimit", {})
    errors = data["api"].get("errors", {})
    return declaration.Declaration(
        key=data["key"],
        name=data["name"],
        description=data.get("description", ""),
        hub=data["hub"],
        base_url=data["api"]["baseUrl"],
        urls=dict(data["api"].get("urls", {})),
        errors=declaration.ErrorFormat(
            message_paths=tuple(errors.get("messagePaths", declaration.ErrorFormat.message_paths)),
            not_found_statuses=tuple(errors.get("notFoundStatuses", (404,))),
        ),
        authentication=declaration.Authentication(
            type=auth["type"],
            oauth2=_oauth2(auth["oauth2"]) if "oauth2" in auth else None,
            api_key=_api_key(auth["apiKey"]) if "apiKey" in auth else None,
        ),
        rate_per_second=float(rate.get("perSecond", declaration.DEFAULT_RATE_PER_SECOND)),
        max_in_flight=rate.get("maxInFlight"),
        resources=tuple(_resource(r) for r in data.get("resources", ())),
        events=declaration.Events(
            methods=tuple(events.get("methods", ())),
            default_refresh_interval=float(
                events.get("defaultRefreshInterval", declaration.DEFAULT_REFRESH_INTERVAL)
            ),
            poller_configuration=events.get("pollerConfiguration", {}),
            webhooks=_webhooks(events["webhooks"]) if "webhooks" in events else None,
        ),
        hooks=data.get("hooks"),
        folder=folder,
        source=data,
    )


def _oauth2(raw: Mapping[str, Any]) -> declaration.OAuth2:
    found = raw.get("accountDiscovery")
    return declaration.OAuth2(
        authorize_url=raw["authorizeUrl"],
        token_url=raw["tokenUrl"],
        scopes=tuple(raw.get("scopes", ())),
        refresh=bool(raw.get("refresh", True)),
        account_discovery=None
        if found is None
        else declaration.AccountDiscovery(
            url=found["url"],
            base_url_field=found["baseUrlField"],
            token_header=found.get("tokenHeader", "Authorization"),
            token_prefix=found.get("tokenPrefix", "Bearer "),
            base_path=found.get("basePath", "").rstrip("/"),
        ),
    )


def _api_key(raw: Mapping[str, Any]) -> declaration.ApiKey:
    return declaration.ApiKey(
        location=raw["in"],
        name=raw["name"],
        prefix=raw.get("prefix", ""),
        configuration_key=raw.get("configurationKey", "api.key"),
    )


def _call(raw: Mapping[str, Any] | None) -> declaration.Call | None:
    return None if raw is None else declaration.Call(method=raw["method"], path=raw["path"])


def _resource(raw: Mapping[str, Any]) -> declaration.Resource:
    paging = raw.get("paging")
    operations = raw.get("operations", {})
    return declaration.Resource(
        name=raw["name"],
        path=raw["path"],
        description=raw.get("description", ""),
        provider=_call(raw.get("provider")),
        records=raw.get("records"),
        id_field=raw.get("idField", "id"),
        child_count_field=raw.get("childCountField"),
        where=tuple(
            declaration.WhereTerm(t["field"], t.get("op", "="), t.get("param", t["field"]))
            for t in raw.get("where", ())
        ),
        fields_param=raw.get("fieldsParam"),
        query=dict(raw.get("query", {})),
        paging=None
        if paging is None
        else declaration.Paging(
            style=paging["style"],
            max_page_size=paging.get("maxPageSize"),
            size_param=paging.get("sizeParam"),
            offset_param=paging.get("offsetParam"),
            total_field=paging.get("totalField"),
            page_param=paging.get("pageParam"),
            first_page=paging.get("firstPage", 1),
            token_param=paging.get("tokenParam"),
            next_token_field=paging.get("nextTokenField"),
            check_shift=bool(paging.get("checkShift", False)),
        ),
        operations=declaration.Operations(
            **{name: _call(operations.get(name)) for name in _OPERATIONS}
        ),
    )


_OPERATIONS = ("read", "create", "update", "replace", "delete")


def _webhooks(raw: Mapping[str, Any]) -> declaration.Webhooks:
    check = raw["verification"]
    registration = raw.get("registration")
    return declaration.Webhooks(
        verification=declaration.WebhookVerification(
            type=check["type"],
            header=check.get("header"),
            algorithm=check.get("algorithm", "sha256"),
            encoding=check.get("encoding", "hex"),
            prefix=check.get("prefix", ""),
        ),
        types=dict(raw["types"]),
        registration=None
        if registration is None
        else declaration.WebhookRegistration(
            create=declaration.Call(
                registration["create"]["method"], registration["create"]["path"]
            ),
            delete=_call(registration.get("delete")),
            per_item_of=registration.get("perItemOf"),
            body=dict(registration.get("body", {})),
            id_field=registration.get("idField", "id"),
            list=_call(registration.get("list")),
            records=registration.get("records"),
            url_field=registration.get("urlField", "url"),
        ),
        type_field=raw.get("typeField", "type"),
        object_type=raw.get("objectType"),
        id_field=_paths(raw.get("idField", "id")),
        id_transform=raw.get("idTransform"),
        record_field=raw.get("recordField"),
        date_field=raw.get("dateField"),
        date_format=raw.get("dateFormat"),
    )


def _paths(raw: str | list[str]) -> str:
    return raw if isinstance(raw, str) else "|".join(raw)

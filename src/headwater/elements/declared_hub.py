"""``DeclaredHub``: a :class:`~headwater.elements.base.Hub` built purely from a declaration.

A hub path names a declared resource (``/hubs/crm/folders/{folderId}/notes``) or one record of
it (that path plus ``/<id>``). A listing calls the resource's ``provider`` path with its
placeholders filled, the resource's fixed ``query``, the ``where`` terms it declares as query
parameters, ``fields`` (through ``fieldsParam``, else the records are trimmed here) and the
paging parameters of its style (:mod:`headwater.elements.declared_paging`); the records are at
``records`` in the answer, or the answer itself. Single records go through ``operations``.
Calls, credentials, rate limits and errors: :mod:`headwater.elements.declared_http`.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping

from headwater import errors
from headwater.domain import paths
from headwater.elements import base, declaration, hub_tokens
from headwater.elements import declared_http as http
from headwater.elements import declared_paging as paging
from headwater.elements import declared_paths as hub_paths

_QUERY_NAMES = ("where", "fields")


class DeclaredHub:
    """The hub of one instance of a declared element."""

    def __init__(self, declared: declaration.Declaration, connection: base.Connection) -> None:
        self.declared = declared
        self.caller = http.Caller(declared, connection)

    async def fetch(
        self, url: str, *, page_size: int, page_token: str | None, read_past_shift: bool = False
    ) -> base.HubPage:
        # a declared provider cannot tell that rows moved between pages: read_past_shift is moot
        del read_past_shift
        target = hub_paths.resolve(self.declared.resources, url)
        if target.record_id is not None:
            return base.HubPage([await self.read(url)], None)
        resource = target.resource
        call = self._listing(resource)
        query = _query(url)
        where = hub_paths.where_params(resource, query.get("where"))
        fields = _fields(query.get("fields"))
        rules = resource.paging
        size = paging.page_size(rules, page_size)
        kind = f"{self.declared.key}:{resource.name}"
        fingerprint = hub_tokens.fingerprint(resource.name, target.values, where, fields)
        if page_token:
            position = hub_tokens.decode(page_token, kind, fingerprint)
        else:
            position = paging.start(rules)
        if rules is not None and rules.style == "link" and position.cursor is not None:
            request_url = position.cursor
            if not paging.same_origin(request_url, self.caller.base_url):
                raise errors.InputError(problems=[("nextPage", "is not a page of this listing")])
        else:
            pairs = [*resource.query.items(), *where]
            if fields and resource.fields_param:
                pairs.append((resource.fields_param, ",".join(fields)))
            pairs += paging.params(rules, position, size)
            request_url = self._url(call.path, target.values, pairs)
        answer = await self.caller.call(call.method, request_url)
        records = self._records(resource, answer.data, call.method, request_url)
        after = paging.following(
            rules,
            position,
            size,
            body=answer.data,
            headers=answer.headers,
            records=records,
            request_url=request_url,
        )
        if fields and not resource.fields_param:
            records = [{k: v for k, v in r.items() if k in fields} for r in records]
        token = None
        if after is not None:
            token = hub_tokens.encode(kind, after.offset, None, fingerprint, cursor=after.cursor)
        return base.HubPage(records, token)

    async def read(self, path: str) -> dict[str, object]:
        target = self._record(path)
        call = self._operation(target, "read")
        answer = await self.caller.call(call.method, self._url(call.path, _ids(target)))
        return self._record_of(answer.data, call, path)

    async def create(self, path: str, body: object) -> dict[str, object]:
        target = hub_paths.resolve(self.declared.resources, path)
        if target.record_id is not None:
            raise errors.NotFoundError(f"Records are created on a collection, not at {path}")
        call = self._operation(target, "create")
        answer = await self.caller.call(
            call.method, self._url(call.path, target.values), body=_object(body)
        )
        return self._record_of(answer.data, call, path)

    async def update(self, path: str, body: object, *, replace: bool = False) -> dict[str, object]:
        target = self._record(path)
        call = self._operation(target, "replace" if replace else "update")
        answer = await self.caller.call(
            call.method, self._url(call.path, _ids(target)), body=_object(body)
        )
        if isinstance(answer.data, dict) and answer.data:
            return answer.data
        return await self.read(path)  # the provider answered no record: read it as it is now

    async def delete(self, path: str) -> None:
        target = self._record(path)
        call = self._operation(target, "delete")
        await self.caller.call(call.method, self._url(call.path, _ids(target)))

    def child_count(self, collection_path: str, item: Mapping[str, object]) -> int | None:
        try:
            target = hub_paths.resolve(self.declared.resources, collection_path)
        except errors.NotFoundError:
            return None
        field = target.resource.child_count_field
        if target.record_id is not None or field is None:
            return None
        try:
            value = paths.get(item, field)
        except KeyError:
            return None
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    # -- helpers -----------------------------------------------------------------------------

    def _url(
        self, template: str, values: Mapping[str, str], query: list[tuple[str, str]] | None = None
    ) -> str:
        url = self.caller.base_url + hub_paths.fill(template, values)
        return f"{url}?{hub_paths.encode_query(query)}" if query else url

    def _listing(self, resource: declaration.Resource) -> declaration.Call:
        if resource.provider is None:
            raise errors.NotFoundError(f"{self.declared.name} does not list {resource.name}")
        return resource.provider

    def _record(self, path: str) -> hub_paths.Target:
        target = hub_paths.resolve(self.declared.resources, path)
        if target.record_id is None:
            raise errors.NotFoundError(f"{path} is a collection, not one record")
        return target

    def _operation(self, target: hub_paths.Target, name: str) -> declaration.Call:
        call: declaration.Call | None = getattr(target.resource.operations, name)
        if call is None:
            raise errors.NotFoundError(
                f"{self.declared.name} has no '{name}' for {target.resource.name}"
            )
        return call

    def _records(
        self, resource: declaration.Resource, data: object, method: str, url: str
    ) -> list[dict[str, object]]:
        found: object = data
        if resource.records is not None:
            try:
                found = paths.get(data, resource.records) if isinstance(data, Mapping) else None
            except KeyError:
                found = None
        if not isinstance(found, list) or not all(isinstance(r, dict) for r in found):
            where = f"'{resource.records}'" if resource.records else "the body"
            raise errors.ProviderUnavailable(
                f"{self.declared.name} answered {method} {urllib.parse.urlsplit(url).path} "
                f"with a malformed body: {where} is not an array of objects"
            )
        return found

    def _record_of(self, data: object, call: declaration.Call, path: str) -> dict[str, object]:
        if not isinstance(data, dict):
            raise errors.ProviderUnavailable(
                f"{self.declared.name} answered {call.method} for {path} with no record"
            )
        return data


def _query(url: str) -> dict[str, str]:
    pairs = urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True)
    unknown = sorted({name for name, _ in pairs if name not in _QUERY_NAMES})
    if unknown:
        raise errors.InputError(
            problems=[(name, "is not a parameter of this hub (where, fields)") for name in unknown]
        )
    return dict(pairs)


def _fields(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    return tuple(f.strip() for f in raw.replace(";", ",").split(",") if f.strip())


def _ids(target: hub_paths.Target) -> dict[str, str]:
    return {**target.values, "id": target.record_id or ""}


def _object(body: object) -> dict[str, object]:
    if not isinstance(body, dict):
        raise errors.InputError(problems=[("body", "must be a JSON object")])
    return body

"""An in-memory hub: a test double of :class:`headwater.elements.base.Hub`, with no I/O.

Like httpx's ``MockTransport``, it lets the code that reads a hub (the poller, reconciliation)
run against a provider in the same process. A :class:`Store` (from
:mod:`headwater.elements.memory_store`) holds parents (lists) of JSON records (contacts) stamped
by a :class:`Clock` that moves only when told to, so that many changes can share one
millisecond; a :class:`MemoryHub` serves it by hub path:

- ``/hubs/<hub>/<parents>``: the parents, ``{"id", "name", "size"}``; ``size`` counts the
  parent's records (what :meth:`MemoryHub.child_count` reports);
- ``/hubs/<hub>/<parents>/<id>/<children>``: a parent's records in the order they were created,
  filtered by a CEQL ``where`` on their dates (``modafter``, ``modbefore``, ``createdafter``,
  ``createdbefore`` ``= '<epoch ms>'``, joined by ``and``; strict bounds unless the hub is built
  with ``inclusive_bounds``) and cut to the columns ``fields`` names (``fields=<id field>`` lists
  ids only);
- ``/hubs/<hub>/<parents>/<id>/<children>/<record id>``: one record.

Paging is by offset, as Act-On's hub pages: a token carries the offset of the next row, the id
of the last row returned and the query. When the row before that offset is no longer that row
(rows before it were deleted, or a change moved a row into the filter), the rows moved and the
fetch raises :class:`~headwater.elements.base.PagesShifted` carrying the page read from where the
previous one ended; with ``read_past_shift``, from just after that row if it moved up, else from
up to ``max_back`` rows further back, so that no row the move pushed up is skipped.

Hooks (:meth:`MemoryHub.after_fetches`) run an action once the n-th listing of one parent's
records has been answered, so that the next page a caller asks for sees the rows moved.
"""

from __future__ import annotations

import dataclasses
import functools
import urllib.parse
from collections.abc import Callable, Mapping

from headwater import errors
from headwater.domain import ceql
from headwater.elements import base, hub_tokens, memory_store

DATE_FILTERS = ("modafter", "modbefore", "createdafter", "createdbefore")
MAX_PAGE_SIZE = 1000

Clock = memory_store.Clock
Layout = memory_store.Layout
Store = memory_store.Store


@dataclasses.dataclass
class Hook:
    """An action waiting for the ``after``-th listing of ``parent_id``'s records."""

    parent_id: str
    after: int
    action: Callable[[], object]
    seen: int = 0
    ran: bool = False


@dataclasses.dataclass(frozen=True)
class _Query:
    dates: tuple[tuple[str, int], ...]
    fields: tuple[str, ...] | None

    @classmethod
    def parse(cls, where: str | None, fields: str | None) -> _Query:
        bounds: dict[str, int] = {}
        for term in ceql.parse(where) if where and where.strip() else []:
            if (
                not isinstance(term, ceql.Condition)
                or term.field.lower() not in DATE_FILTERS
                or term.op != "="
                or not str(term.value).isdigit()
            ):
                raise errors.InputError(
                    problems=[("where", f"takes {', '.join(DATE_FILTERS)} = '<epoch ms>' only")]
                )
            bounds[term.field.lower()] = int(term.value)
        wanted = None
        if fields is not None:
            wanted = tuple(f.strip() for f in fields.split(",") if f.strip())
            if not wanted:
                raise errors.InputError(problems=[("fields", "names no field")])
        return cls(tuple(sorted(bounds.items())), wanted)

    def matches(self, record: memory_store.Record, *, inclusive: bool) -> bool:
        for name, bound in self.dates:
            value = record.modified_ms if name.startswith("mod") else record.created_ms
            if value == bound:
                if not inclusive:
                    return False
            elif (value < bound) if name.endswith("after") else (value > bound):
                return False
        return True

    def project(self, record: dict[str, object]) -> dict[str, object]:
        if self.fields is None:
            return record
        return {f: record[f] for f in self.fields if f in record}


class MemoryHub:
    """The :class:`~headwater.elements.base.Hub` over a :class:`Store`."""

    def __init__(
        self, store: Store | None = None, *, inclusive_bounds: bool = False, max_back: int = 1000
    ) -> None:
        self.store = store or Store()
        self.inclusive_bounds = inclusive_bounds
        self.max_back = max_back
        self.hooks: list[Hook] = []
        self.fetches = 0  # listings of records answered, shifted or not

    def after_fetches(self, parent_id: str, after: int, action: Callable[[], object]) -> Hook:
        """Run ``action`` once the ``after``-th listing of ``parent_id``'s records (counted from
        now) has been answered, before the next one is read."""
        if after < 1:
            raise ValueError("after must be at least 1")
        hook = Hook(parent_id, after, action)
        self.hooks.append(hook)
        return hook

    async def fetch(
        self, url: str, *, page_size: int, page_token: str | None, read_past_shift: bool = False
    ) -> base.HubPage:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise errors.InputError(problems=[("pageSize", f"must be 1 to {MAX_PAGE_SIZE}")])
        parts = self._parts(url)
        if len(parts) == 1:
            return self._parents_page(page_size, page_token)
        if len(parts) == 4:
            return base.HubPage([await self.read(url)], None)
        _, where, fields = _split(url)
        wanted = _parse_query(where, fields)
        page, shift = self._records_page(parts[1], wanted, page_size, page_token, read_past_shift)
        self.fetches += 1
        self._listed(parts[1])
        if shift is not None:
            raise base.PagesShifted(shift, page=page)
        return page

    async def read(self, path: str) -> dict[str, object]:
        return self.store.record(self._record_id(path))

    async def create(self, path: str, body: object) -> dict[str, object]:
        parts = self._parts(path)
        if len(parts) != 3:
            raise errors.NotFoundError(f"the hub cannot create records at {path}")
        return self.store.record(self.store.insert(parts[1], _body(body)))

    async def update(self, path: str, body: object, *, replace: bool = False) -> dict[str, object]:
        record_id = self._record_id(path)
        self.store.update(record_id, _body(body), replace=replace)
        return self.store.record(record_id)

    async def delete(self, path: str) -> None:
        self.store.delete(self._record_id(path))

    def child_count(self, collection_path: str, item: Mapping[str, object]) -> int | None:
        try:
            parts = self._parts(collection_path)
        except errors.NotFoundError:
            return None
        size = item.get("size")
        if len(parts) != 1 or not isinstance(size, int) or isinstance(size, bool):
            return None
        return size

    def _parents_page(self, page_size: int, page_token: str | None) -> base.HubPage:
        ids = self.store.parent_ids()
        start, _ = _position(page_token, self.store.layout.parents)
        chosen = ids[start : start + page_size]
        end = start + len(chosen)
        token = _token(end, None, self.store.layout.parents) if end < len(ids) else None
        return base.HubPage([self.store.summary(p) for p in chosen], token)

    def _records_page(
        self,
        parent_id: str,
        query: _Query,
        page_size: int,
        page_token: str | None,
        read_past_shift: bool,
    ) -> tuple[base.HubPage, str | None]:
        """The page, and why its rows moved (None when they did not)."""
        key = _fingerprint(parent_id, query)
        offset, last = _position(page_token, key)
        rows = [
            r
            for r in self.store.rows(parent_id)
            if query.matches(r, inclusive=self.inclusive_bounds)
        ]
        start, shift = offset, None
        before = offset - 1
        if last is not None and not (before < len(rows) and rows[before].record_id == last):
            shift = (
                f"{parent_id} changed while it was being paged (record {last} is no longer "
                "where the previous page ended); start again from the first page"
            )
            start = before
            if read_past_shift:
                earliest = max(0, before - self.max_back)
                ids = [r.record_id for r in rows[earliest : before + 1]]
                start = earliest + ids.index(last) + 1 if last in ids else earliest
        chosen = rows[start : start + page_size]
        end = start + len(chosen)
        more = bool(chosen) and end < len(rows)
        token = _token(end, chosen[-1].record_id, key) if more else None
        records = [query.project(self.store.view(r)) for r in chosen]
        return base.HubPage(records, token), shift

    def _listed(self, parent_id: str) -> None:
        for hook in list(self.hooks):
            if hook.parent_id == parent_id and not hook.ran:
                hook.seen += 1
                if hook.seen == hook.after:
                    hook.ran = True
                    hook.action()

    def _parts(self, path: str) -> tuple[str, ...]:
        layout = self.store.layout
        parts = _split(path)[0]
        if (
            parts[:3] != ("hubs", layout.hub, layout.parents)
            or len(parts) not in (3, 5, 6)
            or (len(parts) > 3 and parts[4] != layout.children)
        ):
            raise errors.NotFoundError(f"the hub has no resource at {path}")
        return parts[2:]

    def _record_id(self, path: str) -> str:
        parts = self._parts(path)
        if len(parts) != 4:
            raise errors.NotFoundError(f"the hub has no record at {path}")
        # a record is named by its full id or by its number in the parent
        parent_id, _, number = parts[3].rpartition(":")
        if parent_id not in ("", parts[1]):
            raise errors.ProviderNotFound(f"there is no record {parts[3]} in {parts[1]}")
        return f"{parts[1]}:{number}"


# a poller asks the same few URLs and queries page after page: parse each once


@functools.lru_cache(maxsize=256)
def _split(url: str) -> tuple[tuple[str, ...], str | None, str | None]:
    """The path's segments, and the query's ``where`` and ``fields``."""
    split = urllib.parse.urlsplit(url)
    parts = tuple(urllib.parse.unquote(p) for p in split.path.split("/") if p)
    query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
    return parts, _last(query, "where"), _last(query, "fields")


@functools.lru_cache(maxsize=64)
def _parse_query(where: str | None, fields: str | None) -> _Query:
    return _Query.parse(where, fields)


def _token(offset: int, last_id: str | None, key: str) -> str:
    return f"{offset}.{key}.{last_id or ''}"


def _position(token: str | None, key: str) -> tuple[int, str | None]:
    """The offset and last id a token of the listing ``key`` carries; InputError otherwise."""
    if not token:
        return 0, None
    offset, found, last = [*token.split(".", 2), "", ""][:3]
    if found != key or not offset.isdigit():
        raise errors.InputError(problems=[("nextPage", "is not a page token of this listing")])
    return int(offset), last or None


@functools.lru_cache(maxsize=64)
def _fingerprint(parent_id: str, query: _Query) -> str:
    return hub_tokens.fingerprint(parent_id, query.dates, query.fields)


def _last(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _body(body: object) -> dict[str, object]:
    if not isinstance(body, dict):
        raise errors.InputError(problems=[("body", "must be a JSON object")])
    return {str(k): v for k, v in body.items()}

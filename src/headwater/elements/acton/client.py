"""``ActonClient``: Act-On's REST API (``/api/1``) over the process's shared aiohttp session.

Every call carries ``Authorization: Bearer <access token>`` from a
:class:`~headwater.elements.base.TokenSource`, waits for the instance's
:class:`~headwater.elements.limits.RateLimiter`, and either returns decoded JSON or raises a
:mod:`headwater.errors` ``Provider*`` error whose message quotes what Act-On answered (status,
method, path and Act-On's own message). No aiohttp exception escapes this module.

How Act-On's answers are translated into errors: see :mod:`headwater.elements.acton.answers`;
the values the client returns (pages, write and delete results):
:mod:`headwater.elements.acton.results`.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator, Mapping, Sequence

import aiohttp
import yarl

from headwater import errors
from headwater.elements import base, limits
from headwater.elements.acton import answers, results

MAX_COUNT = 1000  # Act-On returns at most 1000 rows or lists per call
MAX_DELETE_IDS = 100  # ids per bulk delete


class ActonClient:
    """Act-On's ``/api/1`` lists and records, for one instance (one token source, one limiter)."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        base_url: str,
        tokens: base.TokenSource,
        limiter: base.Limiter,
        *,
        timeout: float = 30.0,
        max_rate_limit_retries: int = 3,
        max_rate_limit_wait: float = 30.0,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._tokens = tokens
        self._limiter = limiter
        self._timeout = timeout
        self._max_rate_limit_retries = max_rate_limit_retries
        self._max_rate_limit_wait = max_rate_limit_wait

    # -- lists -------------------------------------------------------------------------------

    async def get_lists(self, count: int = MAX_COUNT, offset: int = 0) -> results.ListsPage:
        """One page of the account's contact lists (``count`` is capped at 1000)."""
        params = {"listingtype": "CONTACT_LIST", "count": _count(count), "offset": str(offset)}
        path = "/api/1/list"
        answer = await self._call("GET", path, params=params)
        return results.lists_page(answer, path, offset=offset)

    async def iter_lists(self, *, page_size: int = MAX_COUNT) -> AsyncIterator[dict[str, object]]:
        """Every contact list, paging by offset until ``totalCount``."""
        offset = 0
        while True:
            page = await self.get_lists(page_size, offset)
            for item in page.lists:
                yield item
            offset += len(page.lists)
            if not page.lists or (page.total_count >= 0 and offset >= page.total_count):
                return

    async def get_list_page(
        self,
        list_id: str,
        *,
        offset: int = 0,
        count: int = MAX_COUNT,
        modafter: int | None = None,
        modbefore: int | None = None,
        createdafter: int | None = None,
        createdbefore: int | None = None,
        fields: Sequence[str] | None = None,
        datequalifiers: bool = False,
    ) -> results.ListPage:
        """One page of a list's contacts; dates are epoch milliseconds.

        ``datequalifiers`` appends the ``__created_date`` and ``__modified_date`` columns; Act-On
        refuses it together with ``fields``. An unknown list raises ``ProviderNotFound``.
        """
        params = {"count": _count(count), "offset": str(offset)}
        for name, value in (
            ("modafter", modafter),
            ("modbefore", modbefore),
            ("createdafter", createdafter),
            ("createdbefore", createdbefore),
        ):
            if value is not None:
                params[name] = str(int(value))
        if fields:
            params["fields"] = ";".join(fields)
        if datequalifiers:
            params["datequalifiers"] = "true"
        path = f"/api/1/list/{_segment(list_id)}"
        answer = await self._call("GET", path, params=params)
        return results.list_page(answer, path, list_id=list_id, offset=offset)

    async def iter_list_pages(
        self,
        list_id: str,
        *,
        page_size: int = MAX_COUNT,
        modafter: int | None = None,
        modbefore: int | None = None,
        createdafter: int | None = None,
        createdbefore: int | None = None,
        fields: Sequence[str] | None = None,
        datequalifiers: bool = False,
    ) -> AsyncIterator[results.ListPage]:
        """Every page of a list download, paging by offset until ``totalCount``."""
        offset = 0
        while True:
            page = await self.get_list_page(
                list_id,
                offset=offset,
                count=page_size,
                modafter=modafter,
                modbefore=modbefore,
                createdafter=createdafter,
                createdbefore=createdbefore,
                fields=fields,
                datequalifiers=datequalifiers,
            )
            yield page
            offset += len(page.rows)
            if not page.rows or (page.total_count >= 0 and offset >= page.total_count):
                return

    # -- records -----------------------------------------------------------------------------

    async def insert(self, list_id: str, record: Mapping[str, object]) -> results.Written:
        """Add a record (no de-duplication); returns its id, e.g. ``l-0001:12``."""
        path = f"/api/1/list/{_segment(list_id)}/record"
        answer = await self._call("POST", path, json=dict(record))
        return results.written(answer, "POST", path)

    async def upsert_by_email(
        self, list_id: str, email_address: str, record: Mapping[str, object]
    ) -> results.Written:
        """Update the first record with that email, or add one when none has it."""
        path = f"/api/1/list/{_segment(list_id)}/record"
        answer = await self._call("PUT", path, params={"email": email_address}, json=dict(record))
        return results.written(answer, "PUT", path)

    async def update(
        self, list_id: str, record_id: str, record: Mapping[str, object]
    ) -> results.Written:
        """Set the given columns of one record; the others keep their values."""
        path = f"/api/1/list/{_segment(list_id)}/record/{_segment(record_id)}"
        answer = await self._call("PUT", path, json=dict(record))
        return results.written(answer, "PUT", path)

    async def get_record(self, list_id: str, record_id: str) -> list[str]:
        """One record as Act-On returns it: a bare array aligned with the list's headers."""
        path = f"/api/1/list/{_segment(list_id)}/record/{_segment(record_id)}"
        return results.record(await self._call("GET", path), path)

    async def delete(self, list_id: str, record_id: str) -> None:
        """Delete one record; an unknown one raises ``ProviderNotFound``."""
        path = f"/api/1/list/{_segment(list_id)}/record/{_segment(record_id)}"
        await self._call("DELETE", path)

    async def delete_many(self, list_id: str, record_ids: Sequence[str]) -> results.Deleted:
        """Delete records by id, 100 per call; ids Act-On did not delete come back in ``failed``."""
        path = f"/api/1/list/{_segment(list_id)}/record"
        success_count = 0
        failed: list[tuple[str, str]] = []
        for start in range(0, len(record_ids), MAX_DELETE_IDS):
            chunk = record_ids[start : start + MAX_DELETE_IDS]
            answer = await self._call("DELETE", path, params={"contactids": ",".join(chunk)})
            part = results.deleted(answer, path)
            success_count += part.success_count
            failed.extend(part.failed)
        return results.Deleted(success_count=success_count, failed=failed)

    # -- transport ---------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: object = None,
    ) -> object:
        token = await self._tokens.current()
        refreshed = False
        rate_limit_retries = 0
        waited = 0.0
        while True:
            held = self._limiter.held_for()
            if held > self._max_rate_limit_wait:
                # an earlier 429 asked this account to wait longer than a caller should block
                raise errors.ProviderRateLimited(
                    f"Act-On is rate limiting this account: {method} {path} not sent; "
                    f"retry after {held:.0f} s",
                    retry_after=held,
                )
            await self._limiter.acquire()
            answer = await self._send(method, path, token, params, json)
            if answer.status == 401 and not refreshed:
                token = await self._tokens.refreshed(token)
                refreshed = True
                continue
            if answer.status == 429:
                delay = limits.retry_after(answer.headers)
                if delay is None:
                    delay = float(2**rate_limit_retries)
                self._limiter.hold(delay)
                if (
                    rate_limit_retries < self._max_rate_limit_retries
                    and waited + delay <= self._max_rate_limit_wait
                ):
                    rate_limit_retries += 1
                    waited += delay
                    continue
                message, _ = answers.provider_message(answer.body)
                raise errors.ProviderRateLimited(
                    f"Act-On is rate limiting this account: HTTP 429 on {method} {path}: "
                    f"{message} (retry after {delay:g} s)",
                    retry_after=delay,
                    provider_message=message,
                )
            if 200 <= answer.status < 300:
                return answers.decode(answer, method, path)
            raise answers.failure(answer, method, path)

    async def _send(
        self,
        method: str,
        path: str,
        token: str,
        params: Mapping[str, str] | None,
        body: object,
    ) -> answers.Answer:
        url = yarl.URL(self._base + path, encoded=True)
        if params:
            url = url.update_query(params)
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        try:
            async with self._http.request(
                method,
                url,
                headers=headers,
                json=body,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                allow_redirects=False,
            ) as response:
                data = await response.read()
                return answers.Answer(response.status, dict(response.headers), data)
        except TimeoutError as exc:
            raise errors.ProviderUnavailable(
                f"Act-On did not answer {method} {path} within {self._timeout:g} s"
            ) from exc
        except aiohttp.ClientPayloadError as exc:
            raise errors.ProviderUnavailable(
                f"Act-On broke off its answer to {method} {path}: {exc}"
            ) from exc
        except aiohttp.ClientError as exc:
            raise errors.ProviderUnavailable(
                f"Act-On could not be reached for {method} {path}: {exc or type(exc).__name__}"
            ) from exc


# -- helpers -----------------------------------------------------------------------------------


def _segment(value: str) -> str:
    return urllib.parse.quote(value, safe=":@-._~")


def _count(count: int) -> str:
    return str(max(1, min(int(count), MAX_COUNT)))

"""Calls of a declared hub to its provider: credentials, rate limits, and errors translated.

Every call waits for the instance's :class:`~headwater.elements.limits.RateLimiter` (and, when
the element declares ``rateLimit.maxInFlight``, for a free slot among the instance's calls in
flight) and carries the credential the element declares: ``Authorization: Bearer <token>`` for
OAuth 2, or the API key in its header or query parameter.

- 401 (OAuth 2): the token is refreshed once through ``tokens.refreshed`` and the call retried;
  a second 401 raises ``ProviderAuthExpired``. An API key that is refused: ``ProviderRefusal``.
- 429: ``Retry-After`` holds every caller of the instance; the call is retried while the waits
  stay short, then ``ProviderRateLimited`` with ``retry_after``.
- The declared not-found statuses (default 404): ``ProviderNotFound``; other 4xx:
  ``ProviderRefusal``; 5xx, timeouts, refused connections and bodies that are not JSON:
  ``ProviderUnavailable``. Messages quote the provider's own (``api.errors.messagePaths``).

No aiohttp exception escapes this module.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import weakref
from collections.abc import Mapping

import aiohttp
import yarl

from headwater import errors
from headwater.domain import paths
from headwater.elements import base, declaration, limits

_EXCERPT = 200
MAX_RATE_LIMIT_RETRIES = 3
MAX_RATE_LIMIT_WAIT = 30.0

# one slot pool per instance: the limiter is the one object all calls of an instance share
_in_flight: weakref.WeakKeyDictionary[base.Limiter, asyncio.Semaphore] = weakref.WeakKeyDictionary()


@dataclasses.dataclass(frozen=True)
class Answer:
    """A successful answer: status, headers and the decoded JSON (None for an empty body)."""

    status: int
    headers: Mapping[str, str]
    data: object


class Caller:
    """One instance's calls to the provider of a declared element."""

    def __init__(self, declared: declaration.Declaration, connection: base.Connection) -> None:
        self.declared = declared
        self.connection = connection
        self.base_url = connection.base_url.rstrip("/")
        self._slots: asyncio.Semaphore | None = None
        if declared.max_in_flight is not None:
            self._slots = _in_flight.setdefault(
                connection.limiter, asyncio.Semaphore(declared.max_in_flight)
            )

    async def call(self, method: str, url: str, *, body: object = None) -> Answer:
        """Send ``method`` to ``url`` (absolute, already encoded); see the module doc."""
        api_key = self.declared.authentication.api_key
        token = await self.connection.tokens.current()
        refreshed = False
        retries, waited = 0, 0.0
        where = f"{method} {yarl.URL(url, encoded=True).path}"
        while True:
            held = self.connection.limiter.held_for()
            if held > MAX_RATE_LIMIT_WAIT:
                raise errors.ProviderRateLimited(
                    f"{self.declared.name} is rate limiting this account: {where} not sent; "
                    f"retry after {held:.0f} s",
                    retry_after=held,
                )
            await self.connection.limiter.acquire()
            status, headers, raw = await self._send(method, url, token, body, where)
            if status == 401 and api_key is None and not refreshed:
                token = await self.connection.tokens.refreshed(token)
                refreshed = True
                continue
            if status == 429:
                delay = limits.retry_after(headers)
                delay = float(2**retries) if delay is None else delay
                self.connection.limiter.hold(delay)
                if retries < MAX_RATE_LIMIT_RETRIES and waited + delay <= MAX_RATE_LIMIT_WAIT:
                    retries, waited = retries + 1, waited + delay
                    continue
                message = self.message(raw)
                raise errors.ProviderRateLimited(
                    f"{self.declared.name} is rate limiting this account: HTTP 429 on {where}: "
                    f"{message} (retry after {delay:g} s)",
                    retry_after=delay,
                    provider_message=message,
                )
            if 200 <= status < 300:
                return Answer(status, headers, self._decode(raw, status, where))
            raise self._failure(status, raw, where, api_key is not None)

    def message(self, raw: bytes) -> str:
        """The provider's own message in an error body, by the declared message paths."""
        try:
            data = json.loads(raw)
        except ValueError:
            return raw[:_EXCERPT].decode("utf-8", errors="replace").strip() or "(empty body)"
        if isinstance(data, Mapping):
            for path in self.declared.errors.message_paths:
                try:
                    value = paths.get(data, path)
                except KeyError:
                    continue
                if isinstance(value, str) and value:
                    return value
        return json.dumps(data)[:_EXCERPT]

    async def _send(
        self, method: str, url: str, token: str, body: object, where: str
    ) -> tuple[int, dict[str, str], bytes]:
        target = yarl.URL(url, encoded=True)
        headers = {"Accept": "application/json"}
        api_key = self.declared.authentication.api_key
        if api_key is None:
            headers["Authorization"] = f"Bearer {token}"
        elif api_key.location == "header":
            headers[api_key.name] = f"{api_key.prefix}{token}"
        else:
            target = target.update_query({api_key.name: token})
        name = self.declared.name
        try:
            if self._slots is not None:
                await self._slots.acquire()
            try:
                async with self.connection.http.request(
                    method,
                    target,
                    headers=headers,
                    json=body,
                    timeout=aiohttp.ClientTimeout(total=self.connection.timeout),
                    allow_redirects=False,
                ) as response:
                    return response.status, _headers(response.headers), await response.read()
            finally:
                if self._slots is not None:
                    self._slots.release()
        except TimeoutError as exc:
            raise errors.ProviderUnavailable(
                f"{name} did not answer {where} within {self.connection.timeout:g} s"
            ) from exc
        except aiohttp.ClientError as exc:
            raise errors.ProviderUnavailable(
                f"{name} could not be reached for {where}: {exc or type(exc).__name__}"
            ) from exc

    def _decode(self, raw: bytes, status: int, where: str) -> object:
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            excerpt = raw[:80].decode("utf-8", errors="replace")
            raise errors.ProviderUnavailable(
                f"{self.declared.name} answered {where} with HTTP {status} and a body that is "
                f"not JSON: {excerpt!r}"
            ) from exc

    def _failure(self, status: int, raw: bytes, where: str, api_key: bool) -> errors.ProviderError:
        message = self.message(raw)
        text = f"{self.declared.name} failed with HTTP {status} on {where}: {message}"
        kind: type[errors.ProviderError]
        if status == 401 and not api_key:
            kind = errors.ProviderAuthExpired
            text += "; the access token was refused even after a refresh"
        elif status in self.declared.errors.not_found_statuses:
            kind = errors.ProviderNotFound
        elif 400 <= status < 500 and status != 408:
            kind = errors.ProviderRefusal
        else:
            kind = errors.ProviderUnavailable
        return kind(text, provider_message=message, http_status=status)


def _headers(raw: Mapping[str, str]) -> dict[str, str]:
    # a header sent several times (Link) reads as one, its values joined as RFC 9110 allows
    joined: dict[str, str] = {}
    for name, value in raw.items():
        joined[name] = f"{joined[name]}, {value}" if name in joined else value
    return joined

"""Sending one notification over the process's shared aiohttp session.

The callback host is resolved here and the request goes to the address that was checked (the
``Host`` header and TLS server name stay the URL's), so a name cannot be re-pointed at an
internal address between the check and the connection. Redirects are not followed: a 3xx is an
answer like any other non-2xx. aiohttp errors stop here, turned into an :class:`Outcome`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

import aiohttp
import yarl

from headwater.domain import callbacks

EXCERPT_BYTES = 1024

Resolver = Callable[[str, int], Awaitable[list[str]]]


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one attempt came to: an HTTP answer (``status``) or an ``error`` without one."""

    status: int | None
    latency_ms: float
    error: str | None = None
    excerpt: str | None = None
    retry_after: str | None = None
    timed_out: bool = False
    refused: bool = False
    unreachable: bool = False

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


async def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, in the resolver's order, without repeats."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in seen:
            seen.append(address)
    return seen


class Sender(Protocol):
    """The port every notification goes out through (:class:`AiohttpSender` adapts aiohttp)."""

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Outcome:
        """POST ``body``; never raises for what the network or the receiver does."""
        ...


class AiohttpSender:
    """Posts notification bodies; never raises for what the network or the receiver does."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        *,
        timeout_seconds: float,
        allow_private: bool,
        resolver: Resolver = resolve,
    ) -> None:
        self._http = http
        self._timeout = timeout_seconds
        self._allow_private = allow_private
        self._resolve = resolver

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Outcome:
        """POST ``body`` to ``url`` with ``headers``; the outcome, whatever happened.

        Resolving the host and connecting (to each address in turn while they refuse) share one
        budget of ``timeout_seconds``.
        """
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout):
                return await self._post(url, body, headers, started)
        except TimeoutError:
            return Outcome(
                status=None,
                latency_ms=_since(started),
                error=f"timed out after {self._timeout:g} s",
                timed_out=True,
            )

    async def _post(
        self, url: str, body: bytes, headers: Mapping[str, str], started: float
    ) -> Outcome:
        def failed(error: str, *, refused: bool = False, unreachable: bool = False) -> Outcome:
            return Outcome(
                status=None,
                latency_ms=_since(started),
                error=error,
                refused=refused,
                unreachable=unreachable,
            )

        try:
            target = yarl.URL(url)
            host = target.raw_host or ""
            port = target.port or (443 if target.scheme == "https" else 80)
        except ValueError as error:
            return failed(f"invalid callback URL: {error}", refused=True)
        if target.scheme not in ("http", "https") or not host:
            return failed(f"invalid callback URL {url!r}", refused=True)
        literal = callbacks.literal_address(host)
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                addresses = await self._resolve(host, port)
            except OSError as error:
                return failed(f"cannot resolve {host}: {error}", unreachable=True)
        if not addresses:
            return failed(f"cannot resolve {host}: no address", unreachable=True)
        if not self._allow_private:
            private = [a for a in addresses if callbacks.is_private_address(a)]
            if private:
                return failed(
                    f"refused: {host} resolves to {private[0]}, a private or loopback address; "
                    "private callbacks are not allowed on this server",
                    refused=True,
                )
        last = failed(f"cannot connect to {host}", unreachable=True)
        for address in addresses:
            outcome = await self._post_to(target, address, body, headers, started)
            if not outcome.unreachable:
                return outcome
            last = outcome
        return last

    async def _post_to(
        self,
        target: yarl.URL,
        address: str,
        body: bytes,
        headers: Mapping[str, str],
        started: float,
    ) -> Outcome:
        pinned = target.with_host(address)
        all_headers = {
            "Content-Type": "application/json",
            **headers,
            "Host": target.host_port_subcomponent or target.raw_host or "",
        }
        try:
            async with self._http.post(
                pinned,
                data=body,
                headers=all_headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                server_hostname=target.raw_host if target.scheme == "https" else None,
            ) as response:
                status = response.status
                latency = _since(started)
                excerpt = await _excerpt(response)
                error = None
                if 300 <= status < 400:
                    location = response.headers.get("Location", "")
                    error = f"HTTP {status}: redirect to {location or '?'} not followed"
                elif not 200 <= status < 300:
                    error = f"HTTP {status} {response.reason or ''}".strip()
                return Outcome(
                    status=status,
                    latency_ms=latency,
                    error=error,
                    excerpt=excerpt,
                    retry_after=response.headers.get("Retry-After"),
                )
        except TimeoutError:
            return Outcome(
                status=None,
                latency_ms=_since(started),
                error=f"timed out after {self._timeout:g} s",
                timed_out=True,
            )
        except aiohttp.ClientConnectorError as error:
            return Outcome(
                status=None,
                latency_ms=_since(started),
                error=f"cannot connect to {target.host}: {error.os_error or error}",
                unreachable=True,
            )
        except aiohttp.ClientError as error:
            return Outcome(
                status=None,
                latency_ms=_since(started),
                error=f"{type(error).__name__}: {error}",
            )


async def _excerpt(response: aiohttp.ClientResponse) -> str | None:
    """Up to the first KiB of the answer, as text; never fails the attempt."""
    chunks: list[bytes] = []
    size = 0
    try:
        while size < EXCERPT_BYTES:
            chunk = await response.content.read(EXCERPT_BYTES - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except (aiohttp.ClientError, TimeoutError):
        pass
    if not chunks:
        return None
    return b"".join(chunks).decode("utf-8", errors="replace")


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)

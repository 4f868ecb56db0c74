"""An ``ActonClient`` on the sandbox for tests, with a token source that counts its refreshes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import aiohttp

from headwater.elements import limits, oauth
from headwater.elements.acton import client as acton
from tests.sandbox_fixtures import ActonSandbox


class SandboxTokens:
    """A ``TokenSource`` holding one token pair from the sandbox's password grant."""

    def __init__(self, http: aiohttp.ClientSession, sandbox: ActonSandbox) -> None:
        granted = sandbox.token()
        self.http = http
        self.sandbox = sandbox
        self.access: str = granted["access_token"]
        self.refresh_token: str | None = granted["refresh_token"]
        self.refreshes = 0

    async def current(self) -> str:
        return self.access

    async def refreshed(self, rejected: str) -> str:
        if rejected != self.access:
            return self.access
        assert self.refresh_token is not None
        self.refreshes += 1
        pair = await oauth.refresh(
            self.http,
            f"{self.sandbox.url}/token",
            refresh_token=self.refresh_token,
            client_id=self.sandbox.client_id,
            client_secret=self.sandbox.client_secret,
        )
        self.access, self.refresh_token = pair.access_token, pair.refresh_token
        return self.access


@contextlib.asynccontextmanager
async def sandbox_client(
    sandbox: ActonSandbox,
    *,
    request_timeout: float = 5.0,
    max_rate_limit_retries: int = 3,
    max_rate_limit_wait: float = 5.0,
    rate: float = 1000.0,
) -> AsyncIterator[tuple[acton.ActonClient, SandboxTokens]]:
    """A client on the sandbox (no client-side limit to speak of unless ``rate`` says so)."""
    async with aiohttp.ClientSession() as http:
        tokens = SandboxTokens(http, sandbox)
        client = acton.ActonClient(
            http,
            sandbox.url,
            tokens,
            limits.RateLimiter(rate),
            timeout=request_timeout,
            max_rate_limit_retries=max_rate_limit_retries,
            max_rate_limit_wait=max_rate_limit_wait,
        )
        yield client, tokens

"""OAuth 2.0 token calls (code exchange, refresh) and account discovery over aiohttp, with
errors translated."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import urllib.parse
from collections.abc import Mapping
from typing import Any

import aiohttp

from headwater.domain import paths
from headwater.elements import base
from headwater.errors import ProviderRefusal, ProviderUnavailable


async def exchange_code(
    http: aiohttp.ClientSession,
    token_url: str,
    *,
    code: str,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
) -> base.Grant:
    """Exchange an authorization code for tokens (``grant_type=authorization_code``)."""
    return await _token_call(
        http,
        token_url,
        {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uri": redirect_uri,
        },
    )


async def refresh(
    http: aiohttp.ClientSession,
    token_url: str,
    *,
    refresh_token: str,
    client_id: str,
    client_secret: str,
) -> base.Grant:
    """Spend ``refresh_token`` for a new pair (``grant_type=refresh_token``)."""
    return await _token_call(
        http,
        token_url,
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": client_id,
            "client_secret": client_secret,
        },
    )


async def _token_call(http: aiohttp.ClientSession, url: str, form: Mapping[str, str]) -> base.Grant:
    status, text, body = await _call(
        http.post(url, data=dict(form), headers={"Accept": "application/json"}),
        reach="The provider's token endpoint could not be reached",
        refused="The provider refused the authorization",
    )
    if status != 200 or body is None:
        raise ProviderUnavailable(
            f"The provider's token endpoint answered {status} with no usable token",
            provider_message=text[:500] or None,
            http_status=status,
        )
    return _token_set(body, status)


async def _call(
    request: contextlib.AbstractAsyncContextManager[aiohttp.ClientResponse],
    *,
    reach: str,
    refused: str,
) -> tuple[int, str, dict[str, Any] | None]:
    """Send ``request``: its status, text and JSON object (None when it is no JSON object).
    Unreachable: ``ProviderUnavailable`` starting with ``reach``; 400, 401 or 403:
    ``ProviderRefusal`` starting with ``refused``, quoting the provider."""
    try:
        async with request as resp:
            status = resp.status
            text = await resp.text(errors="replace")
    except (TimeoutError, aiohttp.ClientError) as error:
        raise ProviderUnavailable(
            f"{reach}: {type(error).__name__}", provider_message=str(error) or None
        ) from error
    body = _json_object(text)
    if status in (400, 401, 403):
        message = _provider_message(body, text)
        raise ProviderRefusal(f"{refused}: {message}", provider_message=message, http_status=status)
    return status, text, body


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _provider_message(body: Mapping[str, Any] | None, text: str) -> str:
    if body is not None:
        error, description = body.get("error"), body.get("error_description")
        parts = [str(part) for part in (error, description) if part]
        if parts:
            return ": ".join(parts)
    return text[:500] or "no reason given"


def _token_set(body: Mapping[str, Any], status: int) -> base.Grant:
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise ProviderUnavailable(
            "The provider's token answer has no access_token", http_status=status
        )
    refresh_token = body.get("refresh_token")
    expires_in = body.get("expires_in")
    expires_at = None
    if isinstance(expires_in, int | float | str):
        try:
            seconds = float(expires_in)
        except ValueError:
            seconds = None
        if seconds is not None and seconds > 0:
            expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return base.Grant(
        access_token=access,
        refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else None,
        expires_at=expires_at,
    )


async def discover_account(
    http: aiohttp.ClientSession,
    url: str,
    access_token: str,
    *,
    header: str = "Authorization",
    prefix: str = "Bearer ",
    field: str,
) -> str:
    """The account's own API URL, from a discovery call (``GET url`` with the new token in
    ``header`` after ``prefix``) whose JSON answer holds it at the dotted ``field``."""
    headers = {header: f"{prefix}{access_token}", "Accept": "application/json"}
    status, text, body = await _call(
        http.get(url, headers=headers, allow_redirects=False),
        reach="The provider's account discovery call could not be made",
        refused="The provider refused the account discovery call",
    )
    try:
        found = None if body is None or status != 200 else paths.get(body, field)
    except KeyError:
        found = None
    if not isinstance(found, str) or urllib.parse.urlsplit(found).scheme not in ("http", "https"):
        raise ProviderUnavailable(
            f"The provider's account discovery call answered {status} without a URL at {field!r}",
            provider_message=text[:500] or None,
            http_status=status,
        )
    return found

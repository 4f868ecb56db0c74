"""The sandbox's OAuth over loopback: the authorize page, the three grants and Act-On's errors."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest

from tests.sandbox_fixtures import ActonSandbox

REDIRECT = "https://app.example.com/callback"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _token(
    http: aiohttp.ClientSession, sandbox: ActonSandbox, *, in_query: bool = False, **params: str
) -> tuple[int, dict[str, Any]]:
    fields = {"client_id": sandbox.client_id, "client_secret": sandbox.client_secret, **params}
    if in_query:
        response = await http.post(f"{sandbox.url}/token", params=fields)
    else:
        response = await http.post(f"{sandbox.url}/token", data=fields)
    async with response:
        return response.status, await response.json()


async def test_code_grant_gives_a_token_pair_that_opens_the_api(
    acton_sandbox: ActonSandbox, http: aiohttp.ClientSession
) -> None:
    code = acton_sandbox.authorize_code(REDIRECT, state="xyz")

    status, body = await _token(
        http, acton_sandbox, grant_type="authorization_code", code=code, redirect_uri=REDIRECT
    )

    assert status == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["access_token"] != body["refresh_token"]
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    async with http.get(f"{acton_sandbox.url}/api/1/list", headers=headers) as response:
        assert response.status == 200
    assert acton_sandbox.state.counters()["grants"] == {"authorization_code": 1}


async def test_authorize_page_approves_and_denies_through_its_form(
    acton_sandbox: ActonSandbox, http: aiohttp.ClientSession
) -> None:
    query = {"client_id": acton_sandbox.client_id, "redirect_uri": REDIRECT + "?a=1", "state": "s1"}
    async with http.get(f"{acton_sandbox.url}/authorize", params=query) as page:
        assert page.status == 200
        assert "Approve" in await page.text()
    form = {**query, "decision": "deny"}
    async with http.post(
        f"{acton_sandbox.url}/authorize", data=form, allow_redirects=False
    ) as denied:
        assert denied.status == 302
        params = dict(parse_qsl(urlsplit(denied.headers["Location"]).query))
    assert params == {"a": "1", "error": "access_denied", "state": "s1"}


async def test_authorize_refuses_an_unknown_client(
    acton_sandbox: ActonSandbox, http: aiohttp.ClientSession
) -> None:
    query = {"client_id": "someone-else", "redirect_uri": REDIRECT}
    async with http.get(f"{acton_sandbox.url}/authorize", params=query) as page:
        assert page.status == 400


async def test_parameters_may_come_in_the_query_string(
    acton_sandbox: ActonSandbox, http: aiohttp.ClientSession
) -> None:
    code = acton_sandbox.authorize_code(REDIRECT)

    status, body = await _token(
        http,
        acton_sandbox,
        in_query=True,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
    )

    assert status == 200, body


async def test_a_code_is_single_use(
    acton_sandbox: ActonSandbox, http: aiohttp.ClientSession
) -> None:
    code = acton_sandbox.authorize_code(REDIRECT)
    grant = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    first, _ = await _token(http, acton_sandbox, **grant)

    second, body = await _token(http, acton_sandbox, **grant)

    assert (first, second) == (200, 403)
    assert body["error"] == "invalid_grant"


async def test_a_code_is_bound_to_its_redirect_uri(
    acton_sandbox: ActonSandbox, http: aiohttp.ClientSession
) -> None:
    code = acton_sandbox.authorize_code(REDIRECT)

    status, body = await _token(
        http,
        acton_sandbox,
        grant_type="authorization_code",
        code=code,
        redirect_uri="https://evil.example.com/cb",
    )

    assert status == 403 and body["error"] == "invalid_grant"


@pytest.mark.acton_sandbox(code_ttl=60)
async def test_a_code_expires(acton_sandbox: ActonSandbox, http: aiohttp.ClientSession) -> None:
    code = acton_sandbox.authorize_code(REDIRECT)
    acton_sandbox.state.clock.advance(61_000)

    status, body = await _token(
        http, acton_sandbox, grant_type="authorization_code", code=code, redirect_uri=REDIRECT
    )

    assert status == 403 and body["error"] == "invalid_grant"


async def test_wrong_client_credentials_are_access_denied(
    acton_sandbox: ActonSandbox, http: aiohttp.ClientSession
) -> None:
    code = acton_sandbox.authorize_code(REDIRECT)

    async with http.post(
        f"{acton_sandbox.url}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": acton_sandbox.client_id,
            "client_secret": "wrong",
        },
    ) as response:
        assert response.status == 401
        assert await response.json() == {
            "error": "access_denied",
            "error_description": "Unauthorized",
        }


async def test_a_refresh_token_is_single_use_and_rotates(
    acton_sandbox: ActonSandbox, http: aiohttp.ClientSession
) -> None:
    pair = acton_sandbox.token()

    status, fresh = await _token(
        http, acton_sandbox, grant_type="refresh_token", refresh_token=pair["refresh_token"]
    )
    again, refused = await _token(
        http, acton_sandbox, grant_type="refresh_token", refresh_token=pair["refresh_token"]
    )

    assert status == 200 and fresh["refresh_token"] != pair["refresh_token"]
    assert again == 403
    assert refused == {
        "error": "invalid_grant",
        "error_description": "Unknown or invalid refresh token.",
    }
    grants = acton_sandbox.state.counters()
    assert grants["grants"] == {"password": 1, "refresh_token": 1}
    assert grants["grantRefusals"] == {"refresh_token": 1}


async def test_the_password_grant_checks_the_account(
    acton_sandbox: ActonSandbox, http: aiohttp.ClientSession
) -> None:
    status, body = await _token(
        http,
        acton_sandbox,
        in_query=True,
        grant_type="password",
        username="sandbox@example.com",
        password="nope",
    )

    assert status == 403
    assert body == {"error": "invalid_grant", "error_description": "Wrong email or password."}


@pytest.mark.acton_sandbox(exclusive_refresh=True)
async def test_exclusive_refresh_keeps_one_live_refresh_token_per_account(
    acton_sandbox: ActonSandbox, http: aiohttp.ClientSession
) -> None:
    older = acton_sandbox.token()
    acton_sandbox.token()

    status, _ = await _token(
        http, acton_sandbox, grant_type="refresh_token", refresh_token=older["refresh_token"]
    )

    assert status == 403


async def test_unsupported_and_missing_grant_types(
    acton_sandbox: ActonSandbox, http: aiohttp.ClientSession
) -> None:
    unsupported, body = await _token(http, acton_sandbox, grant_type="client_credentials")
    missing, _ = await _token(http, acton_sandbox)

    assert (unsupported, body["error"]) == (400, "unsupported_grant_type")
    assert missing == 400


@pytest.mark.acton_sandbox(token_ttl=5)
async def test_access_tokens_expire_with_the_sandbox_clock(
    acton_sandbox: ActonSandbox, http: aiohttp.ClientSession
) -> None:
    pair = acton_sandbox.token()
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert pair["expires_in"] == 5

    acton_sandbox.state.clock.advance(5_000)

    async with http.get(f"{acton_sandbox.url}/api/1/list", headers=headers) as response:
        assert response.status == 401
        assert await response.json() == {
            "httpCode": "401",
            "httpMessage": "Unauthorized",
            "moreInformation": "",
        }


async def test_admin_expires_access_tokens_and_revokes_refresh_tokens(
    acton_sandbox: ActonSandbox, http: aiohttp.ClientSession
) -> None:
    pair = acton_sandbox.token()
    headers = {"Authorization": f"Bearer {pair['access_token']}"}

    assert acton_sandbox.admin("POST", "/tokens/expire") == {"expired": 1}
    async with http.get(f"{acton_sandbox.url}/api/1/list", headers=headers) as response:
        assert response.status == 401
    assert acton_sandbox.admin("POST", "/tokens/revoke") == {"revoked": 1, "expired": 0}
    status, _ = await _token(
        http, acton_sandbox, grant_type="refresh_token", refresh_token=pair["refresh_token"]
    )
    assert status == 403


@pytest.mark.acton_sandbox(accounts={"a@example.com": "pa", "b@example.com": "pb"})
async def test_the_authorize_page_can_approve_for_another_account(
    acton_sandbox: ActonSandbox, http: aiohttp.ClientSession
) -> None:
    code = acton_sandbox.authorize_code(REDIRECT, username="b@example.com")

    status, body = await _token(
        http, acton_sandbox, grant_type="authorization_code", code=code, redirect_uri=REDIRECT
    )

    assert status == 200
    assert acton_sandbox.state.tokens.account_for(body["access_token"]) == "b@example.com"


async def test_the_client_may_authenticate_with_http_basic(
    acton_sandbox: ActonSandbox, http: aiohttp.ClientSession
) -> None:
    def basic(secret: str) -> dict[str, str]:
        pair = f"{acton_sandbox.client_id}:{secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}

    form = {
        "grant_type": "password",
        "username": "sandbox@example.com",
        "password": "sandbox-password",
    }

    async with http.post(
        f"{acton_sandbox.url}/token", data=form, headers=basic(acton_sandbox.client_secret)
    ) as response:
        assert response.status == 200
    async with http.post(f"{acton_sandbox.url}/token", data=form, headers=basic("no")) as response:
        assert response.status == 401


async def test_its_own_callback_page_shows_the_code_for_trying_the_flow_by_hand(
    acton_sandbox: ActonSandbox, http: aiohttp.ClientSession
) -> None:
    callback = f"{acton_sandbox.url}/callback"
    form = {
        "client_id": acton_sandbox.client_id,
        "redirect_uri": callback,
        "state": "by-hand",
        "decision": "approve",
    }
    # Approve, then follow the redirect as a browser (or curl -L) does
    async with http.post(f"{acton_sandbox.url}/authorize", data=form) as shown:
        assert shown.status == 200
        assert shown.url.path == "/callback" and shown.url.query["state"] == "by-hand"
        code = (await shown.text()).strip()
    assert code == shown.url.query["code"]
    status, body = await _token(
        http, acton_sandbox, grant_type="authorization_code", code=code, redirect_uri=callback
    )
    assert status == 200 and body["access_token"]
    async with http.post(
        f"{acton_sandbox.url}/authorize", data={**form, "decision": "deny"}
    ) as denied:
        assert denied.status == 400
        assert "access_denied" in await denied.text()

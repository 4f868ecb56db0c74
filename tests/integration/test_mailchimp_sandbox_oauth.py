"""The Mailchimp sandbox's login host over loopback: authorize page, token, metadata, API auth."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.mailchimp_fixtures import MailchimpSandbox

REDIRECT = "https://app.example.com/callback"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _token(
    http: aiohttp.ClientSession, sandbox: MailchimpSandbox, **fields: str
) -> tuple[int, dict[str, Any]]:
    form = {
        "grant_type": "authorization_code",
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        "redirect_uri": REDIRECT,
        **fields,
    }
    async with http.post(f"{sandbox.url}/oauth2/token", data=form) as response:
        return response.status, await response.json()


async def test_code_token_metadata_then_an_api_call(
    mailchimp_sandbox: MailchimpSandbox, http: aiohttp.ClientSession
) -> None:
    code = mailchimp_sandbox.authorize_code(REDIRECT, state="xyz")

    status, token = await _token(http, mailchimp_sandbox, code=code)
    assert status == 200
    assert token["expires_in"] == 0 and token["scope"] is None
    assert "refresh_token" not in token

    auth = {"Authorization": f"OAuth {token['access_token']}"}
    async with http.get(f"{mailchimp_sandbox.url}/oauth2/metadata", headers=auth) as response:
        assert response.status == 200
        metadata = await response.json()
    assert metadata["dc"] == "us1" and metadata["accountname"] == "sandbox"
    assert metadata["api_endpoint"] == mailchimp_sandbox.url
    assert metadata["login_url"] == mailchimp_sandbox.url

    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    async with http.get(f"{metadata['api_endpoint']}/3.0/lists", headers=bearer) as response:
        assert response.status == 200
        assert (await response.json())["total_items"] == 2
    assert mailchimp_sandbox.state.counters()["grants"] == {"authorization_code": 1}


async def test_a_code_is_single_use_and_bound_to_its_redirect(
    mailchimp_sandbox: MailchimpSandbox, http: aiohttp.ClientSession
) -> None:
    code = mailchimp_sandbox.authorize_code(REDIRECT)
    wrong_redirect = await _token(http, mailchimp_sandbox, code=code, redirect_uri=REDIRECT + "x")
    spent = await _token(http, mailchimp_sandbox, code=code)
    other = mailchimp_sandbox.authorize_code(REDIRECT)
    wrong_client = await _token(http, mailchimp_sandbox, code=other, client_secret="nope")

    assert wrong_redirect[0] == 400 and wrong_redirect[1]["error"] == "invalid_grant"
    assert spent[0] == 400 and spent[1]["error"] == "invalid_grant"
    assert wrong_client[0] == 401 and wrong_client[1]["error"] == "invalid_client"


async def test_deny_redirects_with_access_denied(
    mailchimp_sandbox: MailchimpSandbox, http: aiohttp.ClientSession
) -> None:
    form = {
        "client_id": mailchimp_sandbox.client_id,
        "redirect_uri": REDIRECT,
        "state": "s1",
        "decision": "deny",
    }
    url = f"{mailchimp_sandbox.url}/oauth2/authorize"
    async with http.post(url, data=form, allow_redirects=False) as response:
        assert response.status == 302
        assert response.headers["Location"] == f"{REDIRECT}?error=access_denied&state=s1"


async def test_metadata_refuses_a_bad_token(
    mailchimp_sandbox: MailchimpSandbox, http: aiohttp.ClientSession
) -> None:
    bearer_not_oauth = {"Authorization": f"Bearer {mailchimp_sandbox.token()}"}
    for headers in ({"Authorization": "OAuth nope"}, bearer_not_oauth):
        url = f"{mailchimp_sandbox.url}/oauth2/metadata"
        async with http.get(url, headers=headers) as response:
            assert response.status == 401
            assert (await response.json())["error"] == "invalid_token"


async def test_api_takes_bearer_basic_and_api_key_and_refuses_the_rest(
    mailchimp_sandbox: MailchimpSandbox, http: aiohttp.ClientSession
) -> None:
    token = mailchimp_sandbox.token()
    key = mailchimp_sandbox.state.tokens.api_key("sandbox")

    def basic(password: str) -> str:
        return "Basic " + base64.b64encode(f"anystring:{password}".encode()).decode()

    accepted = [f"Bearer {token}", basic(token), basic(key)]
    refused = ["", "Bearer nope", basic("nope"), f"OAuth {token}"]
    for header in accepted + refused:
        headers = {"Authorization": header} if header else {}
        async with http.get(f"{mailchimp_sandbox.url}/3.0/ping", headers=headers) as response:
            if header in accepted:
                assert response.status == 200, header
                continue
            assert response.status == 401, header
            assert response.content_type == "application/problem+json"
            problem = await response.json(content_type=None)
            assert problem["title"] == "API Key Invalid" and problem["status"] == 401
            assert problem["instance"] == response.headers["X-Request-Id"]


async def test_revoking_kills_tokens_but_not_api_keys(
    mailchimp_sandbox: MailchimpSandbox, http: aiohttp.ClientSession
) -> None:
    token = mailchimp_sandbox.token()
    assert mailchimp_sandbox.admin("POST", "/tokens/revoke") == {"revoked": 1}

    async with http.get(
        f"{mailchimp_sandbox.url}/3.0/ping", headers=mailchimp_sandbox.headers(token)
    ) as response:
        assert response.status == 401
    issued = mailchimp_sandbox.admin("POST", "/tokens", {})
    assert issued["api_key"].endswith("-us1")


@pytest.mark.mailchimp_sandbox(api_endpoint="https://us1.api.example.test")
async def test_metadata_names_the_configured_api_endpoint(
    mailchimp_sandbox: MailchimpSandbox, http: aiohttp.ClientSession
) -> None:
    auth = {"Authorization": f"OAuth {mailchimp_sandbox.token()}"}
    async with http.get(f"{mailchimp_sandbox.url}/oauth2/metadata", headers=auth) as response:
        metadata = await response.json()

    assert metadata["api_endpoint"] == "https://us1.api.example.test"
    assert metadata["login_url"] == mailchimp_sandbox.url

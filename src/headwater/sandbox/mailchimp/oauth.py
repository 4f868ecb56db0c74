"""Mailchimp's OAuth 2 at the login host, and the tokens it issued.

- ``GET /oauth2/authorize?response_type=code&client_id=&redirect_uri=&state=`` shows a page whose
  Approve button posts back to ``POST /oauth2/authorize``, which redirects to ``redirect_uri`` with
  ``code`` and ``state`` (Deny: ``error=access_denied``).
- ``POST /oauth2/token`` (form: ``grant_type=authorization_code``, ``client_id``,
  ``client_secret``, ``redirect_uri``, ``code``) answers ``{"access_token","expires_in":0,
  "scope":null}``: no refresh token, and the token lives until the account de-authorizes the app.
  A wrong client gets 401 ``invalid_client``; a bad, spent or expired code, or another
  ``redirect_uri``, 400 ``invalid_grant``; another grant type 400 ``unsupported_grant_type``.
- ``GET /oauth2/metadata`` with ``Authorization: OAuth <token>`` answers the account: ``dc``,
  ``accountname``, ``user_id``, ``login``, ``login_url`` and ``api_endpoint`` (this server, or
  the API URL it was told); a bad token gets 401 ``invalid_token``.

Codes are single-use (spent even when refused), live ``code_ttl`` seconds on the sandbox clock, and
are bound to their ``redirect_uri``. Besides OAuth tokens, each account has an API key
(``<hex>-us1``) that the API accepts as the Basic password.
"""

from __future__ import annotations

import html
import threading
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from headwater.sandbox import admin_kit, clock

DC = "us1"


class OAuthError(Exception):
    """A refusal of the token endpoint."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


@dataclass
class _Code:
    account: str
    redirect_uri: str
    expires_ms: int


class Tokens:
    """Accounts, codes, access tokens and API keys; every method is thread-safe."""

    def __init__(
        self,
        clock_: clock.Clock,
        *,
        client_id: str,
        client_secret: str,
        accounts: Sequence[str] = ("sandbox",),
        code_ttl: int = 60,
    ) -> None:
        self.clock = clock_
        self.client_id = client_id
        self.client_secret = client_secret
        self.code_ttl = code_ttl
        self.accounts = list(accounts)
        self.api_keys = {f"{uuid.uuid5(uuid.NAMESPACE_URL, a).hex}-{DC}": a for a in accounts}
        self.grants: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, str] = {}

    @property
    def default_account(self) -> str:
        return self.accounts[0]

    def api_key(self, account: str) -> str:
        return next(k for k, a in self.api_keys.items() if a == account)

    def issue_code(self, redirect_uri: str, account: str | None = None) -> str:
        """A new authorization code, as approving the authorize page gives."""
        with self._lock:
            code = uuid.uuid4().hex
            expires = self.clock.now_ms() + self.code_ttl * 1000
            self._codes[code] = _Code(account or self.default_account, redirect_uri, expires)
            return code

    def issue_token(self, account: str | None = None) -> str:
        """An access token for ``account`` without the dance (for tests and the admin surface)."""
        with self._lock:
            token = uuid.uuid4().hex
            self._access[token] = account or self.default_account
            return token

    def grant(self, params: Mapping[str, str]) -> dict[str, object]:
        """Answers a token request, or raises OAuthError."""
        grant_type = params.get("grant_type", "")
        try:
            if (params.get("client_id"), params.get("client_secret")) != (
                self.client_id,
                self.client_secret,
            ):
                raise OAuthError(401, "invalid_client", "Invalid client credentials.")
            if grant_type != "authorization_code":
                raise OAuthError(
                    400, "unsupported_grant_type", f"Unsupported grant type {grant_type!r}."
                )
            with self._lock:
                code = self._codes.pop(params.get("code", ""), None)
                if code is None or code.expires_ms <= self.clock.now_ms():
                    raise OAuthError(400, "invalid_grant", "Invalid authorization code.")
                if params.get("redirect_uri") != code.redirect_uri:
                    raise OAuthError(400, "invalid_grant", "Invalid redirect_uri.")
                token = uuid.uuid4().hex
                self._access[token] = code.account
        except OAuthError:
            self.refusals[grant_type or "none"] += 1
            raise
        self.grants[grant_type] += 1
        return {"access_token": token, "expires_in": 0, "scope": None}

    def account_for(self, token: str) -> str | None:
        """The account an access token or API key acts for, or None."""
        with self._lock:
            return self._access.get(token) or self.api_keys.get(token)

    def revoke(self) -> int:
        """De-authorizes every app: all access tokens die (API keys stay); returns how many."""
        with self._lock:
            count = len(self._access)
            self._access.clear()
            return count


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Mailchimp sandbox: authorize</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto">
<h1>Allow access to your Mailchimp sandbox account</h1>
<p>The application <strong>{client_id}</strong> would like to access your account.</p>
<form method="post" action="/oauth2/authorize">
<input type="hidden" name="client_id" value="{client_id}">
<input type="hidden" name="redirect_uri" value="{redirect_uri}">
<input type="hidden" name="state" value="{state}">
<label>Account <input name="account" value="{account}"></label>
<p><button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button></p>
</form></body></html>
"""


def _checked_redirect(tokens: Tokens, params: Mapping[str, str]) -> str:
    if params.get("client_id") != tokens.client_id:
        raise web.HTTPBadRequest(text="Invalid client_id.")
    redirect_uri = params.get("redirect_uri", "")
    if urlsplit(redirect_uri).scheme not in ("http", "https"):
        raise web.HTTPBadRequest(text="redirect_uri must be an absolute http(s) URL.")
    return redirect_uri


def routes(tokens: Tokens, api_endpoint: str | None = None) -> list[web.RouteDef]:
    """The login host's routes; ``api_endpoint`` defaults to the URL the request came to."""

    async def authorize_page(request: web.Request) -> web.Response:
        params = request.query
        if params.get("response_type", "code") != "code":
            raise web.HTTPBadRequest(text="response_type must be code.")
        redirect_uri = _checked_redirect(tokens, params)
        page = _PAGE.format(
            client_id=html.escape(tokens.client_id),
            redirect_uri=html.escape(redirect_uri),
            state=html.escape(params.get("state", "")),
            account=html.escape(tokens.default_account),
        )
        return web.Response(text=page, content_type="text/html")

    async def authorize_decision(request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        redirect_uri = _checked_redirect(tokens, form)
        state = {"state": form["state"]} if form.get("state") else {}
        if form.get("decision") != "approve":
            raise web.HTTPFound(
                admin_kit.with_query(redirect_uri, {"error": "access_denied", **state})
            )
        account = form.get("account") or tokens.default_account
        if account not in tokens.accounts:
            raise web.HTTPBadRequest(text=f"No account {account!r} in this sandbox.")
        code = tokens.issue_code(redirect_uri, account)
        raise web.HTTPFound(admin_kit.with_query(redirect_uri, {"code": code, **state}))

    async def token(request: web.Request) -> web.Response:
        params = {k: str(v) for k, v in (await request.post()).items()}
        try:
            answer = tokens.grant(params)
        except OAuthError as exc:
            body = {"error": exc.error, "error_description": exc.description}
            return web.json_response(body, status=exc.status)
        return web.json_response(answer, headers={"Cache-Control": "no-store"})

    async def metadata(request: web.Request) -> web.Response:
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        account = tokens.account_for(credential.strip()) if scheme.lower() == "oauth" else None
        if account is None:
            body = {"error": "invalid_token", "error_description": "Invalid or missing token."}
            return web.json_response(body, status=401)
        here = f"{request.scheme}://{request.host}"
        user_id = int(uuid.uuid5(uuid.NAMESPACE_URL, account).int % 100_000_000)
        return web.json_response(
            {
                "dc": DC,
                "role": "owner",
                "accountname": account,
                "user_id": user_id,
                "login": {
                    "email": f"{account}@example.com",
                    "avatar": None,
                    "login_id": user_id,
                    "login_name": account,
                    "login_email": f"{account}@example.com",
                },
                "login_url": here,
                "api_endpoint": api_endpoint or here,
            }
        )

    return [
        web.get("/oauth2/authorize", authorize_page),
        web.post("/oauth2/authorize", authorize_decision),
        web.post("/oauth2/token", token),
        web.get("/oauth2/metadata", metadata),
    ]

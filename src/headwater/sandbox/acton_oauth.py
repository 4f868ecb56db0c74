"""The sandbox's OAuth 2.0: the authorize page, the token endpoint, and the tokens it issued.

- ``GET /authorize?client_id=&redirect_uri=&state=&response_type=code`` shows a small page
  whose Approve button posts back to ``POST /authorize``, which redirects to ``redirect_uri`` with
  ``code`` and ``state`` (Deny redirects with ``error=access_denied``).
- ``POST /token`` takes ``grant_type`` ``authorization_code`` (``code``, ``redirect_uri``),
  ``refresh_token`` (``refresh_token``) or ``password`` (``username``, ``password``), with
  ``client_id`` and ``client_secret``, as a form body or in the query string (the body wins; the
  client may also authenticate with HTTP Basic).
  Answers ``{"access_token","refresh_token","scope","token_type","expires_in"}``; a wrong client
  gets 401 ``{"error":"access_denied",…}``, a bad code, refresh token or password 403
  ``{"error":"invalid_grant",…}``, as Act-On does.

- ``GET /callback`` stands in for a client's redirect target when trying the flow by hand: it
  answers the ``code`` it was sent as plain text (or the ``error``, with 400), so a browser shows
  it and ``curl -L`` prints it. It is not part of Act-On.

Codes are single-use (spent even when refused), live ``code_ttl`` seconds and are bound to the
``redirect_uri`` they were issued for. Refresh tokens are single-use; with ``exclusive_refresh`` a
new grant also kills the account's earlier refresh tokens (Act-On keeps one per app and user).
Expiry follows the sandbox clock, so advancing it expires tokens.
"""

from __future__ import annotations

import base64
import binascii
import html
import threading
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from aiohttp import web

from headwater.sandbox import admin_kit, clock

DEFAULT_USERNAME = "sandbox@example.com"
DEFAULT_PASSWORD = "sandbox-password"
REFRESH_TTL_S = 30 * 86_400


class OAuthError(Exception):
    """A refusal of the token endpoint, shaped as Act-On's."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


@dataclass
class _Code:
    username: str
    redirect_uri: str
    expires_ms: int


@dataclass
class _Grant:
    username: str
    expires_ms: int


class Tokens:
    """Codes, access tokens and refresh tokens; every method is thread-safe."""

    def __init__(
        self,
        clock_: clock.Clock,
        *,
        client_id: str,
        client_secret: str,
        token_ttl: int = 3600,
        code_ttl: int = 60,
        accounts: Mapping[str, str] | None = None,
        exclusive_refresh: bool = False,
    ) -> None:
        self.clock = clock_
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl = token_ttl
        self.code_ttl = code_ttl
        self.accounts = dict(accounts or {DEFAULT_USERNAME: DEFAULT_PASSWORD})
        self.exclusive_refresh = exclusive_refresh
        self.grants: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}

    @property
    def default_username(self) -> str:
        return next(iter(self.accounts))

    def issue_code(self, redirect_uri: str, username: str | None = None) -> str:
        """A new authorization code, as approving the authorize page gives."""
        with self._lock:
            code = uuid.uuid4().hex
            expires = self.clock.now_ms() + self.code_ttl * 1000
            self._codes[code] = _Code(username or self.default_username, redirect_uri, expires)
            return code

    def grant(self, params: Mapping[str, str]) -> dict[str, object]:
        """Answers a token request, or raises OAuthError."""
        grant_type = params.get("grant_type", "")
        try:
            if not grant_type:
                raise OAuthError(400, "invalid_request", "Missing grant_type")
            if (params.get("client_id"), params.get("client_secret")) != (
                self.client_id,
                self.client_secret,
            ):
                raise OAuthError(401, "access_denied", "Unauthorized")
            with self._lock:
                username = self._username_for(grant_type, params)
                answer = self._issue(username)
        except OAuthError:
            self.refusals[grant_type or "none"] += 1
            raise
        self.grants[grant_type] += 1
        return answer

    def _username_for(self, grant_type: str, params: Mapping[str, str]) -> str:
        now = self.clock.now_ms()
        if grant_type == "authorization_code":
            code = self._codes.pop(params.get("code", ""), None)
            if code is None or code.expires_ms <= now:
                raise OAuthError(403, "invalid_grant", "Invalid or expired authorization code.")
            if params.get("redirect_uri") != code.redirect_uri:
                raise OAuthError(403, "invalid_grant", "redirect_uri does not match.")
            return code.username
        if grant_type == "refresh_token":
            held = self._refresh.pop(params.get("refresh_token", ""), None)
            if held is None or held.expires_ms <= now:
                raise OAuthError(403, "invalid_grant", "Unknown or invalid refresh token.")
            return held.username
        if grant_type == "password":
            username = params.get("username", "")
            if username not in self.accounts or self.accounts[username] != params.get("password"):
                raise OAuthError(403, "invalid_grant", "Wrong email or password.")
            return username
        raise OAuthError(400, "unsupported_grant_type", f"Unsupported grant type {grant_type!r}.")

    def _issue(self, username: str) -> dict[str, object]:
        now = self.clock.now_ms()
        if self.exclusive_refresh:
            for token in [t for t, g in self._refresh.items() if g.username == username]:
                del self._refresh[token]
        access, refresh = str(uuid.uuid4()), str(uuid.uuid4())
        self._access[access] = _Grant(username, now + self.token_ttl * 1000)
        self._refresh[refresh] = _Grant(username, now + REFRESH_TTL_S * 1000)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "scope": "offline-access",
            "token_type": "Bearer",
            "expires_in": self.token_ttl,
        }

    def account_for(self, access_token: str) -> str | None:
        """The account an access token acts for, or None when unknown or expired."""
        with self._lock:
            held = self._access.get(access_token)
            if held is None or held.expires_ms <= self.clock.now_ms():
                return None
            return held.username

    def expire_access(self) -> int:
        """Expires every access token (refresh tokens still work); returns how many."""
        with self._lock:
            count = len(self._access)
            self._access.clear()
            return count

    def revoke_refresh(self) -> int:
        """Revokes every refresh token (a refresh then gets invalid_grant); returns how many."""
        with self._lock:
            count = len(self._refresh)
            self._refresh.clear()
            return count


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Act-On sandbox: authorize</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto">
<h1>Authorize access</h1>
<p>The application <strong>{client_id}</strong> asks to use your Act-On sandbox account.</p>
<form method="post" action="/authorize">
<input type="hidden" name="client_id" value="{client_id}">
<input type="hidden" name="redirect_uri" value="{redirect_uri}">
<input type="hidden" name="state" value="{state}">
<label>Account <input name="username" value="{username}"></label>
<p><button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button></p>
</form></body></html>
"""


def _checked_redirect(tokens: Tokens, params: Mapping[str, str]) -> str:
    if params.get("client_id") != tokens.client_id:
        raise web.HTTPBadRequest(text="Unknown client_id.")
    redirect_uri = params.get("redirect_uri", "")
    if urlsplit(redirect_uri).scheme not in ("http", "https"):
        raise web.HTTPBadRequest(text="redirect_uri must be an absolute http(s) URL.")
    return redirect_uri


def _basic_client(header: str) -> dict[str, str]:
    """``client_id`` and ``client_secret`` from HTTP Basic credentials, when sent that way."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return {}
    try:
        client_id, _, client_secret = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return {}
    return {"client_id": unquote(client_id), "client_secret": unquote(client_secret)}


def routes(tokens: Tokens) -> list[web.RouteDef]:
    """The OAuth routes over ``tokens``."""

    async def authorize_page(request: web.Request) -> web.Response:
        params = request.query
        redirect_uri = _checked_redirect(tokens, params)
        page = _PAGE.format(
            client_id=html.escape(tokens.client_id),
            redirect_uri=html.escape(redirect_uri),
            state=html.escape(params.get("state", "")),
            username=html.escape(tokens.default_username),
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
        username = form.get("username") or tokens.default_username
        if username not in tokens.accounts:
            raise web.HTTPBadRequest(text=f"No account {username!r} in this sandbox.")
        code = tokens.issue_code(redirect_uri, username)
        raise web.HTTPFound(admin_kit.with_query(redirect_uri, {"code": code, **state}))

    async def token(request: web.Request) -> web.Response:
        params = _basic_client(request.headers.get("Authorization", ""))
        params.update(request.query)
        if request.can_read_body:
            params.update({k: str(v) for k, v in (await request.post()).items()})
        try:
            answer = tokens.grant(params)
        except OAuthError as exc:
            body = {"error": exc.error, "error_description": exc.description}
            return web.json_response(body, status=exc.status)
        return web.json_response(answer, headers={"Cache-Control": "no-store"})

    async def callback(request: web.Request) -> web.Response:
        code = request.query.get("code")
        if code:
            return web.Response(text=code + "\n")
        error = request.query.get("error", "no code in the query")
        return web.Response(status=400, text=f"Authorization failed: {error}\n")

    return [
        web.get("/authorize", authorize_page),
        web.get("/callback", callback),
        web.post("/authorize", authorize_decision),
        web.post("/token", token),
    ]

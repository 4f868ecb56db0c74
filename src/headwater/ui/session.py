"""The UI's cookies: a signed session (who, CSRF token, when), sign-in links, sealed round trips.

The session cookie is ``<base64 JSON>.<base64 HMAC-SHA256>`` under a key derived from the server's
secret box, HttpOnly and SameSite=Lax; it holds ids and a CSRF token, no secret. What must stay
secret on the way through the browser (the OAuth form with its client secret, a signature key to
show once) is sealed by the secret box instead, which encrypts as well as signs.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Sequence
from typing import Any

from headwater.storage import secrets as secret_box
from headwater.storage import tenants

SESSION_COOKIE = "hw_session"
PRE_COOKIE = "hw_pre"
SESSION_SECONDS = 12 * 3600
LINK_SECONDS = 15 * 60


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs small JSON objects with HMAC-SHA256; a purpose keeps one kind from passing as
    another."""

    def __init__(self, key: bytes, older: Sequence[bytes] = ()) -> None:
        self._key = key
        # keys that signed before a key rotation: what they signed is still accepted
        self._older = tuple(older)

    @classmethod
    def of(cls, box: secret_box.SecretBox) -> Signer:
        """The signer of the server whose secrets ``box`` seals (accepting what the older key of
        a rotation under way signed)."""
        return cls(box.subkey("ui-cookies"), box.older_subkeys("ui-cookies"))

    def sign(self, purpose: str, value: dict[str, Any]) -> str:
        body = _b64(json.dumps(value, separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{self._mac(purpose, body)}"

    def unsign(self, purpose: str, token: str | None) -> dict[str, Any] | None:
        """The object signed in ``token`` for ``purpose``; None when absent, forged or garbled."""
        if not token or token.count(".") != 1:
            return None
        body, mac = token.split(".")
        keys = (self._key, *self._older)
        if not any(
            hmac.compare_digest(mac.encode(), self._mac(purpose, body, key).encode())
            for key in keys
        ):
            return None
        try:
            value = json.loads(_unb64(body))
        except (ValueError, binascii.Error):
            return None
        return value if isinstance(value, dict) else None

    def token_for(self, purpose: str, nonce: str) -> str:
        """A token bound to ``nonce`` (a form's CSRF token bound to its cookie)."""
        return self._mac(purpose, nonce)

    def _mac(self, purpose: str, body: str, key: bytes | None = None) -> str:
        message = f"{purpose}\n{body}".encode()
        return _b64(hmac.new(key or self._key, message, hashlib.sha256).digest())


@dataclasses.dataclass(frozen=True)
class Session:
    """A signed-in user: its principal, the session's id and its CSRF token."""

    organization_id: int
    user_id: int
    sid: str
    csrf: str
    issued: float

    @property
    def principal(self) -> tenants.Principal:
        return tenants.Principal(organization_id=self.organization_id, user_id=self.user_id)

    @classmethod
    def new(cls, principal: tenants.Principal, now: float | None = None) -> Session:
        return cls(
            principal.organization_id,
            principal.user_id,
            secrets.token_urlsafe(16),
            secrets.token_urlsafe(24),
            time.time() if now is None else now,
        )

    def cookie(self, signer: Signer) -> str:
        value = {
            "o": self.organization_id,
            "u": self.user_id,
            "s": self.sid,
            "x": self.csrf,
            "t": self.issued,
        }
        return signer.sign("session", value)

    @classmethod
    def read(cls, signer: Signer, cookie: str | None, now: float | None = None) -> Session | None:
        """The session of ``cookie``; None when absent, forged or expired."""
        value = signer.unsign("session", cookie)
        if value is None:
            return None
        try:
            found = cls(
                int(value["o"]),
                int(value["u"]),
                str(value["s"]),
                str(value["x"]),
                float(value["t"]),
            )
        except (KeyError, TypeError, ValueError):
            return None
        age = (time.time() if now is None else now) - found.issued
        return found if 0 <= age < SESSION_SECONDS else None

    def csrf_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.csrf.encode())


class UsedLinks:
    """The nonces of sign-in links spent in this process: a link signs in once."""

    def __init__(self) -> None:
        self._spent: dict[str, float] = {}

    def spend(self, nonce: str, expires: float, now: float) -> bool:
        """True the first time ``nonce`` is spent; expired ones are forgotten."""
        self._spent = {n: e for n, e in self._spent.items() if e > now}
        if nonce in self._spent:
            return False
        self._spent[nonce] = expires
        return True


def sign_in_link(signer: Signer, principal: tenants.Principal, now: float | None = None) -> str:
    """A token that signs ``principal`` in once, within :data:`LINK_SECONDS`."""
    expires = (time.time() if now is None else now) + LINK_SECONDS
    value = {
        "o": principal.organization_id,
        "u": principal.user_id,
        "e": expires,
        "n": secrets.token_urlsafe(16),
    }
    return signer.sign("sign-in-link", value)


def read_link(
    signer: Signer, token: str, used: UsedLinks, now: float | None = None
) -> tenants.Principal | None:
    """The principal of an unspent, unexpired link (spending it); None otherwise."""
    value = signer.unsign("sign-in-link", token)
    now = time.time() if now is None else now
    if value is None:
        return None
    try:
        expires, nonce = float(value["e"]), str(value["n"])
        principal = tenants.Principal(int(value["o"]), int(value["u"]))
    except (KeyError, TypeError, ValueError):
        return None
    if expires <= now or not used.spend(nonce, expires, now):
        return None
    return principal

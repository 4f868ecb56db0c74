"""The ``Authorization`` header: ``User <secret>, Organization <secret>[, Element <token>]``.

Parsed strictly: each part once, nothing else. A malformed header answers 401 saying what is
wrong with its shape, without echoing any of it; a wrong secret, or a user of another organization,
answers one and the same 401 whichever part was wrong. Failures are rate-limited per client
address (:class:`Gate`); ``auth_first`` runs the check before a route reads its body.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from starlette.types import Scope

from headwater import metrics
from headwater.api import auth_throttle, deps
from headwater.bootstrap import Container
from headwater.errors import AuthenticationError, TooManyFailures
from headwater.storage import db, instances, tenants

EXPECTED = "User <userSecret>, Organization <organizationSecret>"
_KINDS = {"user": "User", "organization": "Organization", "element": "Element"}

header_scheme = APIKeyHeader(
    name="Authorization",
    auto_error=False,
    scheme_name="Headwater",
    description=f"`{EXPECTED}`; hub calls add `, Element <instanceToken>`.",
)


@dataclasses.dataclass(frozen=True)
class Credentials:
    """The parts of an Authorization header."""

    user: str
    organization: str
    element: str | None = None


def parse(header: str | None) -> Credentials:
    """Split the header into its parts; AuthenticationError naming what is wrong."""
    if header is None or not header.strip():
        raise AuthenticationError(f"The Authorization header is missing; send `{EXPECTED}`.")
    found: dict[str, str] = {}
    for raw_part in header.split(","):
        part = raw_part.strip()
        kind, _, value = part.partition(" ")
        name = _KINDS.get(kind.lower())
        value = value.strip()
        if name is None:
            raise AuthenticationError(
                "The Authorization header has a part that is not User, Organization or Element;"
                f" expected `{EXPECTED}`."
            )
        if not value or " " in value:
            raise AuthenticationError(
                f"The {name} part of the Authorization header must be `{name} <secret>`."
            )
        if name in found:
            raise AuthenticationError(f"The Authorization header gives the {name} part twice.")
        found[name] = value
    for name in ("User", "Organization"):
        if name not in found:
            raise AuthenticationError(
                f"The Authorization header lacks the {name} secret; send `{EXPECTED}`."
            )
    return Credentials(found["User"], found["Organization"], found.get("Element"))


async def authenticate(c: Container, credentials: Credentials) -> tenants.Principal:
    async with db.reading(c.engine) as conn:
        return await tenants.authenticate(
            conn,
            user_secret=credentials.user,
            org_secret=credentials.organization,
            now=c.rotation.clock(),
        )


_PRINCIPAL = "principal"  # the request state's key for the authenticated caller


class Gate:
    """Authenticates a request once, and refuses an address that failed too often (429).

    The failures are counted per client address in this process (``auth_throttle``); successful
    calls are never counted. An address over the limit is refused before its credentials are
    looked at, so that guessing cannot go on behind the 429.
    """

    def __init__(self, c: Container, clock: Callable[[], float] = time.monotonic) -> None:
        self.container = c
        self.clock = clock
        self.failures = auth_throttle.FailureWindow(
            c.settings.auth_failure_limit, c.settings.auth_failure_window_seconds
        )

    async def principal(self, scope: Scope) -> tenants.Principal:
        """The caller of the request of ``scope``; AuthenticationError or TooManyFailures."""
        state = scope.setdefault("state", {})
        known = state.get(_PRINCIPAL)
        if isinstance(known, tenants.Principal):
            return known
        wait = self.failures.retry_after(_address(scope), self.clock())
        if wait:
            metrics.AUTH_REFUSALS.inc()
            raise TooManyFailures(
                f"Too many failed authentications from this address; try again in {wait} s.",
                retry_after=wait,
            )
        try:
            who = await authenticate(self.container, parse(_header(scope)))
        except AuthenticationError:
            self.failed(scope)
            raise
        state[_PRINCIPAL] = who
        return who

    def failed(self, scope: Scope) -> None:
        """Count a failed authentication of the request of ``scope``."""
        metrics.AUTH_FAILURES.inc()
        self.failures.failed(_address(scope), self.clock())


def gate(request: Request) -> Gate:
    """The app's one gate (``create_app`` puts it on the app's state; made here if not)."""
    state = request.app.state
    found = getattr(state, "auth_gate", None)
    if not isinstance(found, Gate):
        found = state.auth_gate = Gate(deps.container(request))
    return found


def _address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _header(scope: Scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == b"authorization":
            return bytes(value).decode("latin-1")
    return None


async def credentials(
    request: Request, header: Annotated[str | None, Security(header_scheme)]
) -> Credentials:
    """The parts of the header, once the gate has let the request through (401 or 429 if not)."""
    await gate(request).principal(request.scope)
    return parse(header)


async def principal(
    request: Request, creds: Annotated[Credentials, Depends(credentials)]
) -> tenants.Principal:
    """The calling user and organization (platform routes)."""
    # ``creds`` is what marks the route as needing credentials (see ``auth_first``)
    return await gate(request).principal(request.scope)


async def element_instance(
    request: Request,
    creds: Annotated[Credentials, Depends(credentials)],
    c: Annotated[Container, Depends(deps.container)],
) -> instances.Instance:
    """The instance named by the ``Element <token>`` part (hub routes); 401 when wrong or absent."""
    who = await gate(request).principal(request.scope)
    try:
        if creds.element is None:
            raise AuthenticationError(
                "The Authorization header lacks the Element token;"
                f" send `{EXPECTED}, Element <token>`."
            )
        return await c.instances.by_token(who, creds.element)
    except AuthenticationError:
        gate(request).failed(request.scope)
        raise


@dataclasses.dataclass(frozen=True)
class TokenScope:
    """A token-scoped platform call: the caller, and the instance its ``Element <token>`` names."""

    principal: tenants.Principal
    instance_id: int


async def element_scope(
    request: Request, row: Annotated[instances.Instance, Depends(element_instance)]
) -> TokenScope:
    """The caller and the instance of its ``Element <token>``; 401 when wrong or absent."""
    return TokenScope(await gate(request).principal(request.scope), row.id)


Principal = Annotated[tenants.Principal, Depends(principal)]
ElementInstance = Annotated[instances.Instance, Depends(element_instance)]
ElementScope = Annotated[TokenScope, Depends(element_scope)]

"""The ``Authorization`` header: ``User <secret>, Organization <secret>[, Element <token>]``.

Parsed strictly: each part once, nothing else. A missing part, a wrong secret or a user of another
organization answers 401 with a message saying which.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import Depends, Security
from fastapi.security import APIKeyHeader

from headwater.api import deps
from headwater.bootstrap import Container
from headwater.errors import AuthenticationError
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
            shown = kind if len(kind) <= 20 else kind[:20] + "…"
            raise AuthenticationError(
                f"The Authorization header has an unknown part {shown!r}; expected `{EXPECTED}`."
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
            conn, user_secret=credentials.user, org_secret=credentials.organization
        )


async def credentials(header: Annotated[str | None, Security(header_scheme)]) -> Credentials:
    return parse(header)


async def principal(
    creds: Annotated[Credentials, Depends(credentials)],
    c: Annotated[Container, Depends(deps.container)],
) -> tenants.Principal:
    """The calling user and organization (platform routes)."""
    return await authenticate(c, creds)


async def element_instance(
    creds: Annotated[Credentials, Depends(credentials)],
    c: Annotated[Container, Depends(deps.container)],
) -> instances.Row:
    """The instance named by the ``Element <token>`` part (hub routes); 401 when wrong or absent."""
    if creds.element is None:
        raise AuthenticationError(
            f"The Authorization header lacks the Element token; send `{EXPECTED}, Element <token>`."
        )
    who = await authenticate(c, creds)
    return await c.instances.by_token(who, creds.element)


@dataclasses.dataclass(frozen=True)
class Scope:
    """A token-scoped platform call: the caller, and the instance its ``Element <token>`` names."""

    principal: tenants.Principal
    instance_id: int


async def element_scope(
    creds: Annotated[Credentials, Depends(credentials)],
    c: Annotated[Container, Depends(deps.container)],
) -> Scope:
    """The caller and the instance of its ``Element <token>``; 401 when wrong or absent."""
    if creds.element is None:
        raise AuthenticationError(
            f"The Authorization header lacks the Element token; send `{EXPECTED}, Element <token>`."
        )
    who = await authenticate(c, creds)
    return Scope(who, (await c.instances.by_token(who, creds.element)).id)


Principal = Annotated[tenants.Principal, Depends(principal)]
ElementInstance = Annotated[instances.Row, Depends(element_instance)]
ElementScope = Annotated[Scope, Depends(element_scope)]

"""Organizations and users: created with random secrets, stored as SHA-256 hashes only."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import secrets

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from headwater.errors import AuthenticationError
from headwater.storage import tables

INVALID_CREDENTIALS = (
    "The credentials are not valid: the User and Organization secrets must be those of one user"
    " and its organization."
)


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who is calling: a user of an organization."""

    organization_id: int
    user_id: int


@dataclasses.dataclass(frozen=True)
class NewTenant:
    """A new organization with its first user; the secrets are shown once, never stored."""

    organization_id: int
    organization_secret: str
    user_id: int
    user_secret: str


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


async def create(conn: AsyncConnection, *, organization_name: str, now: dt.datetime) -> NewTenant:
    """Create an organization and its first user."""
    org_secret, user_secret = new_secret(), new_secret()
    org_id: int | None = await conn.scalar(
        sa.insert(tables.organizations)
        .values(name=organization_name, secret_hash=hash_secret(org_secret), created_at=now)
        .returning(tables.organizations.c.id)
    )
    assert org_id is not None
    user_id = await add_user(conn, organization_id=org_id, secret=user_secret, now=now)
    return NewTenant(org_id, org_secret, user_id, user_secret)


async def add_user(
    conn: AsyncConnection, *, organization_id: int, secret: str, now: dt.datetime
) -> int:
    """Add a user with ``secret`` to an organization; returns its id."""
    user_id: int | None = await conn.scalar(
        sa.insert(tables.users)
        .values(organization_id=organization_id, secret_hash=hash_secret(secret), created_at=now)
        .returning(tables.users.c.id)
    )
    assert user_id is not None
    return user_id


async def authenticate(conn: AsyncConnection, *, user_secret: str, org_secret: str) -> Principal:
    """The principal holding both secrets.

    AuthenticationError, with one message whichever part is wrong, so that a caller cannot tell a
    valid secret from an invalid one.
    """
    org_hash, user_hash = hash_secret(org_secret), hash_secret(user_secret)
    org = (
        await conn.execute(
            sa.select(tables.organizations.c.id, tables.organizations.c.secret_hash).where(
                tables.organizations.c.secret_hash == org_hash
            )
        )
    ).first()
    user = (
        await conn.execute(
            sa.select(
                tables.users.c.id, tables.users.c.organization_id, tables.users.c.secret_hash
            ).where(tables.users.c.secret_hash == user_hash)
        )
    ).first()
    # the lookups go by hash; comparing the hashes again keeps the check constant-time
    org_ok = org is not None and hmac.compare_digest(org.secret_hash, org_hash)
    user_ok = user is not None and hmac.compare_digest(user.secret_hash, user_hash)
    if not (org_ok and user_ok) or org is None or user is None or user.organization_id != org.id:
        raise AuthenticationError(INVALID_CREDENTIALS)
    return Principal(organization_id=org.id, user_id=user.id)

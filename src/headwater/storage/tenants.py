"""Organizations and users: created with random secrets, stored as SHA-256 hashes only."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
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


def _matches(table: sa.Table, secret_hash: str, now: dt.datetime) -> sa.ColumnElement[bool]:
    """The row's secret, or its previous secret while the overlap lasts, hashes to this."""
    previous = sa.and_(
        table.c.previous_secret_hash == secret_hash, table.c.previous_secret_until > now
    )
    return sa.or_(table.c.secret_hash == secret_hash, previous)


async def authenticate(
    conn: AsyncConnection, *, user_secret: str, org_secret: str, now: dt.datetime | None = None
) -> Principal:
    """The principal holding both secrets (either may be the one a rotation replaced, until its
    overlap ends at ``previous_secret_until``, compared with ``now``, by default the time now).

    AuthenticationError, with one message whichever part is wrong, so that a caller cannot tell a
    valid secret from an invalid one.
    """
    now = now or dt.datetime.now(dt.UTC)
    org_hash, user_hash = hash_secret(org_secret), hash_secret(user_secret)
    orgs, users = tables.organizations, tables.users
    org = (await conn.execute(sa.select(orgs.c.id).where(_matches(orgs, org_hash, now)))).first()
    user = (
        await conn.execute(
            sa.select(users.c.id, users.c.organization_id).where(_matches(users, user_hash, now))
        )
    ).first()
    if org is None or user is None or user.organization_id != org.id:
        raise AuthenticationError(INVALID_CREDENTIALS)
    return Principal(organization_id=org.id, user_id=user.id)


@dataclasses.dataclass(frozen=True)
class Rotated:
    """A new secret, shown once; the one it replaced works until ``previous_until``."""

    id: int
    secret: str
    previous_until: dt.datetime


async def rotate_user_secret(
    conn: AsyncConnection, user_id: int, *, now: dt.datetime, overlap: dt.timedelta
) -> Rotated | None:
    """Give the user a new secret; the current one keeps working for ``overlap`` (a secret of an
    earlier rotation stops at once). None when there is no such user."""
    return await _rotate(conn, tables.users, user_id, now=now, overlap=overlap)


async def rotate_organization_secret(
    conn: AsyncConnection, organization_id: int, *, now: dt.datetime, overlap: dt.timedelta
) -> Rotated | None:
    """Give the organization a new secret, as :func:`rotate_user_secret` does a user."""
    return await _rotate(conn, tables.organizations, organization_id, now=now, overlap=overlap)


async def _rotate(
    conn: AsyncConnection,
    table: sa.Table,
    row_id: int,
    *,
    now: dt.datetime,
    overlap: dt.timedelta,
) -> Rotated | None:
    secret, until = new_secret(), now + overlap
    changed = await conn.execute(
        sa.update(table)
        .where(table.c.id == row_id)
        .values(
            previous_secret_hash=table.c.secret_hash,
            previous_secret_until=until,
            secret_hash=hash_secret(secret),
        )
    )
    return Rotated(row_id, secret, until) if changed.rowcount == 1 else None


async def user_organization(conn: AsyncConnection, user_id: int) -> int | None:
    """The organization of a user; None when there is no such user."""
    found: int | None = await conn.scalar(
        sa.select(tables.users.c.organization_id).where(tables.users.c.id == user_id)
    )
    return found

"""Rotating credentials with an overlap: user and organization secrets, instance tokens.

A rotation makes a new secret (shown once, stored as a hash) and keeps the hash of the one it
replaces, accepted until the overlap ends; after that only the new one works. Rotating again
within an overlap ends the older secret's overlap at once: two secrets work at most.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import secrets as random_secrets
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from headwater.errors import InputError, NotFoundError
from headwater.instances.service import hash_token
from headwater.storage import db, instances, tenants

MAX_OVERLAP_SECONDS = 30 * 24 * 3600.0


@dataclasses.dataclass(frozen=True)
class NewToken:
    """An instance's new token, shown once; the old one works until ``previous_until``."""

    instance_id: int
    token: str
    previous_until: dt.datetime


def overlap(seconds: float | None, default: float, *, field: str = "overlapSeconds") -> float:
    """The overlap asked for (``default`` when None); InputError naming ``field`` when it is not
    a number of seconds from 0 to 30 days."""
    if seconds is None:
        return default
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_OVERLAP_SECONDS:
        raise InputError(
            problems=[(field, f"must be a number of seconds from 0 to {MAX_OVERLAP_SECONDS:g}")]
        )
    return seconds


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Rotation:
    """Rotates the credentials callers present; ``clock`` tells the time (tests move it)."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        overlap_seconds: float,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self.engine = engine
        self.overlap_seconds = overlap_seconds
        self.clock = clock

    def _overlap(self, seconds: float | None) -> dt.timedelta:
        return dt.timedelta(seconds=overlap(seconds, self.overlap_seconds))

    async def user_secret(self, user_id: int, *, seconds: float | None = None) -> tenants.Rotated:
        """A new secret for the user; NotFoundError when there is no such user."""
        async with db.transaction(self.engine) as conn:
            rotated = await tenants.rotate_user_secret(
                conn, user_id, now=self.clock(), overlap=self._overlap(seconds)
            )
        if rotated is None:
            raise NotFoundError(f"No user with id {user_id}.")
        return rotated

    async def organization_secret(
        self, organization_id: int, *, seconds: float | None = None
    ) -> tenants.Rotated:
        """A new secret for the organization; NotFoundError when there is no such one."""
        async with db.transaction(self.engine) as conn:
            rotated = await tenants.rotate_organization_secret(
                conn, organization_id, now=self.clock(), overlap=self._overlap(seconds)
            )
        if rotated is None:
            raise NotFoundError(f"No organization with id {organization_id}.")
        return rotated

    async def organization_of(self, user_id: int) -> int:
        """The organization of a user; NotFoundError when there is no such user."""
        async with db.reading(self.engine) as conn:
            found = await tenants.user_organization(conn, user_id)
        if found is None:
            raise NotFoundError(f"No user with id {user_id}.")
        return found

    async def instance_token(
        self, principal: tenants.Principal, instance_id: int, *, seconds: float | None = None
    ) -> NewToken:
        """A new token for the organization's instance; NotFoundError when it has none such."""
        span = self._overlap(seconds)
        token = random_secrets.token_urlsafe(32)
        async with db.transaction(self.engine) as conn:
            found = await instances.lock(conn, instance_id, change=True)
            row = found and await instances.get(
                conn, instance_id, organization_id=principal.organization_id
            )
            if not row:
                raise NotFoundError(f"No instance with id {instance_id}.")
            until = self.clock() + span
            await instances.rotate_token(
                conn, instance_id, token_hash=hash_token(token), until=until
            )
        return NewToken(instance_id, token, until)

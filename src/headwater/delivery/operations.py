"""Operations notifications: the organization's endpoint (``PUT /notifications/operations``),
and what sending one of them needs.

An operations notification is a delivery of kind ``operations`` written beneath the instance it
is about: it goes out, is retried and is recorded like an event notification, in a lane of its
own (it never waits behind the instance's event notifications, nor is it queued when their
subscription is deactivated). It goes to the organization's endpoint as set when it is sent,
signed with that endpoint's key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from headwater.domain import callbacks, signing
from headwater.errors import InputError, NotFoundError
from headwater.settings import Settings
from headwater.storage import alerts, db, operations, secrets

KIND = alerts.OPERATIONS


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """The organization's operations endpoint as shown: never its key, but whether one is set
    (and, in the answer that generated or set it, the key itself)."""

    url: str
    signature_key_set: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    signature_key: str | None = None


@dataclasses.dataclass(frozen=True)
class Target:
    """Where an operations notification goes now, and the key that signs it."""

    url: str
    key: str


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class OperationsService:
    """Organizations' operations endpoints."""

    def __init__(
        self,
        *,
        settings: Settings,
        engine: AsyncEngine,
        secrets: secrets.SecretBox,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.box = secrets
        self.clock = clock

    async def get(self, organization_id: int) -> Endpoint:
        """The organization's endpoint; NotFoundError when it has none."""
        async with db.reading(self.engine) as conn:
            found = await operations.get(conn, organization_id)
        if found is None:
            raise NotFoundError(
                "This organization has no operations endpoint; set one with "
                "PUT /notifications/operations."
            )
        return _view(found)

    async def put(self, organization_id: int, *, url: object, signature_key: object) -> Endpoint:
        """Set the endpoint. Without ``signature_key`` the stored key stays, or one is generated
        when none is stored; a key given or generated is shown in this answer only."""
        problems: list[tuple[str, str]] = []
        problem = callbacks.check_url(url, allow_private=self.settings.allow_private_callbacks)
        if problem is not None:
            problems.append(("url", problem))
        if signature_key is not None and (
            not isinstance(signature_key, str) or len(signature_key) < signing.MIN_KEY_LENGTH
        ):
            problems.append(
                (
                    "signatureKey",
                    f"must be a string of at least {signing.MIN_KEY_LENGTH} characters",
                )
            )
        if problems:
            raise InputError(problems=problems)
        assert isinstance(url, str)
        now = self.clock()

        async def store(conn: AsyncConnection) -> tuple[operations.Endpoint, str | None]:
            current = await operations.get(conn, organization_id)
            shown: str | None = None
            if isinstance(signature_key, str):
                sealed, shown = seal_key(self.box, signature_key), signature_key
            elif current is not None:
                sealed = current.signature_key
            else:
                shown = signing.generate_key()
                sealed = seal_key(self.box, shown)
            stored = await operations.put(
                conn,
                organization_id=organization_id,
                url=url.strip(),
                signature_key=sealed,
                now=now,
            )
            return stored, shown

        stored, shown = await db.write(self.engine, store)
        return dataclasses.replace(_view(stored), signature_key=shown)

    async def delete(self, organization_id: int) -> None:
        """Remove the endpoint; NotFoundError when there is none. Operations notifications
        already written are still sent, as long as an endpoint is set when they go."""

        async def remove(conn: AsyncConnection) -> bool:
            return await operations.delete(conn, organization_id)

        if not await db.write(self.engine, remove):
            raise NotFoundError("This organization has no operations endpoint.")

    async def target(self, instance_id: int) -> Target | None:
        """Where an operations notification about the instance goes now; None when its
        organization has no endpoint (any more)."""
        async with db.reading(self.engine) as conn:
            found = await operations.of_instance(conn, instance_id)
        if found is None:
            return None
        return Target(url=found.url, key=open_key(self.box, found.signature_key))


def seal_key(box: secrets.SecretBox, key: str) -> str:
    """A signature key sealed on its own (a Fernet token)."""
    return box.seal({"key": key})


def open_key(box: secrets.SecretBox, sealed: str) -> str:
    """The key :func:`seal_key` sealed."""
    return str(box.open(sealed)["key"])


def _view(found: operations.Endpoint) -> Endpoint:
    return Endpoint(
        url=found.url,
        signature_key_set=bool(found.signature_key),
        created_at=found.created_at,
        updated_at=found.updated_at,
    )

"""The element interface: all the core knows of a provider.

An element is its declaration (:mod:`headwater.elements.declaration`) plus the behaviour built
from it (:class:`headwater.elements.element.Element`): a hub built from the declaration alone
(:mod:`headwater.elements.declared_hub`), or one its hooks module provides. The poller,
reconciliation, the hub routes and the composition root reach a provider only through the ports
below: a :class:`Hub` for one instance's records, built from a :class:`Connection`, and the
OAuth calls of the element.

Hub URLs are the hub's own paths (``/hubs/marketing/lists/{listId}/contacts?where=…``), never
the provider's; the element maps them to its API.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Protocol

import aiohttp

from headwater import errors

DEFAULT_PAGE_SIZE = 200


@dataclasses.dataclass(frozen=True)
class HubPage:
    """One page of hub records and the token of the next page (None at the end)."""

    records: list[dict[str, object]]
    next_token: str | None


class PagesShifted(errors.ConflictError):
    """The rows moved since the previous page was read; start again from the first page."""

    def __init__(self, message: str, *, page: HubPage) -> None:
        super().__init__(message)
        # what the page showed all the same (real rows, read after the shift), and a token that
        # reads on from them: a caller that cannot start again loses the fewest rows this way
        self.page = page


@dataclasses.dataclass(frozen=True)
class Grant:
    """What a token endpoint granted, and what the account discovery call found.

    ``account`` holds what the element needs to reach this account afterwards (for an element
    whose accounts each have their own API host, that host under ``base_url``).
    """

    access_token: str
    refresh_token: str | None
    expires_at: dt.datetime | None
    account: Mapping[str, str] = dataclasses.field(default_factory=dict)


class TokenSource(Protocol):
    """Where a hub gets the access token of one instance."""

    async def current(self) -> str:
        """The access token to send now.

        May refresh ahead of expiry. Raises ``errors.ProviderRefusal`` when the instance holds no
        usable tokens (revoked, never authenticated) and ``errors.ProviderUnavailable`` when the
        token endpoint cannot be reached.
        """
        ...

    async def refreshed(self, rejected: str) -> str:
        """A new access token, after the provider refused ``rejected``.

        Idempotent per rejected token: when another caller (or process) already replaced
        ``rejected``, the newer token is returned without spending a single-use refresh token
        again. Raises ``errors.ProviderRefusal`` (with the provider's message) when the refresh
        token is revoked or expired, or when the element's tokens cannot be refreshed; the
        instance is then invalid until re-authenticated.
        """
        ...


class Limiter(Protocol):
    """The pace of one provider account's calls (see :mod:`headwater.elements.limits`)."""

    async def acquire(self) -> None:
        """Wait until one more call is allowed."""
        ...

    def held_for(self) -> float:
        """Seconds until the provider's last "wait" ends (0 when none is in force)."""
        ...

    def hold(self, seconds: float) -> None:
        """Let no call through for ``seconds`` (the provider asked to back off)."""
        ...


@dataclasses.dataclass(frozen=True)
class Connection:
    """What a hub needs to call the provider for one instance."""

    http: aiohttp.ClientSession
    tokens: TokenSource
    limiter: Limiter
    timeout: float
    base_url: str  # the element's API base URL, or the account's own host when it has one


class Hub(Protocol):
    """One instance's records, by hub path.

    Every method raises :mod:`headwater.errors` errors only: ``NotFoundError`` for a path the
    hub does not serve, ``InputError`` naming the parameter for a bad query or body, and the
    ``Provider*`` errors (with the provider's own message) for what the provider answered.
    """

    async def fetch(
        self, url: str, *, page_size: int, page_token: str | None, read_past_shift: bool = False
    ) -> HubPage:
        """One page of the collection at ``url`` (hub path and query, e.g. what a poller holds).

        ``page_token`` is what the previous page returned (None for the first page); tokens are
        opaque and tied to the query. A hub that can tell that rows moved between two pages
        raises :class:`PagesShifted`; with ``read_past_shift`` the page it carries is read from
        far enough back that no row the move pushed up is skipped.
        """
        ...

    async def read(self, path: str) -> dict[str, object]:
        """One record at ``path``; ``ProviderNotFound`` when there is none."""
        ...

    async def create(self, path: str, body: object) -> dict[str, object]:
        """Add a record to the collection at ``path``; returns it as a read would."""
        ...

    async def update(self, path: str, body: object, *, replace: bool = False) -> dict[str, object]:
        """Change the record at ``path`` (``replace``: fields not given are emptied); returns it
        as a read would."""
        ...

    async def delete(self, path: str) -> None:
        """Delete the record at ``path``; ``ProviderNotFound`` when there is none."""
        ...

    def child_count(self, collection_path: str, item: Mapping[str, object]) -> int | None:
        """How many records the item of ``collection_path`` says it holds (a list's size), or
        None when the element's collection does not report it. Reconciliation compares this
        with what it listed before trusting a listing."""
        ...


class Hooks(Protocol):
    """What an element's hooks module may provide, where its declaration cannot say it.

    Each function is optional: without ``hub``, the element's hub is built from its declaration
    (:class:`headwater.elements.declared_hub.DeclaredHub`)."""

    def hub(self, element: object, connection: Connection) -> Hub:
        """The hub of one instance of ``element``."""
        ...

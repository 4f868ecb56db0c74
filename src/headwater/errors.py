"""The one exception tree of Headwater.

    HeadwaterError
    ├── ConfigurationError        settings or server configuration is unusable
    ├── InputError                a request is wrong; carries ``problems`` [(field, problem)]  → 400
    ├── AuthenticationError       missing or wrong credentials                               → 401
    ├── TooManyFailures           an address failed to authenticate too often                → 429
    ├── NotFoundError             no such thing visible to the caller                        → 404
    ├── ConflictError             the request clashes with the current state                 → 409
    ├── ProviderError             the provider (e.g. Act-On) answered or failed
    │   ├── ProviderRefusal       the provider refused (bad code, revoked token)              → 422
    │   ├── ProviderNotFound      the provider knows no such object                          → 404
    │   ├── ProviderUnavailable   unreachable, timed out, 5xx or malformed answer            → 502
    │   │   └── ProviderRateLimited   429; ``retry_after`` seconds                           → 503
    │   └── ProviderAuthExpired   the access token was refused; refresh and retry once
    └── StorageError              the database failed                                        → 503

A subclass's docstring is its default message; data rides as attributes. aiohttp errors are
translated in ``elements`` and the delivery sender, SQLAlchemy errors in ``storage``; neither
reaches a route or the CLI.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class HeadwaterError(Exception):
    """Headwater failed."""

    status: int = 500

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (type(self).__doc__ or "").strip()
        super().__init__(self.message)


class ConfigurationError(HeadwaterError):
    """The server configuration is unusable."""


class InputError(HeadwaterError):
    """The request is not valid."""

    status = 400

    def __init__(
        self, message: str | None = None, problems: Iterable[tuple[str, str]] = ()
    ) -> None:
        self.problems: Sequence[tuple[str, str]] = list(problems)
        if message is None and self.problems:
            message = "; ".join(f"{field}: {problem}" for field, problem in self.problems)
        super().__init__(message)


class AuthenticationError(HeadwaterError):
    """Missing or invalid credentials."""

    status = 401


class TooManyFailures(HeadwaterError):
    """Too many failed authentications from this address; try again later."""

    status = 429

    def __init__(self, message: str | None = None, *, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class NotFoundError(HeadwaterError):
    """Not found."""

    status = 404


class ConflictError(HeadwaterError):
    """The request conflicts with the current state."""

    status = 409


class ProviderError(HeadwaterError):
    """The provider failed."""

    status = 502

    def __init__(
        self,
        message: str | None = None,
        *,
        provider_message: str | None = None,
        http_status: int | None = None,
    ) -> None:
        self.provider_message = provider_message
        self.http_status = http_status
        super().__init__(message)


class ProviderRefusal(ProviderError):
    """The provider refused the request."""

    status = 422


class ProviderNotFound(ProviderError):
    """The provider found nothing there."""

    status = 404


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or answered badly."""

    status = 502


class ProviderRateLimited(ProviderUnavailable):
    """The provider is rate limiting this account."""

    status = 503

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        provider_message: str | None = None,
        http_status: int | None = 429,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, provider_message=provider_message, http_status=http_status)


class ProviderAuthExpired(ProviderError):
    """The provider refused the access token."""

    status = 401


class StorageError(HeadwaterError):
    """The database failed."""

    status = 503

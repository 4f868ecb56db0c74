"""Authentication before the body: a route that needs credentials gets them checked before it
reads a byte of its body.

FastAPI reads and parses a body before it resolves a route's dependencies, so the check cannot be
left to the dependency alone. This middleware wraps the receive channel: when the route asks for
its body, and the route (routing has chosen it by then) depends on ``auth.credentials``, the
request is authenticated first (``auth.Gate``). A wrong or missing credential, or an address that
failed too often, is answered there (401 or 429) and the body is never read; the principal found
rides in the request's state, so the route's dependency does not look it up again. Routes without
a body authenticate in their dependency, through the same gate.
"""

from __future__ import annotations

import logging

from fastapi.dependencies.models import Dependant
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headwater.api import auth, refusals
from headwater.errors import AuthenticationError, HeadwaterError, StorageError, TooManyFailures

log = logging.getLogger(__name__)


class AuthFirstMiddleware:
    """Authenticates a request before its route reads the body, when the route needs credentials."""

    def __init__(self, app: ASGIApp, gate: auth.Gate) -> None:
        self.app = app
        self.gate = gate
        self._needs: dict[int, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        channel = refusals.Channel(scope, send)
        checked = False

        async def authenticated_receive() -> Message:
            nonlocal checked
            if not checked:
                checked = True
                if self._needs_credentials(scope):
                    await self._authenticate(scope, channel)
            return await receive()

        await channel.run(self.app, authenticated_receive)

    async def _authenticate(self, scope: Scope, channel: refusals.Channel) -> None:
        try:
            await self.gate.principal(scope)
        except (AuthenticationError, TooManyFailures) as error:
            headers = None
            if isinstance(error, TooManyFailures):
                headers = {"Retry-After": str(max(1, round(error.retry_after)))}
            await channel.answer(error.status, error.message, headers=headers)
        except StorageError as error:
            log.error("authentication failed on the database: %s", error.message)
            await channel.answer(error.status, refusals.DATABASE_UNAVAILABLE)
        except HeadwaterError as error:  # pragma: no cover - authenticate raises no other
            await channel.answer(error.status, error.message)

    def _needs_credentials(self, scope: Scope) -> bool:
        route = scope.get("route")
        dependant = getattr(route, "dependant", None)
        if not isinstance(dependant, Dependant):
            return False  # the route's dependency still authenticates, after the body
        key = id(route)
        if key not in self._needs:
            self._needs[key] = _depends_on(dependant, auth.credentials)
        return self._needs[key]


def _depends_on(dependant: Dependant, call: object) -> bool:
    pending = [dependant]
    while pending:
        current = pending.pop()
        if current.call is call:
            return True
        pending.extend(current.dependencies)
    return False

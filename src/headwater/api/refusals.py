"""Answers given by the ASGI middlewares in a route's stead, in the API's one JSON error shape."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import NoReturn

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = "The database is unavailable; try again shortly."


class Answered(Exception):
    """A middleware answered the request; raised into the route to stop it."""


async def refuse(
    scope: Scope,
    send: Send,
    status: int,
    message: str,
    problems: Sequence[tuple[str, str]] = (),
    headers: dict[str, str] | None = None,
) -> None:
    """Answer ``{"requestId","message","errors"}`` with ``status`` (the scope's request id)."""
    request_id = str(scope.get("state", {}).get("request_id", ""))
    body = {
        "requestId": request_id,
        "message": message,
        "errors": [{"field": field, "problem": problem} for field, problem in problems],
    }
    response = JSONResponse(body, status_code=status, headers=headers)
    await response(scope, _no_body, send)


class Channel:
    """The send side of one request, on which a middleware may answer in the route's stead.

    :meth:`answer` sends an error (unless the route has begun its own answer) and raises
    :class:`Answered` into the route; whatever the route sends afterwards is dropped, and its
    failure to read on is not an error.
    """

    def __init__(self, scope: Scope, send: Send) -> None:
        self.scope = scope
        self._send = send
        self.started = False
        self.answered = False

    async def send(self, message: Message) -> None:
        if self.answered:
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)

    async def answer(
        self,
        status: int,
        message: str,
        problems: Sequence[tuple[str, str]] = (),
        headers: dict[str, str] | None = None,
    ) -> NoReturn:
        if not self.started:
            self.answered = True
            await refuse(self.scope, self._send, status, message, problems, headers)
        raise Answered

    async def run(self, app: ASGIApp, receive: Receive) -> None:
        """Call ``app`` with ``receive`` and this channel."""
        try:
            await app(self.scope, receive, self.send)
        except Exception:
            if not self.answered:
                raise
            log.debug("request stopped after a middleware answered it", exc_info=True)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}

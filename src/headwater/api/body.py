"""Request bodies, bounded: at most ``max_bytes``, counted as they stream, and JSON nested at most
``json_depth.MAX_DEPTH`` deep.

When a route first asks for its body, a declared ``Content-Length`` over the limit is refused
before a byte is handed over; then every chunk is counted, so a chunked body, or one longer than
it said, is refused as soon as it passes the limit (413). A JSON body is measured for depth on the
way (400). The refusal is answered at once and the rest of the body is never read. Nothing is
checked before the route asks, so that ``auth_first`` answers an unauthenticated request first.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headwater.api import refusals
from headwater.domain import json_depth


class BodyLimitMiddleware:
    """Refuses request bodies over ``max_bytes`` (413) and JSON nested too deep (400)."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int = json_depth.MAX_DEPTH) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        gauge = json_depth.DepthGauge() if _is_json(headers) else None
        channel = refusals.Channel(scope, send)
        received = -1  # nothing asked for yet

        async def counted_receive() -> Message:
            nonlocal received
            if received < 0:
                received = 0
                if declared.isdigit() and int(declared) > self.max_bytes:
                    await self._too_large(channel)
            message = await receive()
            if message["type"] != "http.request":
                return message
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await self._too_large(channel)
            if gauge is not None and gauge.feed(chunk) > self.max_depth:
                problem = json_depth.problem(self.max_depth)
                await channel.answer(
                    400, f"The request body is not acceptable: {problem}.", [("body", problem)]
                )
            return message

        await channel.run(self.app, counted_receive)

    async def _too_large(self, channel: refusals.Channel) -> None:
        problem = f"the request body is larger than the limit of {self.max_bytes} bytes"
        await channel.answer(413, f"The request body is too large: {problem}.", [("body", problem)])


def _is_json(headers: Headers) -> bool:
    # FastAPI parses a body as JSON when it says so, or says nothing
    kind = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return not kind or kind.endswith(("/json", "+json"))

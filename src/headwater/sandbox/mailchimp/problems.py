"""Mailchimp's error answers: ``application/problem+json`` documents (RFC 7807).

Every refusal carries ``type`` (the error glossary), ``title``, ``status``, ``detail`` and
``instance`` (a fresh id, also sent as ``X-Request-Id``); validation errors add ``errors``, a
list of ``{"field","message"}``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence

from aiohttp import web

TYPE = "https://mailchimp.com/developer/marketing/docs/errors/"
CONTENT_TYPE = "application/problem+json"
DESCRIBED_BY = (
    '<https://us1.api.mailchimp.com/schema/3.0/ProblemDetailDocument.json>; rel="describedBy"'
)


class Problem(Exception):
    """A refusal: its status, title, detail and optional field errors."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        errors: Sequence[Mapping[str, str]] = (),
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = [dict(e) for e in errors]

    def response(self, headers: Mapping[str, str] | None = None) -> web.Response:
        """The problem document as an HTTP answer."""
        instance = str(uuid.uuid4())
        body: dict[str, object] = {
            "type": TYPE,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
        }
        if self.errors:
            body["errors"] = self.errors
        return web.Response(
            text=json.dumps(body),
            status=self.status,
            content_type=CONTENT_TYPE,
            charset="utf-8",
            headers={"X-Request-Id": instance, "Link": DESCRIBED_BY, **(headers or {})},
        )


def bad_request(detail: str) -> Problem:
    return Problem(400, "Bad Request", detail)


def invalid(field: str, message: str, detail: str | None = None) -> Problem:
    return Problem(
        400,
        "Invalid Resource",
        detail
        or "The resource submitted could not be validated. "
        "For field-specific details, see the 'errors' array.",
        [{"field": field, "message": message}],
    )


def unauthorized() -> Problem:
    return Problem(
        401,
        "API Key Invalid",
        "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
    )


def not_found() -> Problem:
    return Problem(404, "Resource Not Found", "The requested resource could not be found.")


def method_not_allowed() -> Problem:
    return Problem(
        405, "Method Not Allowed", "The requested method and resource are not compatible."
    )


def too_many_connections() -> Problem:
    return Problem(
        429,
        "Too Many Requests",
        "You have exceeded the limit of 10 simultaneous connections.",
    )


def server_error(status: int) -> Problem:
    titles = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
    return Problem(
        status,
        titles.get(status, "Internal Server Error"),
        "An unexpected internal error has occurred. Please contact Support for more information.",
    )

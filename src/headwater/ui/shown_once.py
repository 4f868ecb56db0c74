"""A key shown once: sealed by the secret box (encrypted and signed) into a short-lived cookie
on the redirect after the form that made it, read and deleted by the page it lands on.

The cookie is scoped to that page's path and bound to what it is about (an instance, an
organization), so the key is shown on that page only, and only on the first visit."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from headwater.errors import HeadwaterError
from headwater.ui import web

COOKIE = "hw_flash"
SECONDS = 300


def keep(response: Response, request: Request, path: str, key: str, **about: Any) -> None:
    """Show ``key`` once on the next visit of ``path``, for the page ``about`` names."""
    sealed = web.container(request).secrets.seal({"key": key, "about": about})
    web.set_cookie(response, request, COOKIE, sealed, max_age=SECONDS, path=path)


def take(request: Request, **about: Any) -> dict[str, Any] | None:
    """What :func:`keep` sealed for the page ``about`` names (``key`` and the rest); None when
    nothing was, or it was for another page. Call :func:`forget` on the response that shows it."""
    sealed = request.cookies.get(COOKIE)
    if not sealed:
        return None
    try:
        found = web.container(request).secrets.open(sealed)
    except HeadwaterError:
        return None
    kept = found.get("about")
    if not isinstance(kept, dict) or not isinstance(found.get("key"), str):
        return None
    if any(kept.get(name) != value for name, value in about.items()):
        return None
    return {**kept, "key": found["key"]}


def forget(response: Response, path: str) -> None:
    response.delete_cookie(COOKIE, path=path)

"""`/elements`: the element catalog and the OAuth URL helper."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from headwater.api import auth, deps, examples, schemas
from headwater.bootstrap import Container
from headwater.errors import InputError

router = APIRouter(tags=["elements"])

Deps = Annotated[Container, Depends(deps.container)]
ElementKey = Annotated[
    str, Path(min_length=1, max_length=64, description=f"e.g. `{examples.SHOWN.key}`")
]


@router.get("/elements")
async def list_elements(who: auth.Principal, c: Deps) -> list[dict[str, Any]]:
    """Every element this server offers."""
    return [element.describe() for element in c.registry.all()]


@router.get("/elements/{key}")
async def get_element(key: ElementKey, who: auth.Principal, c: Deps) -> dict[str, Any]:
    """One element: hubs, resources, event methods and its default poller configuration."""
    return c.registry.get(key).describe()


@router.get("/elements/{key}/metadata", response_model=schemas.ElementMetadata)
async def get_element_metadata(key: ElementKey, who: auth.Principal, c: Deps) -> dict[str, Any]:
    """The element's event support (`events.supported`, `events.methods`) and, per resource, its
    `events`: supported or not, by which methods, with which event types. `key` may also be the
    element's numeric `id`."""
    return c.registry.find(key).metadata()


@router.get("/elements/{key}/oauth/url", response_model=schemas.OAuthUrl)
async def oauth_url(
    key: ElementKey,
    who: auth.Principal,
    c: Deps,
    api_key: Annotated[str | None, Query(alias="apiKey", max_length=500)] = None,
    api_secret: Annotated[str | None, Query(alias="apiSecret", max_length=500)] = None,
    callback_url: Annotated[str | None, Query(alias="callbackUrl", max_length=2000)] = None,
    state: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, str]:
    """The provider URL to send the user's browser to; it redirects back with `code`."""
    element = c.registry.get(key)
    problems = [
        (name, "required")
        for name, value in (("apiKey", api_key), ("callbackUrl", callback_url))
        if not value
    ]
    if problems:
        raise InputError(problems=problems)
    assert api_key is not None and callback_url is not None
    # apiSecret is accepted for compatibility; a secret has no place in a browser URL
    del api_secret
    url = element.authorize_url(client_id=api_key, redirect_uri=callback_url, state=state)
    return {"element": element.key, "oauthUrl": url}

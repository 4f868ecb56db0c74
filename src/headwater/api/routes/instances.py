"""`/instances`: create through OAuth, list, read, update, replace, delete, enable, configure.

Each call on one instance has two forms: `/instances/{id}/…`, and the token-scoped `/instances/…`
of Cloud Elements clients, where the instance is the one whose `Element <token>` is in the
`Authorization` header (`GET /instances` without a token stays the organization's list).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Response
from fastapi.responses import JSONResponse

from headwater.api import auth, deps, examples, ids, paging, schemas
from headwater.bootstrap import Container

router = APIRouter(tags=["instances"])

Deps = Annotated[Container, Depends(deps.container)]
ConfigurationId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=200,
        description="A configuration item: its numeric `id` or its `key`.",
        examples=["6", "event.notification.callback.url"],
    ),
]
_PATCH_EXAMPLES = {
    "callback": {
        "summary": "Move the callback and poll every 5 minutes",
        "value": {
            "configuration": {
                "event.notification.callback.url": "https://app.example.com/events",
                "event.poller.refresh_interval": 5,
            }
        },
    }
}
_PUT_EXAMPLES = {
    "reauthenticate": {
        "summary": "Replace, re-authenticating with a new code",
        "value": {
            "element": {"key": examples.SHOWN.key},
            "providerData": {"code": "<code from the OAuth redirect>"},
            "configuration": {
                "oauth.api.key": "<client id>",
                "oauth.api.secret": "********",
                "oauth.callback.url": "https://app.example.com/callback",
                "event.notification.enabled": False,
            },
            "tags": ["Docs"],
            "name": "API Instance with Polling",
        },
    }
}
_ITEM_EXAMPLES = {
    "callback": {
        "summary": "A new callback URL",
        "value": {"propertyValue": "https://app.example.com/events"},
    }
}
PatchBody = Annotated[schemas.InstancePatch, Body(openapi_examples=_PATCH_EXAMPLES)]
PutBody = Annotated[schemas.InstanceCreate, Body(openapi_examples=_PUT_EXAMPLES)]
ItemBody = Annotated[schemas.ConfigurationItemIn, Body(openapi_examples=_ITEM_EXAMPLES)]


@router.post("/instances", response_model=schemas.InstanceOut, response_model_exclude_none=True)
async def create_instance(
    body: schemas.InstanceCreate, who: auth.Principal, c: Deps
) -> dict[str, Any]:
    """Authenticate an element instance with the provider's OAuth code and store it.

    The answer is the only one that carries the instance `token` and a generated
    `event.notification.signature.key`.
    """
    return schemas.instance_json(await c.instances.create(who, body.to_input()))


@router.get("/instances", response_model=list[schemas.InstanceOut] | schemas.InstanceOut)
async def list_instances(
    who: auth.Principal,
    creds: Annotated[auth.Credentials, Depends(auth.credentials)],
    c: Deps,
    page: paging.Page,
) -> JSONResponse:
    """The organization's instances, in creation order; with an `Element <token>` in the
    `Authorization` header, that token's instance alone (an object, not a list)."""
    if creds.element is not None:
        instance_id = (await c.instances.by_token(who, creds.element)).id
        return JSONResponse(schemas.instance_json(await c.instances.get(who, instance_id)))
    rows = await c.instances.page(who, after_id=page.after_id(), limit=page.size + 1)
    items, more = paging.split(rows, page)
    token = paging.id_token(items[-1].id) if more else None
    return paging.respond([schemas.instance_json(i) for i in items], token)


@router.get(
    "/instances/{instance_id:int}",
    response_model=schemas.InstanceOut,
    response_model_exclude_none=True,
)
async def get_instance(instance_id: ids.InstanceId, who: auth.Principal, c: Deps) -> dict[str, Any]:
    return schemas.instance_json(await c.instances.get(who, instance_id))


@router.patch(
    "/instances/{instance_id:int}",
    response_model=schemas.InstanceOut,
    response_model_exclude_none=True,
)
async def update_instance(
    instance_id: ids.InstanceId, body: PatchBody, who: auth.Principal, c: Deps
) -> dict[str, Any]:
    """Change name or tags (replaced) and configuration keys (merged: null removes a key,
    `********` keeps a stored secret)."""
    return schemas.instance_json(await c.instances.update(who, instance_id, body.to_patch()))


@router.put(
    "/instances/{instance_id:int}",
    response_model=schemas.InstanceOut,
    response_model_exclude_none=True,
)
async def replace_instance(
    instance_id: ids.InstanceId, body: PutBody, who: auth.Principal, c: Deps
) -> dict[str, Any]:
    """Replace name, tags and configuration; a new `providerData.code` re-authenticates.

    `event.notification.signature.key` stays as it is unless the body names it."""
    return schemas.instance_json(await c.instances.replace(who, instance_id, body.to_input()))


@router.delete("/instances/{instance_id:int}", status_code=200, response_class=Response)
async def delete_instance(instance_id: ids.InstanceId, who: auth.Principal, c: Deps) -> Response:
    """Delete the instance with its pollers, events and deliveries."""
    await c.instances.delete(who, instance_id)
    return Response(status_code=200)


@router.put(
    "/instances/{instance_id:int}/enabled",
    response_model=schemas.InstanceOut,
    response_model_exclude_none=True,
)
async def enable_instance(
    instance_id: ids.InstanceId, who: auth.Principal, c: Deps
) -> dict[str, Any]:
    return schemas.instance_json(await c.instances.set_enabled(who, instance_id, True))


@router.delete(
    "/instances/{instance_id:int}/enabled",
    response_model=schemas.InstanceOut,
    response_model_exclude_none=True,
)
async def disable_instance(
    instance_id: ids.InstanceId, who: auth.Principal, c: Deps
) -> dict[str, Any]:
    """Disable the instance: its pollers stop until it is enabled again."""
    return schemas.instance_json(await c.instances.set_enabled(who, instance_id, False))


@router.get(
    "/instances/{instance_id:int}/configuration",
    response_model=list[schemas.ConfigurationItem],
)
async def get_configuration(
    instance_id: ids.InstanceId, who: auth.Principal, c: Deps
) -> list[dict[str, Any]]:
    """Every configuration key with its `propertyValue` (secrets read `********`)."""
    return schemas.configuration_items(await c.instances.configuration(who, instance_id))


@router.patch(
    "/instances/{instance_id:int}/configuration",
    response_model=list[schemas.ConfigurationItem],
)
async def patch_configuration(
    instance_id: ids.InstanceId,
    body: Annotated[schemas.Configuration, Body(description="Keys to set; null removes a key.")],
    who: auth.Principal,
    c: Deps,
) -> list[dict[str, Any]]:
    """Merge configuration keys, as `PATCH /instances/{id}` with a `configuration` does."""
    from headwater.instances import service

    updated = await c.instances.update(who, instance_id, service.InstancePatch(configuration=body))
    return schemas.configuration_items(updated.configuration)


@router.get(
    "/instances/{instance_id:int}/configuration/{configuration_id}",
    response_model=schemas.ConfigurationItem,
)
async def get_configuration_item(
    instance_id: ids.InstanceId, configuration_id: ConfigurationId, who: auth.Principal, c: Deps
) -> dict[str, Any]:
    """One configuration item, by its numeric `id` or its `key`."""
    item = await c.instances.configuration_item(who, instance_id, configuration_id)
    return schemas.configuration_item(item)


@router.patch(
    "/instances/{instance_id:int}/configuration/{configuration_id}",
    response_model=schemas.ConfigurationItem,
)
async def patch_configuration_item(
    instance_id: ids.InstanceId,
    configuration_id: ConfigurationId,
    body: ItemBody,
    who: auth.Principal,
    c: Deps,
) -> dict[str, Any]:
    """Set one item, named by its numeric `id` or its `key` (`{"propertyValue": …}`); null
    removes it."""
    item = await c.instances.set_configuration_item(
        who, instance_id, configuration_id, body.propertyValue
    )
    return schemas.configuration_item(item)


# -- token-scoped: the instance of the `Element <token>` -------------------------------------


@router.patch("/instances", response_model=schemas.InstanceOut, response_model_exclude_none=True)
async def update_token_instance(
    body: PatchBody, scope: auth.ElementScope, c: Deps
) -> dict[str, Any]:
    """`PATCH /instances/{id}` for the instance of the `Element <token>`."""
    patch = body.to_patch()
    return schemas.instance_json(
        await c.instances.update(scope.principal, scope.instance_id, patch)
    )


@router.put("/instances", response_model=schemas.InstanceOut, response_model_exclude_none=True)
async def replace_token_instance(
    body: PutBody, scope: auth.ElementScope, c: Deps
) -> dict[str, Any]:
    """`PUT /instances/{id}` for the instance of the `Element <token>`."""
    given = body.to_input()
    return schemas.instance_json(
        await c.instances.replace(scope.principal, scope.instance_id, given)
    )


@router.delete("/instances", status_code=200)
async def delete_token_instance(scope: auth.ElementScope, c: Deps) -> Response:
    """Delete the instance of the `Element <token>` with its pollers, events and deliveries."""
    await c.instances.delete(scope.principal, scope.instance_id)
    return Response(status_code=200)


@router.put(
    "/instances/enabled", response_model=schemas.InstanceOut, response_model_exclude_none=True
)
async def enable_token_instance(scope: auth.ElementScope, c: Deps) -> dict[str, Any]:
    """Enable the instance of the `Element <token>`."""
    return schemas.instance_json(
        await c.instances.set_enabled(scope.principal, scope.instance_id, True)
    )


@router.delete(
    "/instances/enabled", response_model=schemas.InstanceOut, response_model_exclude_none=True
)
async def disable_token_instance(scope: auth.ElementScope, c: Deps) -> dict[str, Any]:
    """Disable the instance of the `Element <token>`: its pollers stop until it is enabled."""
    return schemas.instance_json(
        await c.instances.set_enabled(scope.principal, scope.instance_id, False)
    )


@router.get("/instances/configuration", response_model=list[schemas.ConfigurationItem])
async def get_token_configuration(scope: auth.ElementScope, c: Deps) -> list[dict[str, Any]]:
    """Every configuration item of the instance of the `Element <token>`."""
    configuration = await c.instances.configuration(scope.principal, scope.instance_id)
    return schemas.configuration_items(configuration)


@router.get("/instances/configuration/{configuration_id}", response_model=schemas.ConfigurationItem)
async def get_token_configuration_item(
    configuration_id: ConfigurationId, scope: auth.ElementScope, c: Deps
) -> dict[str, Any]:
    """One configuration item of the `Element <token>`'s instance, by numeric `id` or `key`."""
    item = await c.instances.configuration_item(
        scope.principal, scope.instance_id, configuration_id
    )
    return schemas.configuration_item(item)


@router.patch(
    "/instances/configuration/{configuration_id}", response_model=schemas.ConfigurationItem
)
async def patch_token_configuration_item(
    configuration_id: ConfigurationId, body: ItemBody, scope: auth.ElementScope, c: Deps
) -> dict[str, Any]:
    """Set one item of the `Element <token>`'s instance, by numeric `id` or `key`; null removes."""
    item = await c.instances.set_configuration_item(
        scope.principal, scope.instance_id, configuration_id, body.propertyValue
    )
    return schemas.configuration_item(item)

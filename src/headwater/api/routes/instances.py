"""`/instances`: create through OAuth, list, read, update, replace, delete, enable, configure."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Response
from fastapi.responses import JSONResponse

from headwater.api import auth, deps, paging, schemas
from headwater.bootstrap import Container
from headwater.errors import NotFoundError

router = APIRouter(tags=["instances"])

Deps = Annotated[Container, Depends(deps.container)]
InstanceId = Annotated[int, Path(ge=1, description="The instance's id.")]
ConfigKey = Annotated[str, Path(min_length=1, max_length=200, description="A configuration key.")]


@router.post("/instances", response_model=schemas.InstanceOut, response_model_exclude_none=True)
async def create_instance(
    body: schemas.InstanceCreate, who: auth.Principal, c: Deps
) -> dict[str, Any]:
    """Authenticate an element instance with the provider's OAuth code and store it.

    The answer is the only one that carries the instance `token` and a generated
    `event.notification.signature.key`.
    """
    return schemas.instance_json(await c.instances.create(who, body.to_input()))


@router.get("/instances", response_model=list[schemas.InstanceOut])
async def list_instances(who: auth.Principal, c: Deps, page: paging.Page) -> JSONResponse:
    """The organization's instances, in creation order."""
    rows = await c.instances.page(who, after_id=page.after_id(), limit=page.size + 1)
    items, more = paging.split(rows, page)
    token = paging.id_token(items[-1].id) if more else None
    return paging.respond([schemas.instance_json(i) for i in items], token)


@router.get(
    "/instances/{instance_id:int}",
    response_model=schemas.InstanceOut,
    response_model_exclude_none=True,
)
async def get_instance(instance_id: InstanceId, who: auth.Principal, c: Deps) -> dict[str, Any]:
    return schemas.instance_json(await c.instances.get(who, instance_id))


@router.patch(
    "/instances/{instance_id:int}",
    response_model=schemas.InstanceOut,
    response_model_exclude_none=True,
)
async def update_instance(
    instance_id: InstanceId, body: schemas.InstancePatch, who: auth.Principal, c: Deps
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
    instance_id: InstanceId, body: schemas.InstanceCreate, who: auth.Principal, c: Deps
) -> dict[str, Any]:
    """Replace name, tags and configuration; a new `providerData.code` re-authenticates."""
    return schemas.instance_json(await c.instances.replace(who, instance_id, body.to_input()))


@router.delete("/instances/{instance_id:int}", status_code=200, response_class=Response)
async def delete_instance(instance_id: InstanceId, who: auth.Principal, c: Deps) -> Response:
    """Delete the instance with its pollers, events and deliveries."""
    await c.instances.delete(who, instance_id)
    return Response(status_code=200)


@router.put(
    "/instances/{instance_id:int}/enabled",
    response_model=schemas.InstanceOut,
    response_model_exclude_none=True,
)
async def enable_instance(instance_id: InstanceId, who: auth.Principal, c: Deps) -> dict[str, Any]:
    return schemas.instance_json(await c.instances.set_enabled(who, instance_id, True))


@router.delete(
    "/instances/{instance_id:int}/enabled",
    response_model=schemas.InstanceOut,
    response_model_exclude_none=True,
)
async def disable_instance(instance_id: InstanceId, who: auth.Principal, c: Deps) -> dict[str, Any]:
    """Disable the instance: its pollers stop until it is enabled again."""
    return schemas.instance_json(await c.instances.set_enabled(who, instance_id, False))


@router.get(
    "/instances/{instance_id:int}/configuration",
    response_model=list[schemas.ConfigurationItem],
)
async def get_configuration(
    instance_id: InstanceId, who: auth.Principal, c: Deps
) -> list[dict[str, Any]]:
    """Every configuration key with its `propertyValue` (secrets read `********`)."""
    return schemas.configuration_items(await c.instances.configuration(who, instance_id))


@router.patch(
    "/instances/{instance_id:int}/configuration",
    response_model=list[schemas.ConfigurationItem],
)
async def patch_configuration(
    instance_id: InstanceId,
    body: Annotated[schemas.Configuration, Body(description="Keys to set; null removes a key.")],
    who: auth.Principal,
    c: Deps,
) -> list[dict[str, Any]]:
    """Merge configuration keys, as `PATCH /instances/{id}` with a `configuration` does."""
    from headwater.instances import service

    updated = await c.instances.update(who, instance_id, service.InstancePatch(configuration=body))
    return schemas.configuration_items(updated.configuration)


@router.get(
    "/instances/{instance_id:int}/configuration/{key}",
    response_model=schemas.ConfigurationItem,
)
async def get_configuration_key(
    instance_id: InstanceId, key: ConfigKey, who: auth.Principal, c: Deps
) -> dict[str, Any]:
    configuration = await c.instances.configuration(who, instance_id)
    if key not in configuration:
        raise NotFoundError(f"Instance {instance_id} has no configuration key {key!r}.")
    return {"key": key, "propertyValue": configuration[key]}


@router.patch(
    "/instances/{instance_id:int}/configuration/{key}",
    response_model=schemas.ConfigurationItem,
)
async def patch_configuration_key(
    instance_id: InstanceId,
    key: ConfigKey,
    body: schemas.ConfigurationItemIn,
    who: auth.Principal,
    c: Deps,
) -> dict[str, Any]:
    """Set one key (`{"propertyValue": …}`); null removes it."""
    from headwater.instances import service

    patch = service.InstancePatch(configuration={key: body.propertyValue})
    updated = await c.instances.update(who, instance_id, patch)
    return {"key": key, "propertyValue": updated.configuration.get(key)}

"""Operations: the organization's operations endpoint (signed notices when something stops and
when it recovers), and rotating an instance's signature key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from headwater.api import auth, deps, ids, openapi, schemas
from headwater.bootstrap import Container
from headwater.delivery import operations
from headwater.instances import signature_keys

router = APIRouter(tags=["operations"])

Deps = Annotated[Container, Depends(deps.container)]
_PATH = "/notifications/operations"
_NONE_SET: dict[int | str, dict[str, Any]] = {
    404: {
        "description": "The organization has no operations endpoint.",
        "content": {
            "application/json": {
                "schema": {"$ref": openapi.ERROR_REF},
                "example": {
                    "requestId": "req_5f0c6b9e2a7d4c1e8b3a9d6f0e2c4b7a",
                    "message": "This organization has no operations endpoint.",
                    "errors": [],
                },
            }
        },
    }
}


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Any = Field(description="Where operations notifications go (http or https).")
    signatureKey: Any = Field(
        None,
        description="Signs them (at least 16 characters). Absent: the stored key stays, or one "
        "is generated and shown in this answer only.",
    )


class EndpointOut(BaseModel):
    url: str
    signatureKeySet: bool
    signatureKey: str | None = Field(None, description="Only in the answer that set it.")
    createdDate: str
    updatedDate: str


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlapSeconds: Any = Field(
        None,
        description="How long the previous key keeps signing beside the new one (default "
        "`HEADWATER_SIGNATURE_OVERLAP_SECONDS`, 24 h).",
    )


class RotatedOut(BaseModel):
    instanceId: int
    signatureKey: str = Field(description="The new key, shown this once.")
    fingerprint: str
    previousFingerprint: str
    rotatedDate: str
    overlapEndsDate: str


def _endpoint_json(found: operations.Endpoint) -> dict[str, Any]:
    body: dict[str, Any] = {
        "url": found.url,
        "signatureKeySet": found.signature_key_set,
        "createdDate": schemas.wire_time(found.created_at),
        "updatedDate": schemas.wire_time(found.updated_at),
    }
    if found.signature_key is not None:
        body["signatureKey"] = found.signature_key
    return body


@router.get(
    _PATH, response_model=EndpointOut, response_model_exclude_none=True, responses=_NONE_SET
)
async def get_operations(who: auth.Principal, c: Deps) -> dict[str, Any]:
    """The organization's operations endpoint (never its key: only whether one is set)."""
    return _endpoint_json(await c.operations.get(who.organization_id))


@router.put(_PATH, response_model=EndpointOut, response_model_exclude_none=True)
async def put_operations(body: EndpointIn, who: auth.Principal, c: Deps) -> dict[str, Any]:
    """Send the organization's operations notifications to `url`, signed like event
    notifications: `poller.disabled`/`poller.recovered`, `instance.invalid`/`instance.valid`,
    `subscription.deactivated`/`subscription.reactivated`, `backlog.exceeded`/`backlog.cleared`.
    Their deliveries and attempts are in the delivery log with `kind='operations'`."""
    found = await c.operations.put(
        who.organization_id, url=body.url, signature_key=body.signatureKey
    )
    return _endpoint_json(found)


@router.delete(_PATH, status_code=200, response_class=Response, responses=_NONE_SET)
async def delete_operations(who: auth.Principal, c: Deps) -> Response:
    """Stop sending operations notifications."""
    await c.operations.delete(who.organization_id)
    return Response(status_code=200)


@router.post(
    "/instances/{instance_id:int}/signature-key/rotate",
    response_model=RotatedOut,
)
async def rotate_signature_key(
    instance_id: ids.InstanceId,
    who: auth.Principal,
    c: Deps,
    body: Annotated[RotateIn | None, Body()] = None,
) -> dict[str, Any]:
    """Make a new `event.notification.signature.key` current, shown in this answer only.

    For the overlap the previous key still signs: `webhook-signature` carries both signatures
    and `Elements-Webhook-Signature` keeps the previous key; afterwards only the new key signs.
    409 while an earlier rotation's overlap runs."""
    await c.instances.get(who, instance_id)  # 404 for another organization's instance
    rotated: signature_keys.Rotated = await c.signature_keys.rotate(
        who, instance_id, overlap_seconds=None if body is None else body.overlapSeconds
    )
    return {
        "instanceId": rotated.instance_id,
        "signatureKey": rotated.key,
        "fingerprint": rotated.fingerprint,
        "previousFingerprint": rotated.previous_fingerprint,
        "rotatedDate": schemas.wire_time(rotated.rotated_at),
        "overlapEndsDate": schemas.wire_time(rotated.overlap_until),
    }

"""Rotating the credentials a caller presents: its own user secret, and an instance's token.

Each answer is the only one that shows the new secret; the one it replaces keeps working until
the answer's expiry date (`HEADWATER_CREDENTIAL_OVERLAP_SECONDS`, or `overlapSeconds`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, ConfigDict, Field

from headwater.api import auth, deps, ids, schemas
from headwater.bootstrap import Container

router = APIRouter(tags=["credentials"])

Deps = Annotated[Container, Depends(deps.container)]


class RotateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_seconds: float | None = Field(
        default=None,
        alias="overlapSeconds",
        description="How long the replaced secret keeps working, in seconds (0: it stops now); "
        "default `HEADWATER_CREDENTIAL_OVERLAP_SECONDS`.",
    )


Rotate = Annotated[RotateRequest | None, Body()]


class UserSecretOut(BaseModel):
    userId: int
    userSecret: str = Field(description="The new secret, shown this once.")
    previousSecretExpiresDate: str = Field(description="Until when the replaced secret works.")


class InstanceTokenOut(BaseModel):
    id: int
    token: str = Field(description="The instance's new token, shown this once.")
    previousTokenExpiresDate: str = Field(description="Until when the replaced token works.")


@router.post("/users/me/secret/rotate", response_model=UserSecretOut)
async def rotate_user_secret(who: auth.Principal, c: Deps, body: Rotate = None) -> dict[str, Any]:
    """Give the calling user a new secret. Its current secret keeps working for the overlap, so
    that clients can move over without downtime; rotating again ends an older secret at once."""
    seconds = None if body is None else body.overlap_seconds
    rotated = await c.rotation.user_secret(who.user_id, seconds=seconds)
    return {
        "userId": rotated.id,
        "userSecret": rotated.secret,
        "previousSecretExpiresDate": schemas.wire_time(rotated.previous_until),
    }


@router.post("/instances/{instance_id:int}/token/rotate", response_model=InstanceTokenOut)
async def rotate_instance_token(
    instance_id: ids.InstanceId, who: auth.Principal, c: Deps, body: Rotate = None
) -> dict[str, Any]:
    """Give the instance a new token (the `Element <token>` of hub calls). The current token keeps
    working for the overlap; rotating again ends an older token at once."""
    seconds = None if body is None else body.overlap_seconds
    rotated = await c.rotation.instance_token(who, instance_id, seconds=seconds)
    return {
        "id": rotated.instance_id,
        "token": rotated.token,
        "previousTokenExpiresDate": schemas.wire_time(rotated.previous_until),
    }

"""Operations: liveness, readiness (database reachable, migrations current) and metrics."""

from __future__ import annotations

from typing import Annotated

import prometheus_client
from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from headwater.api import deps
from headwater.bootstrap import Container
from headwater.errors import HeadwaterError
from headwater.storage import migrate

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


_READY = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ok", "unavailable"]},
        "database": {"type": "string", "enum": ["ok", "unreachable"]},
        "migrations": {"type": ["string", "null"]},
        "expected": {"type": ["string", "null"]},
        "error": {"type": "string"},
    },
    "required": ["status", "database"],
}


@router.get(
    "/readyz",
    responses={
        200: {"content": {"application/json": {"schema": _READY}}},
        503: {
            "description": "Not ready: the database is unreachable or its schema is not current.",
            "content": {
                "application/json": {
                    "schema": _READY,
                    "example": {"status": "unavailable", "database": "unreachable", "error": "…"},
                }
            },
        },
    },
)
async def readyz(c: Annotated[Container, Depends(deps.container)]) -> JSONResponse:
    """Ready to serve: the database answers and its schema is the one this code expects."""
    try:
        current = await migrate.current(c.engine)
    except HeadwaterError as error:
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable", "error": error.message},
            status_code=503,
        )
    head = migrate.head()
    if current != head:
        return JSONResponse(
            {"status": "unavailable", "database": "ok", "migrations": current, "expected": head},
            status_code=503,
        )
    return JSONResponse({"status": "ok", "database": "ok", "migrations": current})


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text format.",
            "content": {
                "text/plain": {
                    "schema": {"type": "string"},
                    "example": "# TYPE headwater_polls_total counter\n"
                    'headwater_polls_total{outcome="ok"} 42.0\n',
                }
            },
        }
    },
)
async def metrics() -> Response:
    """Prometheus metrics of this process."""
    _register_metrics()
    return Response(
        prometheus_client.generate_latest(), media_type=prometheus_client.CONTENT_TYPE_LATEST
    )


def _register_metrics() -> None:
    # the metrics module defines them on the default registry when first imported
    try:
        import headwater.metrics  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ModuleNotFoundError as error:
        if error.name != "headwater.metrics":
            raise

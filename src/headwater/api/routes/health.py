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


@router.get("/readyz")
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


@router.get("/metrics", response_class=Response)
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

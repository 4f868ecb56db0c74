"""Operations: liveness, readiness (database readable and writable, migrations current), metrics."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import prometheus_client
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from headwater.api import deps
from headwater.bootstrap import Container
from headwater.errors import HeadwaterError
from headwater.storage import migrate, probe

log = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


_READY = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ok", "unavailable"]},
        "database": {"type": "string", "enum": ["ok", "unreachable", "not writable"]},
        "migrations": {"type": ["string", "null"]},
        "expected": {"type": ["string", "null"]},
    },
    "required": ["status", "database"],
}


@router.get(
    "/readyz",
    responses={
        200: {"content": {"application/json": {"schema": _READY}}},
        503: {
            "description": (
                "Not ready: the database is unreachable, cannot be written, or its schema is "
                "not current."
            ),
            "content": {
                "application/json": {
                    "schema": _READY,
                    "example": {"status": "unavailable", "database": "unreachable"},
                }
            },
        },
    },
)
async def readyz(
    request: Request, c: Annotated[Container, Depends(deps.container)]
) -> JSONResponse:
    """Ready to serve: the database answers, takes a write, and has the schema this code expects.

    Unauthenticated: the answer names the state only; the database's error is logged.
    """
    timeout = c.settings.ready_timeout_seconds
    try:
        current = await asyncio.wait_for(migrate.current(c.engine), timeout)
    except (HeadwaterError, TimeoutError) as error:
        log.warning("not ready: the database cannot be read: %s", _reason(error))
        return _unavailable("unreachable")
    head = migrate.head()
    if current != head:
        return JSONResponse(
            {"status": "unavailable", "database": "ok", "migrations": current, "expected": head},
            status_code=503,
        )
    try:
        await _write_probe(request, c).check(timeout)
    except HeadwaterError as error:
        log.warning("not ready: the database cannot be written: %s", error.message)
        return _unavailable("not writable")
    return JSONResponse({"status": "ok", "database": "ok", "migrations": current})


def _write_probe(request: Request, c: Container) -> probe.WriteProbe:
    state = request.app.state
    current = getattr(state, "write_probe", None)
    if not isinstance(current, probe.WriteProbe) or current.engine is not c.engine:
        current = state.write_probe = probe.WriteProbe(c.engine)
    return current


def _unavailable(database: str) -> JSONResponse:
    return JSONResponse({"status": "unavailable", "database": database}, status_code=503)


def _reason(error: Exception) -> str:
    return (
        error.message
        if isinstance(error, HeadwaterError)
        else f"no answer ({type(error).__name__})"
    )


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

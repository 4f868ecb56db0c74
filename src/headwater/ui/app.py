"""Mounts the UI on the application: its pages at ``/``, its stylesheet and script at
``/static``."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from headwater.ui import (
    routes_auth,
    routes_create,
    routes_home,
    routes_instance,
    routes_operations,
    routes_signature_key,
    web,
)

STATIC_PATH = "/static"


def install(app: FastAPI) -> None:
    """Add the UI's routes and static files to ``app`` (built by ``api.app.create_app``)."""
    for module in (
        routes_auth,
        routes_home,
        routes_create,
        routes_instance,
        routes_signature_key,
        routes_operations,
    ):
        app.include_router(module.router)
    app.mount(STATIC_PATH, StaticFiles(directory=web.HERE / "static"), name="static")

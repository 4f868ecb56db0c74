"""Dependencies shared by the routes: the container of the running app."""

from __future__ import annotations

from typing import cast

from fastapi import Request

from headwater.bootstrap import Container


def container(request: Request) -> Container:
    """The process's container, set on the app when it was built."""
    return cast(Container, request.app.state.container)

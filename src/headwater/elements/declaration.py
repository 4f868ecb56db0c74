"""An element's declaration: what ``element.yaml`` says, as frozen values.

This first form reads the keys the core needs; validation against the JSON Schema and the
declared hub (paging styles, ``where`` mapping, records path) build on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from headwater.errors import ConfigurationError

FILE_NAME = "element.yaml"


@dataclasses.dataclass(frozen=True)
class OAuth2:
    """OAuth 2.0 authorization code flow; URLs may hold ``{baseUrl}``."""

    authorize_url: str
    token_url: str
    scopes: tuple[str, ...] = ()
    refresh: bool = True


@dataclasses.dataclass(frozen=True)
class Authentication:
    type: str  # oauth2 | apiKey
    oauth2: OAuth2 | None = None


@dataclasses.dataclass(frozen=True)
class Resource:
    """One hub resource: its name and hub path."""

    name: str
    path: str


@dataclasses.dataclass(frozen=True)
class Events:
    methods: tuple[str, ...]
    default_refresh_interval: float
    poller_configuration: Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class Declaration:
    key: str
    name: str
    description: str
    hub: str
    base_url: str
    authentication: Authentication
    rate_per_second: float
    resources: tuple[Resource, ...]
    events: Events
    hooks: str | None = None
    folder: Path | None = None


def load(path: Path) -> Declaration:
    """The declaration in ``path`` (a folder holding ``element.yaml``, or the file itself)."""
    file = path / FILE_NAME if path.is_dir() else path
    try:
        data = yaml.safe_load(file.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ConfigurationError(f"{file}: {error}") from error
    if not isinstance(data, dict):
        raise ConfigurationError(f"{file}: an element declaration is a mapping")
    return from_mapping(data, folder=file.parent)


def from_mapping(data: Mapping[str, Any], *, folder: Path | None = None) -> Declaration:
    auth = data["authentication"]
    oauth2 = auth.get("oauth2")
    events = data.get("events", {})
    return Declaration(
        key=data["key"],
        name=data["name"],
        description=data.get("description", ""),
        hub=data["hub"],
        base_url=data["api"]["baseUrl"],
        authentication=Authentication(
            type=auth["type"],
            oauth2=None
            if oauth2 is None
            else OAuth2(
                authorize_url=oauth2["authorizeUrl"],
                token_url=oauth2["tokenUrl"],
                scopes=tuple(oauth2.get("scopes", ())),
                refresh=bool(oauth2.get("refresh", True)),
            ),
        ),
        rate_per_second=float(data.get("rateLimit", {}).get("perSecond", 5.0)),
        resources=tuple(Resource(r["name"], r["path"]) for r in data.get("resources", ())),
        events=Events(
            methods=tuple(events.get("methods", ())),
            default_refresh_interval=float(events.get("defaultRefreshInterval", 15.0)),
            poller_configuration=events.get("pollerConfiguration", {}),
        ),
        hooks=data.get("hooks"),
        folder=folder,
    )

"""What the JSON Schema of a declaration cannot say, checked on a document it accepted.

Hub paths start with ``/hubs/<hub>/``; resource names are unique; a provider path uses only
the placeholders of its hub path (and ``{id}`` for single records); URL templates name only
``{baseUrl}`` and the declared ``api.urls``; an element without a hooks module declares a
provider call for every resource; webhooks as an event method come with a ``webhooks`` block;
poller defaults name declared resources.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from headwater.elements import schema

_PLACEHOLDER = re.compile(r"\{([A-Za-z][A-Za-z0-9_]*)\}")
_OPERATIONS = ("read", "create", "update", "replace", "delete")


def placeholders(template: str) -> list[str]:
    """The ``{name}`` placeholders of a path or URL template, in order."""
    return _PLACEHOLDER.findall(template)


def problems(document: schema.Document) -> list[schema.Problem]:
    """Every rule broken, in line order (the document already satisfies the schema)."""
    found = [
        schema.Problem(document.line(path), schema.key_path(path), message)
        for path, message in _broken(document.data)
    ]
    return sorted(found, key=lambda p: (p.line, p.path))


def _broken(data: Mapping[str, Any]) -> Iterator[tuple[list[str | int], str]]:
    hub = data["hub"]
    api = data["api"]
    url_names = {"baseUrl", *api.get("urls", {})}
    auth = data["authentication"]
    for flow_key in ("oauth2",):
        flow = auth.get(flow_key)
        if flow is None:
            continue
        for name in ("authorizeUrl", "tokenUrl"):
            yield from _url_names(["authentication", flow_key, name], flow[name], url_names)
        if "accountDiscovery" in flow:
            yield from _url_names(
                ["authentication", flow_key, "accountDiscovery", "url"],
                flow["accountDiscovery"]["url"],
                url_names,
            )
    names: set[str] = set()
    hooks = data.get("hooks")
    for index, resource in enumerate(data.get("resources", ())):
        at: list[str | int] = ["resources", index]
        if resource["name"] in names:
            yield [*at, "name"], f"another resource is already called {resource['name']!r}"
        names.add(resource["name"])
        path = resource["path"]
        if not path.startswith(f"/hubs/{hub}/"):
            yield [*at, "path"], f"a hub path of this element starts with /hubs/{hub}/"
        known = set(placeholders(path))
        if "provider" in resource:
            yield from _unknown(
                [*at, "provider", "path"], resource["provider"]["path"], known, path
            )
        elif hooks is None:
            yield [*at], "says no 'provider' call, and the element has no hooks to serve it"
        for name, call in resource.get("operations", {}).items():
            if name in _OPERATIONS:
                yield from _unknown(
                    [*at, "operations", name, "path"], call["path"], known | {"id"}, path
                )
    events = data.get("events", {})
    if "webhooks" in events.get("methods", ()) and "webhooks" not in events:
        yield ["events", "methods"], "lists webhooks but 'events.webhooks' says nothing of them"
    for name in events.get("pollerConfiguration", {}):
        if name not in names:
            yield (
                ["events", "pollerConfiguration", name],
                f"is not a declared resource (declared: {sorted(names)})",
            )


def _url_names(
    at: list[str | int], template: str, known: set[str]
) -> Iterator[tuple[list[str | int], str]]:
    for name in placeholders(template):
        if name not in known:
            yield at, f"{{{name}}} is neither baseUrl nor a name in api.urls"


def _unknown(
    at: list[str | int], template: str, known: set[str], hub_path: str
) -> Iterator[tuple[list[str | int], str]]:
    for name in placeholders(template):
        if name not in known:
            yield at, f"{{{name}}} is not a placeholder of the hub path {hub_path}"

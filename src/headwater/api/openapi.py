"""The OpenAPI description as the API really behaves, derived centrally from what each route is.

FastAPI's generated description claims a 422 validation error on every route (the API answers
400) and nothing else. :func:`install` post-processes it once per change of the routes:

- FastAPI's 422 goes; each operation declares the errors it can answer, all in the one
  :data:`ERROR_SCHEMA`, from what it is: authenticated → 401, 429, 503 (database); parameters or
  a body → 400; a body → 413; ids in the path → 404; a write, or a hub listing (a stale page
  token) → 409; a call that reaches the provider (hub routes, creating, replacing, updating or
  deleting an instance) → 422 (the provider refused), 502, 503. What a route declares itself
  is kept.
- Every answer names ``X-Request-Id``; paged lists name ``Elements-Next-Page-Token``; 429 and
  503 name ``Retry-After``.
- Every operation has an example: from :mod:`headwater.api.examples`, else derived from its
  schema.

Routes added later get the same treatment without declaring anything.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI

from headwater.api import examples

ERROR_REF = "#/components/schemas/Error"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Error",
    "description": "Every error answer. `errors` lists each problem with the field it is in "
    "(as written in the request, e.g. `configuration.event.poller.refresh_interval`).",
    "required": ["requestId", "message", "errors"],
    "properties": {
        "requestId": {"type": "string", "description": "Also in the `X-Request-Id` header."},
        "message": {"type": "string"},
        "providerMessage": {
            "type": "string",
            "description": "What the provider said, when it refused or failed.",
        },
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "problem"],
                "properties": {"field": {"type": "string"}, "problem": {"type": "string"}},
            },
        },
    },
}

_ERRORS: dict[str, tuple[str, str, list[tuple[str, str]]]] = {
    "400": (
        "Bad input: `errors` names each field and what is wrong with it.",
        "where: unexpected token 'or' at position 9: expected a field name, NOT or '('",
        [("where", "unexpected token 'or' at position 9: expected a field name, NOT or '('")],
    ),
    "401": (
        "Missing or wrong credentials: `User <secret>, Organization <secret>` (hub calls add "
        "`, Element <token>`).",
        "The Authorization header is missing; send `User <userSecret>, Organization "
        "<organizationSecret>`.",
        [],
    ),
    "404": ("No such thing visible to the caller.", "No instance with id 42.", []),
    "409": (
        "The request clashes with the current state (e.g. a disabled instance or poller; a hub "
        "page token whose rows shifted: start again from the first page).",
        "Instance 42 is disabled; enable it with PUT /instances/42/enabled.",
        [],
    ),
    "413": (
        "The request body is larger than the server accepts (`HEADWATER_MAX_BODY_BYTES`).",
        "The request body is larger than 1048576 bytes.",
        [("body", "is larger than 1048576 bytes")],
    ),
    "422": (
        "The provider refused: an authorization code it does not accept, a revoked token (the "
        "instance must be re-authenticated with `PUT /instances/{id}` and a new code). "
        "`providerMessage` quotes it.",
        "Instance 42 must be re-authenticated (PUT with a new code).",
        [],
    ),
    "429": (
        "Too many requests; retry after `Retry-After` seconds.",
        "Too many requests; retry in 2 seconds.",
        [],
    ),
    "502": (
        "The provider could not be reached or answered badly.",
        "The provider could not be reached: timed out after 30 s.",
        [],
    ),
    "503": (
        "The database, or the provider, is unavailable or rate limiting; retry later (after "
        "`Retry-After` seconds when given).",
        "The database is unavailable; try again shortly.",
        [],
    ),
}
_HEADER_REQUEST_ID = {
    "description": "The request's id, as `requestId` in error answers and in the logs.",
    "schema": {"type": "string"},
}
_HEADER_RETRY_AFTER = {"description": "Seconds to wait.", "schema": {"type": "integer"}}
_HEADER_NEXT_PAGE = {
    "description": "Present when more items remain: pass it as `nextPage` for the next page.",
    "schema": {"type": "string"},
}
_RECEIVER_ANSWERS: dict[str, Any] = {
    "2XX": {"description": "Received: any 2xx answer is success."},
    "410": {"description": "Gone: no more retries of this notification."},
    "default": {
        "description": "Anything else (or no answer in time) is retried on the instance's "
        "schedule; a `Retry-After` replaces the next delay (at most an hour). After the last "
        "retry the subscription is deactivated and later notifications are queued until "
        "released.",
        "headers": {"Retry-After": _HEADER_RETRY_AFTER},
    },
}
_WRITES = frozenset({"post", "put", "patch", "delete"})
_METHODS = frozenset({"get", "head", "options", "trace"}) | _WRITES
_INSTANCE_PATH = re.compile(r"/instances(/\{[^}/]+\})?")


def install(app: FastAPI, base_path: str) -> None:
    """Serve the post-processed description from ``app.openapi`` (and so at /openapi.json)."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    made: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        source = generate()
        if made.get("source") is not source:
            made["schema"] = describe(source, base_path)
            made["source"] = source
        schema: dict[str, Any] = made["schema"]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def describe(generated: Mapping[str, Any], base_path: str) -> dict[str, Any]:
    """The truthful description of a FastAPI-generated one (which is left as it is)."""
    schema = copy.deepcopy(dict(generated))
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if method in _METHODS:
                _operation(method, path, operation, base_path, components)
    for operations in schema.get("webhooks", {}).values():
        for operation in operations.values():
            operation["responses"] = copy.deepcopy(_RECEIVER_ANSWERS)
    _drop_unused(schema, ("HTTPValidationError", "ValidationError"))
    return schema


def _operation(
    method: str, path: str, operation: dict[str, Any], base_path: str, components: Any
) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    validation = responses.get("422", {})
    if "HTTPValidationError" in str(validation):
        del responses["422"]
    local = path.removeprefix(base_path) if path.startswith(base_path + "/") else None
    for code in _errors(method, local, operation):
        responses.setdefault(code, _error_response(code))
    paged = any(p.get("name") == "nextPage" for p in operation.get("parameters", ()))
    for code, response in responses.items():
        headers = response.setdefault("headers", {})
        headers.setdefault("X-Request-Id", _HEADER_REQUEST_ID)
        if code.startswith("2") and paged:
            headers.setdefault("Elements-Next-Page-Token", _HEADER_NEXT_PAGE)
    _examples(method, path, local, operation, components)


def _errors(method: str, local: str | None, operation: Mapping[str, Any]) -> list[str]:
    parameters = operation.get("parameters", ())
    authenticated = bool(operation.get("security"))
    body = "requestBody" in operation
    hub = local is not None and local.startswith("/hubs/")
    provider = hub or (
        local is not None and method in _WRITES and _INSTANCE_PATH.fullmatch(local) is not None
    )
    codes: set[str] = set()
    if parameters or body:
        codes.add("400")
    if authenticated:
        codes |= {"401", "429", "503"}
    if any(p.get("in") == "path" for p in parameters):
        codes.add("404")
    paged = any(p.get("name") == "nextPage" for p in parameters)
    if (method in _WRITES and authenticated) or (hub and paged):
        codes.add("409")
    if body:
        codes.add("413")
    if provider:
        codes |= {"422", "502", "503"}
    return sorted(codes)


def _error_response(code: str) -> dict[str, Any]:
    description, message, problems = _ERRORS[code]
    example: dict[str, Any] = {"requestId": "req_5f0c6b9e2a7d4c1e8b3a9d6f0e2c4b7a"}
    example["message"] = message
    if code in ("422", "502"):
        example["providerMessage"] = "invalid_grant" if code == "422" else "HTTP 503"
    example["errors"] = [{"field": f, "problem": p} for f, p in problems]
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": ERROR_REF}, "example": example}},
    }
    if code in ("429", "503"):
        response["headers"] = {"Retry-After": _HEADER_RETRY_AFTER}
    return response


def _examples(
    method: str, path: str, local: str | None, operation: dict[str, Any], components: Any
) -> None:
    key = (method, local) if local is not None else None
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is not None and not _has_example(content):
        body = examples.BODIES.get(key) if key else None
        content["example"] = body if body is not None else _derive(content, components)
    for code, response in operation.get("responses", {}).items():
        if not code.startswith("2"):
            continue
        media = response.get("content", {}).get("application/json")
        if media is None or _has_example(media):
            continue
        found = examples.RESPONSES.get(key) if key else examples.OPERATIONS.get((method, path))
        media["example"] = found if found is not None else _derive(media, components)


def _has_example(media: Mapping[str, Any]) -> bool:
    schema = media.get("schema", {})
    return "example" in media or "examples" in media or "examples" in schema


def _derive(media: Mapping[str, Any], components: Mapping[str, Any]) -> Any:
    return _instance(media.get("schema", {}), components, 0)


def _instance(schema: Mapping[str, Any], components: Mapping[str, Any], depth: int) -> Any:
    """A small value that fits ``schema`` (for operations without a written example)."""
    if depth > 8:
        return None
    if "$ref" in schema:
        return _instance(components.get(schema["$ref"].rsplit("/", 1)[-1], {}), components, depth)
    for key in ("examples", "enum"):
        if schema.get(key):
            return schema[key][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return _instance(schema[key][0], components, depth + 1)
    kind = schema.get("type")
    if kind == "array":
        return [_instance(schema.get("items", {}), components, depth + 1)]
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        return {name: _instance(sub, components, depth + 1) for name, sub in properties.items()}
    simple = {"string": "string", "integer": 1, "number": 1.5, "boolean": True, "null": None}
    return simple.get(str(kind), {})


def _drop_unused(schema: dict[str, Any], names: tuple[str, ...]) -> None:
    components = schema.get("components", {}).get("schemas", {})
    for name in names:
        if name not in components:
            continue
        remaining = {k: v for k, v in schema.items() if k != "components"}
        others = {k: v for k, v in components.items() if k not in names}
        if f"#/components/schemas/{name}" not in str(remaining) + str(others):
            del components[name]

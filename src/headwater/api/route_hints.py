"""What to tell a caller whose request matches no route: the methods a path allows, and the
nearest known path (``did you mean /elements/api-v2/instances``)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any

_PARAM = re.compile(r"\{(\w+)\}")
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_MIN_SEGMENT = 0.6
_MIN_SCORE = 0.8

Paths = Mapping[str, Mapping[str, Any]]
"""The ``paths`` of the OpenAPI description: every documented route and its operations."""


def allowed_methods(paths: Paths, path: str) -> list[str]:
    """Every method some route serves at ``path`` (sorted, HEAD with GET; empty when none)."""
    methods: set[str] = set()
    for template, operations in paths.items():
        if _matches(template, operations, path):
            methods |= {method.upper() for method in operations if method in _METHODS}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def nearest_path(paths: Paths, path: str, base_path: str) -> str | None:
    """The documented path closest to ``path`` (a typo, a trailing slash, a missing base path),
    or None when nothing is close."""
    if not path.startswith(base_path + "/"):
        for template, operations in paths.items():
            if _matches(template, operations, base_path + path):
                return template
    wanted = _segments(path)
    best: tuple[float, str] | None = None
    for template, operations in paths.items():
        score = _score(template, operations, wanted)
        if score >= _MIN_SCORE and (best is None or score > best[0]):
            best = (score, template)
    return best[1] if best else None


def _segments(path: str) -> tuple[str, ...]:
    return tuple(part for part in path.strip("/").split("/") if part)


def _integer_params(operations: Mapping[str, Any]) -> set[str]:
    return {
        parameter.get("name")
        for operation in operations.values()
        if isinstance(operation, Mapping)
        for parameter in operation.get("parameters", ())
        if parameter.get("in") == "path" and parameter.get("schema", {}).get("type") == "integer"
    }


def _matches(template: str, operations: Mapping[str, Any], path: str) -> bool:
    return _score(template, operations, _segments(path)) == 1.0


def _score(template: str, operations: Mapping[str, Any], wanted: Sequence[str]) -> float:
    """1.0 when ``wanted`` fits ``template`` exactly; lower the further it is; 0 when any
    segment is far off."""
    expected_segments = _segments(template)
    if len(expected_segments) != len(wanted) or not wanted:
        return 0.0
    integers = _integer_params(operations)
    total = 0.0
    for expected, given in zip(expected_segments, wanted, strict=True):
        param = _PARAM.fullmatch(expected)
        if param is not None:
            fits = param.group(1) not in integers or given.isdigit()
            similarity = 1.0 if fits else 0.9
        else:
            similarity = difflib.SequenceMatcher(None, expected.lower(), given.lower()).ratio()
            if expected != given and similarity == 1.0:
                similarity = 0.95  # only the case differs
        if similarity < _MIN_SEGMENT:
            return 0.0
        total += similarity
    return total / len(expected_segments)

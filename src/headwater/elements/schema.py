"""The JSON Schema of element declarations, and validation that names file, line and key path.

``element.schema.json`` (draft 2020-12) sits beside this module. A declaration is read with
PyYAML's composer so that every value keeps the line it was written on: a problem reads
``element.yaml:14: resources[1].paging.style: 'cursor' is not one of [...]``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from headwater.errors import ConfigurationError

SCHEMA_FILE = Path(__file__).resolve().parent / "element.schema.json"


@dataclasses.dataclass(frozen=True)
class Problem:
    """One thing wrong with a declaration: where (line, key path) and what."""

    line: int
    path: str  # e.g. resources[1].paging.style; "" for the document itself
    message: str

    def render(self, file: str) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{file}:{self.line}: {where}{self.message}"


class DeclarationError(ConfigurationError):
    """An element declaration is not valid."""

    def __init__(self, file: str, problems: Sequence[Problem]) -> None:
        self.file = file
        self.problems = list(problems)
        super().__init__("\n".join(p.render(file) for p in self.problems))


@functools.cache
def schema() -> dict[str, Any]:
    """The JSON Schema, as a dict."""
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
    return loaded


def text() -> str:
    """The JSON Schema as its file holds it."""
    return SCHEMA_FILE.read_text()


@dataclasses.dataclass(frozen=True)
class Document:
    """A parsed YAML document and the node tree that knows each value's line."""

    data: Any
    root: yaml.Node | None

    def line(self, path: Iterable[str | int]) -> int:
        """The 1-based line of the value at ``path``, or of its nearest ancestor written down."""
        node = self.root
        if node is None:
            return 1
        for step in path:
            child = _child(node, step)
            if child is None:
                break
            node = child
        return node.start_mark.line + 1


def read(file: Path) -> Document:
    """``file`` parsed; a YAML syntax error becomes a ``DeclarationError`` with its line."""
    name = str(file)
    try:
        source = file.read_text()
    except OSError as error:
        raise DeclarationError(
            name, [Problem(1, "", f"cannot be read: {error.strerror}")]
        ) from None
    try:
        root = yaml.compose(source, Loader=yaml.SafeLoader)
        data = yaml.safe_load(source)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = " ".join(str(part) for part in (error.context, error.problem) if part)
        raise DeclarationError(name, [Problem(line, "", f"is not YAML: {problem}")]) from None
    except yaml.YAMLError as error:
        raise DeclarationError(name, [Problem(1, "", f"is not YAML: {error}")]) from None
    return Document(data, root)


def problems(document: Document) -> list[Problem]:
    """What the schema finds wrong with ``document``, in line order."""
    validator = jsonschema.Draft202012Validator(schema())
    found = [
        _problem(document, error)
        for error in validator.iter_errors(document.data)
        # a failed if/then already reports what its "then" misses
        if error.validator != "if"
    ]
    return sorted(set(found), key=lambda p: (p.line, p.path, p.message))


def key_path(path: Iterable[str | int]) -> str:
    """``resources[1].paging.style`` for ``["resources", 1, "paging", "style"]``."""
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            text += f".{step}" if text else str(step)
    return text


def _problem(document: Document, error: jsonschema.ValidationError) -> Problem:
    path = list(error.absolute_path)
    message = error.message
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        if extra and allowed:
            # point at the unknown key itself, and say what is known there
            path = [*path, extra[0]]
            message = f"unknown key; expected one of {allowed}"
    elif error.validator == "not" and error.validator_value == {"const": "baseUrl"}:
        message = "'baseUrl' is not a name for another URL"
    elif error.validator == "pattern":
        message = f"{error.instance!r} does not have the expected form ({error.validator_value})"
    return Problem(document.line(path), key_path(path), message)


def _child(node: yaml.Node, step: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode) and isinstance(step, str):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == step:
                return value  # type: ignore[no-any-return]
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int):
        items = node.value
        return items[step] if 0 <= step < len(items) else None
    return None

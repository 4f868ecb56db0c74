"""Imports point inward: domain ← services ← adapters ← entry points (DESIGN.md §5)."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "headwater"

ENTRY_POINTS = {"api", "ui", "cli", "runtime", "demo", "bootstrap", "metrics_server"}
SERVICES = {"poller", "delivery", "instances"}
ADAPTERS = {"storage", "elements", "sandbox"}

# what each layer may not import (top-level names under headwater)
FORBIDDEN = {
    "domain": ENTRY_POINTS | SERVICES | ADAPTERS | {"settings", "metrics"},
    "storage": ENTRY_POINTS | SERVICES | {"sandbox"},
    "elements": ENTRY_POINTS | SERVICES | {"sandbox", "storage"},
    "sandbox": ENTRY_POINTS | SERVICES | {"storage", "elements"},
    "poller": ENTRY_POINTS,
    "delivery": ENTRY_POINTS,
    "instances": ENTRY_POINTS,
    "api": {"cli", "runtime", "demo"},
}


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _layer(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_inward(path: Path) -> None:
    layer = _layer(path)
    forbidden = FORBIDDEN.get(layer, set())
    bad = sorted(
        name
        for name in _imports(path)
        if name.startswith("headwater.") and name.split(".")[1] in forbidden
    )
    assert bad == [], f"{path.relative_to(SRC)} ({layer}) imports outward: {bad}"


@pytest.mark.parametrize("path", sorted((SRC / "domain").glob("*.py")), ids=lambda p: p.name)
def test_domain_uses_only_the_standard_library(path: Path) -> None:
    outside = sorted(
        name
        for name in _imports(path)
        if name.split(".")[0] not in sys.stdlib_module_names
        and name.split(".")[0] != "__future__"
        and not name.startswith(("headwater.domain", "headwater.errors"))
        and name != "headwater"
    )
    assert outside == [], f"domain/{path.name} imports outside the standard library: {outside}"


# -- providers are known only through the element interface (DESIGN.md §7) -----------------

ELEMENTS = SRC / "elements"
PROVIDER_KEYS = sorted(p.parent.name for p in ELEMENTS.glob("*/element.yaml"))
# the sandboxes are providers' stand-ins, and the CLI's `sandbox <key>` commands and the demo
# start them by name; nothing else may
MAY_NAME_PROVIDERS = {"sandbox", "cli", "demo"}


def _strings(tree: ast.AST) -> list[str]:
    """Every string constant in ``tree`` but docstrings."""
    docstrings = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                docstrings.add(id(value))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def _outside_providers() -> list[Path]:
    return [
        path
        for path in _modules()
        if _layer(path) not in MAY_NAME_PROVIDERS
        and not (
            path.is_relative_to(ELEMENTS) and path.relative_to(ELEMENTS).parts[0] in PROVIDER_KEYS
        )
    ]


def test_the_package_ships_elements() -> None:
    assert "acton" in PROVIDER_KEYS


@pytest.mark.parametrize("path", _outside_providers(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_outside_an_element_names_a_provider(path: Path) -> None:
    imported = sorted(
        name
        for name in _imports(path)
        if any(name.startswith(f"headwater.elements.{key}") for key in PROVIDER_KEYS)
    )
    assert imported == [], f"{path.relative_to(SRC)} imports a provider's package: {imported}"
    tree = ast.parse(path.read_text())
    named = sorted(
        {
            key
            for text in _strings(tree)
            for key in PROVIDER_KEYS
            if re.search(rf"(?<![A-Za-z0-9_]){re.escape(key)}(?![A-Za-z0-9_])", text)
        }
    )
    assert named == [], f"{path.relative_to(SRC)} names provider(s) {named} in its code"


# readiness reads the migration head and probes a write itself: that is its job
ROUTES_WITH_STORAGE = {"health.py"}


@pytest.mark.parametrize(
    "path", sorted((SRC / "api" / "routes").glob("*.py")), ids=lambda p: p.name
)
def test_routes_reach_the_database_only_through_services(path: Path) -> None:
    if path.name in ROUTES_WITH_STORAGE:
        return
    text = path.read_text()
    storage = sorted(name for name in _imports(path) if name.startswith("headwater.storage"))
    assert storage == [], f"api/routes/{path.name} imports storage: {storage}"
    assert ".engine" not in text, f"api/routes/{path.name} uses the engine itself"

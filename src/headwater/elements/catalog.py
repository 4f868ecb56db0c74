"""The element catalog as people read it: what ``headwater elements list | show | validate |
schema`` print. Each function returns text; the command line prints it."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

from headwater.elements import declaration, declaration_loader, registry, schema


def table(catalog: registry.Registry) -> str:
    """One line per element: key, name, hub and event methods, in aligned columns."""
    rows = [("KEY", "NAME", "HUB", "EVENTS")]
    for one in catalog.all():
        methods = ",".join(one.declaration.events.methods) or "-"
        rows.append((one.key, one.name, one.hub_key, methods))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        + f"  {row[3]}\n"
        for row in rows
    )


def show(catalog: registry.Registry, key: str) -> str:
    """The declaration of element ``key`` as YAML: its file as written (comments and all),
    after comment lines saying where it was read from and which settings move its URLs.
    ``NotFoundError`` when there is no such element."""
    one = catalog.get(key)
    found = one.declaration
    head: list[str] = []
    text = yaml.safe_dump(dict(found.source), sort_keys=False, allow_unicode=True, width=100)
    if found.folder is not None:
        file = found.folder / declaration.FILE_NAME
        head.append(f"# {file}")
        text = file.read_text()
    if one.base_url != found.base_url.rstrip("/"):
        head.append(f"# api.baseUrl is {one.base_url} here (HEADWATER_{key.upper()}_BASE_URL)")
    for name, url in one.urls.items():
        if url != found.urls[name].rstrip("/"):
            head.append(f"# api.urls.{name} is {url} here ({registry.url_setting(key, name)})")
    return "".join(f"{line}\n" for line in head) + text


def validate(paths: Iterable[Path]) -> tuple[bool, str]:
    """Whether every declaration at ``paths`` (files, element folders, or folders of them) is
    valid, and the report: ``<file>: ok`` per valid one, each problem with its line and key."""
    lines: list[str] = []
    valid = True
    for path in paths:
        files = _files(path)
        if not files:
            valid = False
            lines.append(f"{path}: no {declaration.FILE_NAME} here")
        for file in files:
            try:
                declaration_loader.load(file)
            except schema.DeclarationError as error:
                valid = False
                lines.append(error.message)
            else:
                lines.append(f"{file}: ok")
    return valid, "\n".join(lines) + "\n"


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if (path / declaration.FILE_NAME).is_file():
        return [path / declaration.FILE_NAME]
    if path.is_dir():
        return sorted(path.glob(f"*/{declaration.FILE_NAME}"))
    return []

"""The element catalog: the elements shipped in the package, and those in
``HEADWATER_ELEMENTS_PATH``, each built from its declaration and the settings that override it.

Each element's API base URL comes from ``HEADWATER_<KEY>_BASE_URL`` when set, else from its
declaration; each other URL it names in ``api.urls`` (``login``) from
``HEADWATER_<KEY>_<NAME>_URL`` (``HEADWATER_MAILCHIMP_LOGIN_URL``; ``authServer`` reads
``…_AUTH_SERVER_URL``); its calls per second per instance from
``HEADWATER_<KEY>_RATE_PER_SECOND``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from headwater.elements import declaration, declaration_loader, element
from headwater.errors import ConfigurationError, NotFoundError

BUILT_IN = Path(__file__).resolve().parent


class Registry:
    """Every element this server knows, by key."""

    def __init__(self, elements: Iterable[element.Element]) -> None:
        self._elements: dict[str, element.Element] = {}
        for one in elements:
            if one.key in self._elements:
                raise ConfigurationError(f"two elements have the key {one.key!r}")
            self._elements[one.key] = one

    def get(self, key: str) -> element.Element:
        """The element ``key``; NotFoundError when there is none."""
        try:
            return self._elements[key]
        except KeyError:
            raise NotFoundError(f"No element with key {key!r}.") from None

    def find(self, key_or_id: str) -> element.Element:
        """The element whose key (or numeric id) is ``key_or_id``; NotFoundError naming it."""
        if key_or_id in self._elements:
            return self._elements[key_or_id]
        for one in self._elements.values():
            if key_or_id == str(one.id):
                return one
        raise NotFoundError(f"No element with key or id {key_or_id!r}.")

    def all(self) -> list[element.Element]:
        return sorted(self._elements.values(), key=lambda one: one.key)


def declaration_folders(extra: Iterable[Path] = ()) -> list[Path]:
    """The folders holding an ``element.yaml``: the package's, then each folder of ``extra``
    (itself an element's folder, or a folder of element folders)."""
    found = sorted(p.parent for p in BUILT_IN.glob(f"*/{declaration.FILE_NAME}"))
    for folder in extra:
        if (folder / declaration.FILE_NAME).is_file():
            found.append(folder)
        elif folder.is_dir():
            found.extend(sorted(p.parent for p in folder.glob(f"*/{declaration.FILE_NAME}")))
        else:
            raise ConfigurationError(f"HEADWATER_ELEMENTS_PATH names {folder}, which is no folder")
    return found


def build(
    overrides: Mapping[str, str] | None = None, *, extra_paths: Iterable[Path] = ()
) -> Registry:
    """The catalog, with each element's ``HEADWATER_<KEY>_*`` settings from ``overrides``."""
    settings = dict(overrides or {})
    return Registry(
        configure(declaration_loader.load(folder), settings)
        for folder in declaration_folders(extra_paths)
    )


def configure(declared: declaration.Declaration, settings: Mapping[str, str]) -> element.Element:
    """The element of ``declared``, with its settings applied."""
    prefix = f"HEADWATER_{declared.key.upper()}_"
    base_url = settings.get(prefix + "BASE_URL", "").strip() or declared.base_url
    rate = declared.rate_per_second
    raw_rate = settings.get(prefix + "RATE_PER_SECOND", "").strip()
    if raw_rate:
        try:
            rate = float(raw_rate)
        except ValueError:
            rate = math.nan
        if not math.isfinite(rate) or rate <= 0:
            raise ConfigurationError(
                f"{prefix}RATE_PER_SECOND={raw_rate!r} must be a number greater than 0"
            )
    urls = {
        name: (settings.get(url_setting(declared.key, name), "").strip() or url).rstrip("/")
        for name, url in declared.urls.items()
    }
    return element.Element(declared, base_url=base_url.rstrip("/"), rate_per_second=rate, urls=urls)


def url_setting(key: str, name: str) -> str:
    """The setting that overrides the URL ``name`` of element ``key``: ``login`` of
    ``mailchimp`` is ``HEADWATER_MAILCHIMP_LOGIN_URL``."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()
    return f"HEADWATER_{key.upper()}_{words}_URL"

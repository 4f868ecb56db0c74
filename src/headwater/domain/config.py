"""Instance configuration: validation into one canonical form, and the poller resources in it.

:func:`normalize` checks every key of an instance's configuration at once and returns the canonical
dictionary (booleans as ``bool``, intervals as ``float`` minutes, the poller configuration as an
object, the retry schedule as a list of ``float`` seconds). Every problem is reported together in
one :class:`~headwater.errors.InputError`, each named by the key as the user wrote it. Keys outside
``event.*`` belong to the element and are kept as given.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from typing import Protocol

from headwater.domain import callbacks, dates, paths, variables
from headwater.errors import InputError

SECRET_KEYS = frozenset(
    {"oauth.api.secret", "event.notification.signature.key", "event.vendor.signature.key"}
)
"""Keys whose values are encrypted at rest and never echoed back."""

VENDOR_TYPES = ("polling", "webhooks")
DEFAULT_REFRESH_MINUTES = 15.0
MIN_KEY_LENGTH = 16
MAX_PAGE_SIZE = 1000

_POLLER_CONFIGURATION = "event.poller.configuration"
_RESOURCE_KEYS = frozenset(
    {
        "url",
        "idField",
        "datesConfiguration",
        "filterByUpdatedDate",
        "filterByCurrentDate",
        "createdCheckTolerance",
        "pollDelay",
        "pageSize",
        "backfillFrom",
    }
)
# Cloud Elements' own docs spell it this way once; configurations copied from there keep working.
_RESOURCE_ALIASES = {"filterByUpdateDate": "filterByUpdatedDate"}
_DATE_KEYS = frozenset(
    {
        "updatedDateField",
        "updatedDateFormat",
        "updatedDateTimezone",
        "createdDateField",
        "createdDateFormat",
        "createdDateTimezone",
    }
)

Problems = list[tuple[str, str]]


class ElementLike(Protocol):
    """What normalization needs to know of an element."""

    @property
    def event_methods(self) -> frozenset[str]: ...


@dataclasses.dataclass(frozen=True)
class Resource:
    """One resource of ``event.poller.configuration``, with every default applied."""

    name: str
    url: str
    id_field: str
    updated_field: str | None = None
    updated_format: str | None = None
    updated_tz: str | None = None
    created_field: str | None = None
    created_format: str | None = None
    created_tz: str | None = None
    filter_by_updated_date: bool = True
    filter_by_current_date: bool = False
    created_check_tolerance: float = 0.0
    page_size: int | None = None
    poll_delay: float = 0.0
    backfill_from_ms: int | None = None

    def fingerprint(self) -> str:
        """A hash of what defines the query; when it changes the poller's cursor starts afresh."""
        defining = [
            self.url,
            self.id_field,
            self.updated_field,
            self.updated_format,
            self.updated_tz,
            self.created_field,
            self.created_format,
            self.created_tz,
            self.filter_by_updated_date,
            self.filter_by_current_date,
        ]
        return hashlib.sha256(json.dumps(defining).encode()).hexdigest()


def normalize(
    raw: Mapping[str, object],
    *,
    element: ElementLike,
    min_refresh_seconds: float,
    allow_private_callbacks: bool,
    prefix: str = "configuration",
) -> dict[str, object]:
    """The canonical form of ``raw``; raises InputError listing every problem found.

    A ``null`` value counts as absent. ``event.notification.enabled`` is always present in the
    result. With notifications enabled, ``event.vendor.type`` defaults to ``polling`` (when the
    element supports it) and a polling instance gets ``event.poller.refresh_interval`` (15 minutes,
    or the server's minimum when that is larger).
    """
    problems: Problems = []

    def field(key: str) -> str:
        return f"{prefix}.{key}" if prefix else key

    out: dict[str, object] = {}
    for key, value in raw.items():
        checker = _CHECKERS.get(key)
        if value is None:
            continue
        if checker is not None:
            try:
                out[key] = checker(value, field(key), problems)
            except _Invalid as exc:
                problems.append((field(key), str(exc)))
        elif key.startswith("event."):
            problems.append((field(key), f"unknown configuration key '{key}'"))
        else:
            out[key] = value

    def require(key: str, problem: str) -> None:
        if key not in out and not _named(problems, field(key)):
            problems.append((field(key), problem))

    enabled = out.setdefault("event.notification.enabled", False)
    methods = _methods(element)
    vendor_type = out.get("event.vendor.type")
    if vendor_type is not None and vendor_type not in methods:
        owner = getattr(element, "key", None)
        problems.append(
            (
                field("event.vendor.type"),
                f"event method '{vendor_type}' is not supported by "
                + (f"element '{owner}'" if isinstance(owner, str) else "this element")
                + f" (supported: {', '.join(sorted(methods)) or 'none'})",
            )
        )
    if enabled and methods and raw.get("event.vendor.type") is None:
        vendor_type = out["event.vendor.type"] = "polling" if "polling" in methods else min(methods)

    minimum = min_refresh_seconds / 60.0
    interval = out.get("event.poller.refresh_interval")
    if isinstance(interval, float) and interval < minimum:
        problems.append(
            (
                field("event.poller.refresh_interval"),
                f"must be at least {minimum:g} minute{'' if minimum == 1 else 's'}"
                f" ({min_refresh_seconds:g} seconds, this server's minimum)",
            )
        )
    if enabled:
        require("event.notification.callback.url", "is required when notifications are enabled")
    if enabled and vendor_type == "polling":
        if not out.get(_POLLER_CONFIGURATION):
            out.pop(_POLLER_CONFIGURATION, None)
            require(_POLLER_CONFIGURATION, "polling needs at least one resource")
        out.setdefault("event.poller.refresh_interval", max(DEFAULT_REFRESH_MINUTES, minimum))

    callback = out.get("event.notification.callback.url")
    if callback is not None:
        problem = callbacks.check_url(callback, allow_private=allow_private_callbacks)
        if problem is not None:
            problems.append((field("event.notification.callback.url"), problem))

    if problems:
        raise InputError(problems=problems)
    return out


def resources(canonical: Mapping[str, object]) -> dict[str, Resource]:
    """The poller resources of a configuration that :func:`normalize` returned, by name."""
    found: dict[str, Resource] = {}
    for name, value in _mapping(canonical.get(_POLLER_CONFIGURATION)).items():
        spec = _mapping(value)
        when = _mapping(spec.get("datesConfiguration"))
        backfill = spec.get("backfillFrom")
        page_size = spec.get("pageSize")
        found[name] = Resource(
            name=name,
            url=str(spec["url"]),
            id_field=str(spec["idField"]),
            updated_field=_optional(when.get("updatedDateField")),
            updated_format=_optional(when.get("updatedDateFormat")),
            updated_tz=_optional(when.get("updatedDateTimezone")),
            created_field=_optional(when.get("createdDateField")),
            created_format=_optional(when.get("createdDateFormat")),
            created_tz=_optional(when.get("createdDateTimezone")),
            filter_by_updated_date=spec.get("filterByUpdatedDate", True) is True,
            filter_by_current_date=spec.get("filterByCurrentDate", False) is True,
            created_check_tolerance=_float(spec.get("createdCheckTolerance", 0.0)),
            page_size=None if page_size is None else int(_float(page_size)),
            poll_delay=_float(spec.get("pollDelay", 0.0)),
            backfill_from_ms=None
            if backfill is None
            else dates.to_ms(dates.parse(backfill, None, None)),
        )
    return found


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _optional(value: object) -> str | None:
    return None if value is None else str(value)


# --- checkers: each returns the canonical value or raises _Invalid (or appends nested problems) ---


class _Invalid(ValueError):
    pass


def _named(problems: Problems, name: str) -> bool:
    return any(found == name or found.startswith(name + ".") for found, _ in problems)


def _methods(element: ElementLike) -> frozenset[str]:
    return frozenset("webhooks" if m == "webhook" else m for m in element.event_methods)


def _string(value: object, name: str, problems: Problems) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid("must be a non-empty string")
    return value


def _url(value: object, name: str, problems: Problems) -> str:
    problem = callbacks.check_absolute_url(value)
    if problem is not None:
        raise _Invalid(problem)
    assert isinstance(value, str)
    return value.strip()


def _bool(value: object, name: str, problems: Problems) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _Invalid(f"must be true or false, not {_show(value)}")


def _float(value: object) -> float:
    """A finite number from a number or a numeric string; raises _Invalid."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Invalid(f"must be a number, not {_show(value)}")
    try:
        number = float(value)
    except ValueError:
        raise _Invalid(f"must be a number, not {_show(value)}") from None
    if not math.isfinite(number):
        raise _Invalid(f"must be a finite number, not {_show(value)}")
    return number


def _minutes(value: object, name: str, problems: Problems) -> float:
    number = _float(value)
    if number <= 0:
        raise _Invalid(f"must be a number of minutes greater than 0, not {_show(value)}")
    return number


def _seconds(value: object) -> float:
    number = _float(value)
    if number < 0:
        raise _Invalid(f"must be a number of seconds, 0 or more, not {_show(value)}")
    return number


def _vendor_type(value: object, name: str, problems: Problems) -> str:
    text = value.strip().lower() if isinstance(value, str) else None
    if text == "webhook":
        text = "webhooks"
    if text not in VENDOR_TYPES:
        raise _Invalid(f"must be 'polling' or 'webhooks', not {_show(value)}")
    return text


def _key(value: object, name: str, problems: Problems) -> str:
    if not isinstance(value, str):
        raise _Invalid("must be a string")
    if len(value) < MIN_KEY_LENGTH:
        raise _Invalid(f"must be at least {MIN_KEY_LENGTH} characters long")
    return value


def _finder(value: object, name: str, problems: Problems) -> str:
    parts = value.split("|") if isinstance(value, str) else []
    if len(parts) != 2 or not all(p.strip() and p == p.strip() for p in parts):
        raise _Invalid(
            f"must be written 'configKey|bodyPath', e.g. 'site.id|data.site_id', not {_show(value)}"
        )
    problem = paths.validate(parts[1])
    if problem is not None:
        raise _Invalid(f"body path {problem}")
    return str(value)


def _schedule(value: object, name: str, problems: Problems) -> list[float]:
    items: list[object]
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except ValueError:
                raise _Invalid("must be a list of seconds such as '4,16,64'") from None
            items = parsed if isinstance(parsed, list) else [parsed]
        else:
            items = [part.strip() for part in text.split(",")] if text else []
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise _Invalid(
            f"must be a list of seconds such as [4, 16, 64] or '4,16,64', not {_show(value)}"
        )
    try:
        return [_seconds(item) for item in items]
    except _Invalid as exc:
        raise _Invalid(f"each delay {exc}") from None


def _poller_configuration(value: object, name: str, problems: Problems) -> dict[str, object]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise _Invalid(
                f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from None
    if not isinstance(value, Mapping):
        raise _Invalid('must be an object of resources, e.g. {"contacts": {"url": …}}')
    out: dict[str, object] = {}
    for resource, spec in value.items():
        where = f"{name}.{resource}"
        if not isinstance(resource, str) or not resource.strip():
            problems.append((where, "a resource needs a non-empty name"))
            continue
        if not isinstance(spec, Mapping):
            problems.append((where, "must be an object with at least 'url' and 'idField'"))
            continue
        out[resource] = _resource(spec, where, problems)
    return out


def _resource(spec: Mapping[str, object], where: str, problems: Problems) -> dict[str, object]:
    out: dict[str, object] = {}
    for raw_key, value in spec.items():
        key = _RESOURCE_ALIASES.get(raw_key, raw_key)
        name = f"{where}.{raw_key}"
        if key not in _RESOURCE_KEYS:
            known = ", ".join(sorted(_RESOURCE_KEYS))
            problems.append((name, f"unknown resource option '{raw_key}' (known: {known})"))
            continue
        if value is None:
            continue
        try:
            out[key] = _RESOURCE_CHECKERS[key](value, name, problems)
        except _Invalid as exc:
            problems.append((name, str(exc)))
    for required in ("url", "idField"):
        if required not in out and not _named(problems, f"{where}.{required}"):
            problems.append((f"{where}.{required}", "is required"))
    return out


def _hub_url(value: object, name: str, problems: Problems) -> str:
    if not isinstance(value, str) or not value.startswith("/hubs/"):
        raise _Invalid(f"must be a hub URL starting with /hubs/, not {_show(value)}")
    found = variables.validate(value)
    if found:
        raise _Invalid("; ".join(found))
    return value


def _dotted(value: object, name: str, problems: Problems) -> str:
    problem = paths.validate(value)
    if problem is not None:
        raise _Invalid(problem)
    assert isinstance(value, str)
    return value


def _dates_configuration(value: object, name: str, problems: Problems) -> dict[str, object]:
    if not isinstance(value, Mapping):
        raise _Invalid("must be an object")
    out: dict[str, object] = {}
    for key, item in value.items():
        where = f"{name}.{key}"
        if key not in _DATE_KEYS:
            known = ", ".join(sorted(_DATE_KEYS))
            problems.append((where, f"unknown date option '{key}' (known: {known})"))
            continue
        if item is None:
            continue
        try:
            if key.endswith("Field"):
                out[key] = _dotted(item, where, problems)
            elif key.endswith("Format"):
                out[key] = _date_format(item)
            else:
                out[key] = _zone(item)
        except _Invalid as exc:
            problems.append((where, str(exc)))
    return out


def _date_format(value: object) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"must be a date format string, not {_show(value)}")
    problem = dates.validate_format(value)
    if problem is not None:
        raise _Invalid(problem)
    return value


def _zone(value: object) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"must be a time zone name such as 'America/New_York', not {_show(value)}")
    try:
        dates.zone(value)
    except ValueError as exc:
        raise _Invalid(str(exc)) from None
    return value


def _page_size(value: object, name: str, problems: Problems) -> int:
    number = _float(value)
    if not number.is_integer() or not 1 <= number <= MAX_PAGE_SIZE:
        raise _Invalid(f"must be a whole number from 1 to {MAX_PAGE_SIZE}, not {_show(value)}")
    return int(number)


def _backfill(value: object, name: str, problems: Problems) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Invalid("must be an ISO-8601 date-time or epoch milliseconds")
    try:
        dates.parse(value, None, None)
    except ValueError:
        raise _Invalid(
            f"must be an ISO-8601 date-time or epoch milliseconds, not {_show(value)}"
        ) from None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def _show(value: object) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


_CHECKERS = {
    "oauth.api.key": _string,
    "oauth.api.secret": _string,
    "oauth.callback.url": _url,
    "event.notification.enabled": _bool,
    "event.vendor.type": _vendor_type,
    "event.notification.callback.url": _url,
    "event.notification.signature.key": _key,
    "event.vendor.signature.key": _key,
    "event.poller.refresh_interval": _minutes,
    _POLLER_CONFIGURATION: _poller_configuration,
    "event.poller.reconcile_interval": _minutes,
    "event.notification.instance.finder": _finder,
    "event.notification.retry.schedule": _schedule,
}

_RESOURCE_CHECKERS = {
    "url": _hub_url,
    "idField": _dotted,
    "datesConfiguration": _dates_configuration,
    "filterByUpdatedDate": _bool,
    "filterByCurrentDate": _bool,
    "createdCheckTolerance": lambda value, name, problems: _seconds(value),
    "pollDelay": lambda value, name, problems: _seconds(value),
    "pageSize": _page_size,
    "backfillFrom": _backfill,
}

"""The poller resources of an instance configuration: their validation and :class:`Resource`.

``event.poller.configuration`` is an object of resources by name, each a hub URL with its id
field, date fields and filters. :func:`check` validates it as :func:`config.normalize` does every
key; :func:`read` turns the canonical form into :class:`Resource` values with defaults applied.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping

from headwater.domain import checks, dates, json_depth, paths, variables, zones

KEY = "event.poller.configuration"
MAX_PAGE_SIZE = 1000
MAX_SECONDS = 31 * 86_400.0
"""The longest ``pollDelay`` and ``createdCheckTolerance``: 31 days."""
LAST_BACKFILL_MS = 253_370_764_800_000
"""``backfillFrom`` starts before 9999-01-01, so that a cursor never runs off the calendar."""

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


def read(canonical: Mapping[str, object]) -> dict[str, Resource]:
    """The poller resources of a configuration that ``config.normalize`` returned, by name."""
    found: dict[str, Resource] = {}
    for name, value in _mapping(canonical.get(KEY)).items():
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
            created_check_tolerance=_stored_seconds(spec.get("createdCheckTolerance", 0.0)),
            page_size=None if page_size is None else int(checks.number(page_size)),
            poll_delay=_stored_seconds(spec.get("pollDelay", 0.0)),
            backfill_from_ms=None
            if backfill is None
            else dates.to_ms(dates.parse(backfill, None, None)),
        )
    return found


def _stored_seconds(value: object) -> float:
    # a configuration stored before these were bounded may hold any number: capped, it cannot
    # overflow the poll window
    return min(checks.number(value), MAX_SECONDS)


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _optional(value: object) -> str | None:
    return None if value is None else str(value)


# --- checkers (see :mod:`checks`) ---


def check(value: object, name: str, problems: checks.Problems) -> dict[str, object]:
    """The checker of ``event.poller.configuration`` (an object, or that object as JSON text)."""
    if isinstance(value, str):
        if json_depth.too_deep(value):
            raise checks.Invalid(f"is not acceptable: {json_depth.problem()}")
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise checks.Invalid(
                f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from None
    if not isinstance(value, Mapping):
        raise checks.Invalid('must be an object of resources, e.g. {"contacts": {"url": …}}')
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


def _resource(
    spec: Mapping[str, object], where: str, problems: checks.Problems
) -> dict[str, object]:
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
        except checks.Invalid as exc:
            problems.append((name, str(exc)))
    for required in ("url", "idField"):
        if required not in out and not checks.named(problems, f"{where}.{required}"):
            problems.append((f"{where}.{required}", "is required"))
    return out


def _hub_url(value: object, name: str, problems: checks.Problems) -> str:
    if not isinstance(value, str) or not value.startswith("/hubs/"):
        raise checks.Invalid(f"must be a hub URL starting with /hubs/, not {checks.show(value)}")
    found = variables.validate(value)
    if found:
        raise checks.Invalid("; ".join(found))
    return value


def _dotted(value: object, name: str, problems: checks.Problems) -> str:
    problem = paths.validate(value)
    if problem is not None:
        raise checks.Invalid(problem)
    assert isinstance(value, str)
    return value


def _dates_configuration(value: object, name: str, problems: checks.Problems) -> dict[str, object]:
    if not isinstance(value, Mapping):
        raise checks.Invalid("must be an object")
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
        except checks.Invalid as exc:
            problems.append((where, str(exc)))
    return out


def _date_format(value: object) -> str:
    if not isinstance(value, str):
        raise checks.Invalid(f"must be a date format string, not {checks.show(value)}")
    problem = dates.validate_format(value)
    if problem is not None:
        raise checks.Invalid(problem)
    return value


def _zone(value: object) -> str:
    if not isinstance(value, str):
        raise checks.Invalid(
            f"must be a time zone name such as 'America/New_York', not {checks.show(value)}"
        )
    try:
        zones.zone(value)
    except ValueError as exc:
        raise checks.Invalid(str(exc)) from None
    return value


def _page_size(value: object, name: str, problems: checks.Problems) -> int:
    number = checks.number(value)
    if not number.is_integer() or not 1 <= number <= MAX_PAGE_SIZE:
        raise checks.Invalid(
            f"must be a whole number from 1 to {MAX_PAGE_SIZE}, not {checks.show(value)}"
        )
    return int(number)


def _backfill(value: object, name: str, problems: checks.Problems) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise checks.Invalid("must be an ISO-8601 date-time or epoch milliseconds")
    try:
        start_ms = dates.to_ms(dates.parse(value, None, None))
    except (ValueError, OverflowError):
        raise checks.Invalid(
            f"must be an ISO-8601 date-time or epoch milliseconds, not {checks.show(value)}"
        ) from None
    if not 0 <= start_ms < LAST_BACKFILL_MS:
        raise checks.Invalid(
            f"must be from 1970-01-01T00:00:00Z to before 9999-01-01, not {checks.show(value)}"
        )
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


_RESOURCE_CHECKERS = {
    "url": _hub_url,
    "idField": _dotted,
    "datesConfiguration": _dates_configuration,
    "filterByUpdatedDate": checks.boolean,
    "filterByCurrentDate": checks.boolean,
    "createdCheckTolerance": lambda value, name, problems: checks.seconds(value, most=MAX_SECONDS),
    "pollDelay": lambda value, name, problems: checks.seconds(value, most=MAX_SECONDS),
    "pageSize": _page_size,
    "backfillFrom": _backfill,
}

"""Instance configuration: validation into one canonical form.

:func:`normalize` checks every key of an instance's configuration at once and returns the canonical
dictionary (booleans as ``bool``, intervals as ``float`` minutes, the poller configuration as an
object, the retry schedule as a list of ``float`` seconds). Every problem is reported together in
one :class:`~headwater.errors.InputError`, each named by the key as the user wrote it. Keys outside
``event.*`` belong to the element and are kept as given. The poller resources in a configuration
are :mod:`headwater.domain.resources`; ``Resource`` and ``resources`` here are its names for them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Protocol

from headwater.domain import callbacks, checks, json_depth, paths, retry
from headwater.domain import resources as _resources
from headwater.errors import InputError

SECRET_KEYS = frozenset(
    {"oauth.api.secret", "event.notification.signature.key", "event.vendor.signature.key"}
)
"""Keys whose values are encrypted at rest and never echoed back."""

VENDOR_TYPES = ("polling", "webhooks")
NOTIFICATION_TYPES = ("webhook",)
DEFAULT_REFRESH_MINUTES = 15.0
SAFETY_NET_MINUTES = 60.0
"""How often a webhooks instance with a poller configuration polls by default: a safety net."""
MAX_MINUTES = 31 * 24 * 60.0
"""The longest refresh or reconcile interval: 31 days."""
MIN_KEY_LENGTH = 16

Resource = _resources.Resource
resources = _resources.read


class ElementLike(Protocol):
    """What normalization needs to know of an element."""

    @property
    def event_methods(self) -> frozenset[str]: ...


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
    or the server's minimum when that is larger). A webhooks instance that also gives a poller
    configuration polls as a safety net, every hour unless it says otherwise.
    """
    problems: checks.Problems = []

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
            except checks.Invalid as exc:
                problems.append((field(key), str(exc)))
        elif key.startswith("event."):
            problems.append((field(key), f"unknown configuration key '{key}'"))
        else:
            out[key] = value

    def require(key: str, problem: str) -> None:
        if key not in out and not checks.named(problems, field(key)):
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
        if not out.get(_resources.KEY):
            out.pop(_resources.KEY, None)
            require(_resources.KEY, "polling needs at least one resource")
        out.setdefault("event.poller.refresh_interval", max(DEFAULT_REFRESH_MINUTES, minimum))
    if enabled and vendor_type == "webhooks" and out.get(_resources.KEY):
        out.setdefault("event.poller.refresh_interval", max(SAFETY_NET_MINUTES, minimum))

    callback = out.get("event.notification.callback.url")
    if callback is not None:
        problem = callbacks.check_url(callback, allow_private=allow_private_callbacks)
        if problem is not None:
            problems.append((field("event.notification.callback.url"), problem))

    if problems:
        raise InputError(problems=problems)
    return out


def _methods(element: ElementLike) -> frozenset[str]:
    return frozenset("webhooks" if m == "webhook" else m for m in element.event_methods)


# --- checkers (see :mod:`checks`) ---


def _string(value: object, name: str, problems: checks.Problems) -> str:
    if not isinstance(value, str) or not value.strip():
        raise checks.Invalid("must be a non-empty string")
    return value


def _url(value: object, name: str, problems: checks.Problems) -> str:
    problem = callbacks.check_absolute_url(value)
    if problem is not None:
        raise checks.Invalid(problem)
    assert isinstance(value, str)
    return value.strip()


def _minutes(value: object, name: str, problems: checks.Problems) -> float:
    number = checks.number(value)
    if not 0 < number <= MAX_MINUTES:
        raise checks.Invalid(
            f"must be a number of minutes greater than 0 and at most {MAX_MINUTES:g}"
            f" (31 days), not {checks.show(value)}"
        )
    return number


def _vendor_type(value: object, name: str, problems: checks.Problems) -> str:
    text = value.strip().lower() if isinstance(value, str) else None
    if text == "webhook":
        text = "webhooks"
    if text not in VENDOR_TYPES:
        raise checks.Invalid(f"must be 'polling' or 'webhooks', not {checks.show(value)}")
    return text


def _notification_type(value: object, name: str, problems: checks.Problems) -> str:
    text = value.strip().lower() if isinstance(value, str) else None
    if text not in NOTIFICATION_TYPES:
        raise checks.Invalid(
            f"must be 'webhook' (the only notification type), not {checks.show(value)}"
        )
    return text


def _key(value: object, name: str, problems: checks.Problems) -> str:
    if not isinstance(value, str):
        raise checks.Invalid("must be a string")
    if len(value) < MIN_KEY_LENGTH:
        raise checks.Invalid(f"must be at least {MIN_KEY_LENGTH} characters long")
    return value


def _finder(value: object, name: str, problems: checks.Problems) -> str:
    parts = value.split("|") if isinstance(value, str) else []
    if len(parts) != 2 or not all(p.strip() and p == p.strip() for p in parts):
        raise checks.Invalid(
            "must be written 'configKey|bodyPath', e.g. 'site.id|data.site_id',"
            f" not {checks.show(value)}"
        )
    problem = paths.validate(parts[1])
    if problem is not None:
        raise checks.Invalid(f"body path {problem}")
    return str(value)


def _schedule(value: object, name: str, problems: checks.Problems) -> list[float]:
    items: list[object]
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            if json_depth.too_deep(text):
                raise checks.Invalid(f"is not acceptable: {json_depth.problem()}")
            try:
                parsed = json.loads(text)
            except ValueError:
                raise checks.Invalid("must be a list of seconds such as '4,16,64'") from None
            items = parsed if isinstance(parsed, list) else [parsed]
        else:
            items = [part.strip() for part in text.split(",")] if text else []
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise checks.Invalid(
            f"must be a list of seconds such as [4, 16, 64] or '4,16,64', not {checks.show(value)}"
        )
    try:
        delays = [checks.number(item) for item in items]
    except checks.Invalid as exc:
        raise checks.Invalid(f"each delay {exc}") from None
    problem = retry.schedule_problem(delays)
    if problem is not None:
        raise checks.Invalid(problem)
    return delays


_CHECKERS = {
    "oauth.api.key": _string,
    "oauth.api.secret": _string,
    "oauth.callback.url": _url,
    "event.notification.enabled": checks.boolean,
    "event.vendor.type": _vendor_type,
    "event.notification.callback.url": _url,
    "event.notification.signature.key": _key,
    "event.vendor.signature.key": _key,
    "event.poller.refresh_interval": _minutes,
    _resources.KEY: _resources.check,
    "event.poller.reconcile_interval": _minutes,
    "event.notification.instance.finder": _finder,
    "event.notification.retry.schedule": _schedule,
    "event.notification.type": _notification_type,
}

"""Instance configuration bookkeeping: validated, secrets split off, masked on the way out, merged.

:func:`normalize` is what a create, update or replace validates before anything is stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from headwater.domain import config, signing
from headwater.errors import InputError
from headwater.settings import Settings

MASK = "********"
SECRET_KEYS = config.SECRET_KEYS
SIGNATURE_KEY = "event.notification.signature.key"
OAUTH_KEYS = ("oauth.api.key", "oauth.api.secret", "oauth.callback.url")
KEPT_ON_REPLACE = (SIGNATURE_KEY,)
"""Keys a replacement that does not name them keeps: a key never changes silently."""


def secret_keys(api_key_field: str | None = None) -> frozenset[str]:
    """The keys kept encrypted: the server's, and an element's API key."""
    return SECRET_KEYS | {api_key_field} if api_key_field else SECRET_KEYS


def split(
    canonical: Mapping[str, Any], api_key_field: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(plain, secret) parts of a canonical configuration."""
    hidden = secret_keys(api_key_field)
    plain = {k: v for k, v in canonical.items() if k not in hidden}
    secret = {k: v for k, v in canonical.items() if k in hidden}
    return plain, secret


def masked(
    plain: Mapping[str, Any], secret: Mapping[str, Any], revealed: Iterable[str] = ()
) -> dict[str, Any]:
    """The configuration as shown: secrets read ``MASK`` unless named in ``revealed``."""
    shown = set(revealed)
    out = dict(plain)
    out.update({k: (v if k in shown else MASK) for k, v in secret.items()})
    return dict(sorted(out.items()))


def merge(
    current: Mapping[str, Any],
    changes: Mapping[str, Any],
    *,
    prefix: str = "configuration",
    replace: bool = False,
    api_key_field: str | None = None,
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Apply ``changes`` to ``current``: None removes a key, ``MASK`` keeps a stored secret.

    With ``replace`` the result holds only the keys of ``changes`` (``MASK`` still keeps), and
    those of :data:`KEPT_ON_REPLACE` that ``changes`` does not name.
    Returns the merged raw configuration and the problems found.
    """
    merged: dict[str, Any] = {} if replace else dict(current)
    if replace:
        merged.update({k: current[k] for k in KEPT_ON_REPLACE if k in current and k not in changes})
    problems: list[tuple[str, str]] = []
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        elif value == MASK and key in secret_keys(api_key_field):
            if key in current:
                merged[key] = current[key]
            else:
                problems.append(
                    (f"{prefix}.{key}", f"{MASK!r} keeps the stored secret, and none is stored")
                )
        else:
            merged[key] = value
    return merged, problems


def with_signature_key(raw: dict[str, Any]) -> bool:
    """Generate the notification signature key when absent; True when one was generated."""
    if raw.get(SIGNATURE_KEY) in (None, ""):
        raw[SIGNATURE_KEY] = signing.generate_key()
        return True
    return False


def oauth_problems(
    raw: Mapping[str, Any], *, prefix: str = "configuration"
) -> list[tuple[str, str]]:
    """What is missing to run the OAuth code exchange."""
    return [
        (f"{prefix}.{key}", "required to exchange the authorization code")
        for key in OAUTH_KEYS
        if not isinstance(raw.get(key), str) or not raw.get(key)
    ]


def normalize(
    element: config.ElementLike,
    raw: Mapping[str, Any],
    problems: list[tuple[str, str]],
    *,
    settings: Settings,
    code: str | None = None,
    need_code: bool = False,
    api_key_field: str | None = None,
) -> dict[str, Any]:
    """The canonical configuration, or one InputError naming every problem found.

    ``problems`` are those found before (by :func:`merge`); with ``code`` the OAuth keys are
    required too, and ``need_code`` requires the code itself. An element that authenticates
    with an API key (``api_key_field``) needs no code, and its key instead.
    """
    found = list(problems)
    if api_key_field is not None:
        value = raw.get(api_key_field)
        if not isinstance(value, str) or not value.strip():
            found.append((f"configuration.{api_key_field}", "required: the API key"))
    elif need_code and not code:
        found.append(("providerData.code", "required: the code from the OAuth redirect"))
    if code:
        found.extend(oauth_problems(raw))
    canonical: dict[str, Any] = {}
    try:
        canonical = config.normalize(
            raw,
            element=element,
            min_refresh_seconds=settings.min_refresh_seconds,
            allow_private_callbacks=settings.allow_private_callbacks,
        )
    except InputError as error:
        found.extend(p for p in error.problems if p not in found)
        if not error.problems:
            found.append(("configuration", error.message))
    if found:
        raise InputError(problems=found)
    return canonical

"""Instance configuration bookkeeping: secrets split off, masked on the way out, merged on PATCH."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from headwater.domain import config, signing

MASK = "********"
SECRET_KEYS = config.SECRET_KEYS
SIGNATURE_KEY = "event.notification.signature.key"
OAUTH_KEYS = ("oauth.api.key", "oauth.api.secret", "oauth.callback.url")


def split(canonical: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(plain, secret) parts of a canonical configuration."""
    plain = {k: v for k, v in canonical.items() if k not in SECRET_KEYS}
    secret = {k: v for k, v in canonical.items() if k in SECRET_KEYS}
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
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Apply ``changes`` to ``current``: None removes a key, ``MASK`` keeps a stored secret.

    With ``replace`` the result holds only the keys of ``changes`` (``MASK`` still keeps).
    Returns the merged raw configuration and the problems found.
    """
    merged: dict[str, Any] = {} if replace else dict(current)
    problems: list[tuple[str, str]] = []
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        elif value == MASK and key in SECRET_KEYS:
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

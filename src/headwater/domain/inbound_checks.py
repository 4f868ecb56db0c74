"""Is an inbound webhook genuine? The three ways an element's webhooks are verified.

- ``svix`` (Svix and Standard Webhooks): ``svix-id``, ``svix-timestamp`` and ``svix-signature``
  (or the same with the ``webhook-`` prefix); ``v1,<base64 HMAC-SHA256>`` of
  ``{id}.{timestamp}.{body}``, keyed as :mod:`headwater.domain.signing` says. A timestamp more
  than :data:`TOLERANCE_SECONDS` away from now is refused (a replay of an old message).
- ``hmac``: a header holding the HMAC of the exact body (algorithm, encoding and prefix declared).
- ``urlSecret``: the URL the provider was given carries the instance's key as ``?secret=``.

Each check answers :class:`Verified` (with the provider's message id, when it sends one) or
:class:`Refused` (saying why, never quoting the secret).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac

from headwater.domain import inbound, signing

TOLERANCE_SECONDS = 300
SECRET_PARAM = "secret"


@dataclasses.dataclass(frozen=True)
class Verified:
    message_id: str | None


@dataclasses.dataclass(frozen=True)
class Refused:
    problem: str


def verify(
    spec: inbound.Spec, key: str | None, received: inbound.Received, *, now_s: float
) -> Verified | Refused:
    """Whether ``received`` is signed (or addressed) with ``key``, as ``spec`` says."""
    if not key:
        return Refused("the instance has no event.vendor.signature.key to verify webhooks with")
    if spec.verification == "svix":
        return _svix(key, received, now_s)
    if spec.verification == "hmac":
        return _hmac(spec, key, received)
    given = received.query.get(SECRET_PARAM, "")
    if not given:
        return Refused(f"the URL carries no '{SECRET_PARAM}'")
    if not hmac.compare_digest(given.encode(), key.encode()):
        return Refused(f"the URL's '{SECRET_PARAM}' is not this instance's")
    return Verified(message_id=None)


def svix_headers(received: inbound.Received) -> tuple[str, str, str]:
    """The message id, timestamp and signatures, from ``svix-*`` or else ``webhook-*``."""
    for prefix in ("svix-", "webhook-"):
        found = tuple(received.header(prefix + part) for part in ("id", "timestamp", "signature"))
        if any(found):
            return found[0], found[1], found[2]
    return "", "", ""


def _svix(key: str, received: inbound.Received, now_s: float) -> Verified | Refused:
    message_id, timestamp, signature = svix_headers(received)
    if not (message_id and timestamp and signature):
        return Refused("the svix-id, svix-timestamp and svix-signature headers are required")
    try:
        sent = int(timestamp)
    except ValueError:
        return Refused(f"svix-timestamp {timestamp!r} is not a number of seconds")
    if abs(now_s - sent) > TOLERANCE_SECONDS:
        return Refused(
            f"svix-timestamp is {round(now_s - sent)} s from now (at most"
            f" {TOLERANCE_SECONDS} s either way): stale or replayed"
        )
    if not signing.verify_standard(key, message_id, timestamp, received.body, signature):
        return Refused("svix-signature does not match the body under the instance's key")
    return Verified(message_id=message_id)


_ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


def _hmac(spec: inbound.Spec, key: str, received: inbound.Received) -> Verified | Refused:
    header = spec.hmac_header or ""
    given = received.header(header).strip()
    if not given:
        return Refused(f"the {header} header is required")
    digest = hmac.new(key.encode(), received.body, _ALGORITHMS[spec.hmac_algorithm]).digest()
    text = digest.hex() if spec.hmac_encoding == "hex" else base64.b64encode(digest).decode()
    if not hmac.compare_digest((spec.hmac_prefix + text).encode(), given.encode()):
        return Refused(f"the {header} header does not match the body under the instance's key")
    return Verified(message_id=None)

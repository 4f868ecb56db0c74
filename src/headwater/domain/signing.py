"""Notification signatures: Cloud Elements' ``Elements-Webhook-Signature`` and Standard Webhooks.

``Elements-Webhook-Signature`` is ``sha256=`` + base64 HMAC-SHA256 of the exact body, keyed by the
key's UTF-8 bytes exactly as written. The Standard Webhooks signature (``webhook-signature: v1,…``)
signs ``{id}.{timestamp}.{body}`` keyed by the decoded bytes when the key is ``whsec_<base64>``,
else by its UTF-8 bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

KEY_PREFIX = "whsec_"
MIN_KEY_LENGTH = 16


def generate_key() -> str:
    """A new signing key: ``whsec_`` + base64 of 32 random bytes."""
    return KEY_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _standard_key_bytes(key: str) -> bytes:
    if key.startswith(KEY_PREFIX):
        try:
            return base64.b64decode(key[len(KEY_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            pass
    return key.encode()


def elements_signature(key: str, body: bytes) -> str:
    """The ``Elements-Webhook-Signature`` header value for ``body``."""
    digest = hmac.new(key.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def standard_signature(key: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks ``webhook-signature`` header value (one ``v1,`` signature)."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_standard_key_bytes(key), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(
    key: str, message_id: str, timestamp: int, body: bytes, *, previous: str | None = None
) -> dict[str, str]:
    """Every signature header of one notification.

    During a key rotation's overlap (``previous``: the key being replaced) ``webhook-signature``
    carries both signatures, space-separated as Standard Webhooks allows, and
    ``Elements-Webhook-Signature`` (which has room for one) keeps the previous key, so that a
    receiver verifying with either key keeps accepting every notification.
    """
    standard = standard_signature(key, message_id, timestamp, body)
    if previous is not None and previous != key:
        old = standard_signature(previous, message_id, timestamp, body)
        standard = f"{standard} {old}"
    return {
        "Elements-Webhook-Id": message_id,
        "Elements-Webhook-Signature": elements_signature(previous or key, body),
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard,
    }


def fingerprint(key: str) -> str:
    """A short name for a key that tells keys apart without revealing them."""
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:16]


def verify_elements(key: str, body: bytes, header: str) -> bool:
    """True when ``header`` is the ``Elements-Webhook-Signature`` of ``body`` under ``key``."""
    return hmac.compare_digest(elements_signature(key, body), header.strip())


def verify_standard(key: str, message_id: str, timestamp: str, body: bytes, header: str) -> bool:
    """True when any ``v1,`` signature in ``header`` (space-separated) matches."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    expected = standard_signature(key, message_id, ts, body)
    return any(hmac.compare_digest(expected, part) for part in header.split())

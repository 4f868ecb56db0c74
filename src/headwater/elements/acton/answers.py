"""Act-On's answers, read and translated into :mod:`headwater.errors`.

How Act-On's answers are translated:

- 401: the token is refreshed once (``tokens.refreshed(rejected)``) and the call retried; a second
  401 raises ``ProviderAuthExpired``. A revoked refresh token surfaces as whatever the token
  source raises (``ProviderRefusal``).
- 429: ``Retry-After`` (seconds or an HTTP date) is honoured, for every caller of the instance,
  up to ``max_rate_limit_retries`` retries and ``max_rate_limit_wait`` seconds in all; then
  ``ProviderRateLimited`` with ``retry_after``.
- 400 ``errorCode`` 10004 (unknown list), 10008 (unknown contact) and 404: ``ProviderNotFound``.
- Any other 4xx, including 400 ``errorCode`` 10010 (an unknown column in a written record):
  ``ProviderRefusal`` (422): the request reached Act-On and Act-On declined it; the caller's
  input was wrong, and ``provider_message`` says how.
- 5xx, timeouts, refused or dropped connections, bodies cut short, and bodies that are not the
  JSON Act-On documents: ``ProviderUnavailable`` (502).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping

from headwater import errors

_NOT_FOUND_CODES = frozenset({"10004", "10008"})
_EXCERPT = 200  # characters of an unexpected body quoted in a message
_BODY_EXCERPT = 80  # of a malformed body, whose start is what tells what it is


@dataclasses.dataclass(frozen=True)
class Answer:
    """What Act-On sent back: status, headers and the raw body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def malformed(method: str, path: str, problem: str) -> errors.ProviderUnavailable:
    """The error for a body that is JSON but not the shape Act-On documents."""
    return errors.ProviderUnavailable(
        f"Act-On answered {method} {path} with a malformed body: {problem}"
    )


def decode(answer: Answer, method: str, path: str) -> object:
    """The JSON of a successful answer (an empty body reads as ``{}``)."""
    if not answer.body.strip():
        return {}
    try:
        return json.loads(answer.body)
    except ValueError as exc:
        excerpt = answer.body[:_BODY_EXCERPT].decode("utf-8", errors="replace")
        raise errors.ProviderUnavailable(
            f"Act-On answered {method} {path} with HTTP {answer.status} and a malformed body "
            f"(not JSON: {exc}): {excerpt!r}"
        ) from exc


def provider_message(body: bytes) -> tuple[str, str | None]:
    """Act-On's own message and errorCode, from whichever of its error envelopes it used."""
    try:
        data = json.loads(body)
    except ValueError:
        text = body[:_EXCERPT].decode("utf-8", errors="replace").strip()
        return text or "(empty body)", None
    if not isinstance(data, dict):
        return json.dumps(data)[:_EXCERPT], None
    code = data.get("errorCode")
    for key in ("message", "error_description", "errorMessage"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value, None if code is None else str(code)
    http_message = data.get("httpMessage")
    if isinstance(http_message, str) and http_message:
        more = data.get("moreInformation")
        return (f"{http_message}: {more}" if more else http_message), None
    return json.dumps(data)[:_EXCERPT], None if code is None else str(code)


def failure(answer: Answer, method: str, path: str) -> errors.ProviderError:
    """The error for a non-2xx answer other than a first 401 or a 429 (see the module doc)."""
    message, code = provider_message(answer.body)
    text = f"Act-On failed with HTTP {answer.status} on {method} {path}: {message}"
    if code is not None:
        text += f" (errorCode {code})"
    kind: type[errors.ProviderError]
    if answer.status == 401:
        kind = errors.ProviderAuthExpired
        text += "; the access token was refused even after a refresh"
    elif answer.status == 404 or (answer.status == 400 and code in _NOT_FOUND_CODES):
        kind = errors.ProviderNotFound
    elif 400 <= answer.status < 500 and answer.status != 408:
        kind = errors.ProviderRefusal
    else:
        kind = errors.ProviderUnavailable
    return kind(text, provider_message=message, http_status=answer.status)

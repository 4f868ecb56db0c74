"""From hub URLs to provider requests, for declared hubs: which resource a hub path names, the
provider path with its placeholders filled, CEQL ``where`` terms as query parameters, and query
strings encoded so that every value arrives as written (``+00:00`` as ``%2B00%3A00``).
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence

from headwater import errors
from headwater.domain import ceql
from headwater.elements import declaration

_API_PREFIX = ("elements", "api-v2")
_SEGMENT_SAFE = "-._~:@!$'()*,;="  # RFC 3986 pchar, less '&', '+' and '/'


@dataclasses.dataclass(frozen=True)
class Target:
    """What a hub path names: a resource's collection, or one record of it (``record_id``)."""

    resource: declaration.Resource
    values: Mapping[str, str]  # the hub path's placeholders, e.g. {"listId": "L1"}
    record_id: str | None = None


def segments(path: str) -> list[str]:
    """The decoded segments of a hub path, without the ``/elements/api-v2`` prefix."""
    parts = [urllib.parse.unquote(p) for p in urllib.parse.urlsplit(path).path.split("/") if p]
    if tuple(parts[:2]) == _API_PREFIX:
        parts = parts[2:]
    return parts


def resolve(resources: Sequence[declaration.Resource], path: str) -> Target:
    """The resource (and record) ``path`` names; ``NotFoundError`` when none does."""
    parts = segments(path)
    for resource in resources:
        template = segments(resource.path)
        if len(parts) == len(template):
            values = _match(template, parts)
            if values is not None:
                return Target(resource, values)
    for resource in resources:
        template = segments(resource.path)
        if len(parts) == len(template) + 1:
            values = _match(template, parts[:-1])
            if values is not None:
                return Target(resource, values, parts[-1])
    raise errors.NotFoundError(f"This hub has no resource at {urllib.parse.urlsplit(path).path}")


def fill(template: str, values: Mapping[str, str]) -> str:
    """``template`` (a provider path) with each ``{name}`` replaced by its encoded value."""
    out = template
    for name, value in values.items():
        out = out.replace("{" + name + "}", urllib.parse.quote(value, safe=_SEGMENT_SAFE))
    return out


def encode_query(pairs: Iterable[tuple[str, str]]) -> str:
    """A query string in which every character outside the unreserved set is percent-encoded."""
    return "&".join(
        f"{urllib.parse.quote(name, safe='')}={urllib.parse.quote(value, safe='')}"
        for name, value in pairs
    )


def where_params(resource: declaration.Resource, where: str | None) -> list[tuple[str, str]]:
    """The provider query parameters for a CEQL ``where`` on ``resource``.

    Each top-level AND term must be one the resource declares (field and operator); anything
    else is an ``InputError`` naming ``where`` and listing what the resource supports.
    """
    if where is None or not where.strip():
        return []
    params: list[tuple[str, str]] = []
    for term in ceql.parse(where):
        if not isinstance(term, ceql.Condition):
            raise _unsupported(resource, f"{ceql.describe(term)} at position {term.position}")
        declared = next(
            (
                t
                for t in resource.where
                if t.field.lower() == term.field.lower() and t.op == term.op
            ),
            None,
        )
        if declared is None:
            raise _unsupported(resource, f"'{term.field} {term.op}'")
        params.append((declared.param or declared.field, _text(term.value)))
    return params


def supported(resource: declaration.Resource) -> str:
    """What ``where`` the resource takes, for messages."""
    if not resource.where:
        return f"{resource.name} takes no where"
    terms = " and ".join(f"{t.field} {t.op} '<value>'" for t in resource.where)
    return f"{resource.name} can be filtered by {terms} (any of them, joined by AND)"


def _text(value: ceql.Value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _unsupported(resource: declaration.Resource, what: str) -> errors.InputError:
    return errors.InputError(
        problems=[("where", f"{what} is not supported: {supported(resource)}")]
    )


def _match(template: list[str], parts: list[str]) -> dict[str, str] | None:
    values: dict[str, str] = {}
    for want, got in zip(template, parts, strict=True):
        if want.startswith("{") and want.endswith("}"):
            values[want[1:-1]] = got
        elif want != got:
            return None
    return values

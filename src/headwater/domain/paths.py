"""Dotted paths into records: ``_info.lastUpdated``, ``items.0.id``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

_ABSENT = object()


def get(record: Mapping[str, object], dotted: str) -> object:
    """The value at ``dotted`` in ``record``; raises KeyError naming the path when absent.

    Each segment is a key of a mapping or an index into a list. Keys that themselves contain dots
    (``{"a.b": 1}``) are found too: at each level the longest key that matches is tried first.
    """
    found = _find(record, dotted.split("."))
    if found is _ABSENT:
        raise KeyError(dotted)
    return found


def validate(dotted: object) -> str | None:
    """The problem with ``dotted`` as a path, or ``None``."""
    if not isinstance(dotted, str) or not dotted.strip():
        return "must be a non-empty field name or dotted path such as '_info.lastUpdated'"
    if dotted != dotted.strip():
        return f"'{dotted}' must not start or end with spaces"
    if any(not segment for segment in dotted.split(".")):
        return f"'{dotted}' has an empty segment"
    return None


def _find(current: object, segments: list[str]) -> object:
    if not segments:
        return current
    if isinstance(current, Mapping):
        for size in range(len(segments), 0, -1):
            key = ".".join(segments[:size])
            if key in current:
                found = _find(current[key], segments[size:])
                if found is not _ABSENT:
                    return found
        return _ABSENT
    head = segments[0]
    if (
        isinstance(current, Sequence)
        and not isinstance(current, str | bytes)
        and head.isdigit()
        and int(head) < len(current)
    ):
        return _find(current[int(head)], segments[1:])
    return _ABSENT

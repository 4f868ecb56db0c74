"""How deeply a JSON document nests, measured on its bytes as they arrive, before any parsing.

A parser recurses once per level, so a small body of ten thousand ``[`` would reach the
recursion limit; measuring first lets such a body be refused as bad input.
"""

from __future__ import annotations

import re

MAX_DEPTH = 64

# the only bytes that matter: brackets, and the quotes and backslashes that delimit strings
_TOKENS = re.compile(rb'[\[\]{}"\\]')
_OPEN = frozenset(b"[{")
_CLOSE = frozenset(b"]}")
_QUOTE = ord('"')
_BACKSLASH = ord("\\")


class DepthGauge:
    """Fed a document chunk by chunk; ``deepest`` is the deepest nesting seen so far.

    Brackets inside strings do not count. Malformed documents are not detected here (the parser
    reports those); the gauge only has to be right for well-formed ones and finite for any input.
    """

    def __init__(self) -> None:
        self.depth = 0
        self.deepest = 0
        self._in_string = False
        self._escaped = False  # the previous chunk ended in a string on a backslash

    def feed(self, chunk: bytes) -> int:
        """Account for ``chunk``; returns ``deepest``."""
        skip = -1
        if self._escaped and chunk:
            skip, self._escaped = 0, False
        for match in _TOKENS.finditer(chunk):
            at = match.start()
            if at == skip:
                continue
            byte = chunk[at]
            if self._in_string:
                if byte == _QUOTE:
                    self._in_string = False
                elif byte == _BACKSLASH:
                    skip = at + 1
                    self._escaped = skip == len(chunk)
            elif byte == _QUOTE:
                self._in_string = True
            elif byte in _OPEN:
                self.depth += 1
                self.deepest = max(self.deepest, self.depth)
            elif byte in _CLOSE:
                self.depth = max(0, self.depth - 1)
        return self.deepest


def too_deep(document: str | bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether ``document`` nests deeper than ``limit`` (check before ``json.loads``)."""
    data = document.encode() if isinstance(document, str) else document
    return DepthGauge().feed(data) > limit


def problem(limit: int = MAX_DEPTH) -> str:
    """How a document nested too deep is described to the client."""
    return f"the JSON is nested more than {limit} levels deep"

"""The subset of CEQL ``where`` expressions Headwater's list endpoints understand.

Comparisons ``field op 'text'`` or ``field op number`` with ``=``, ``!=``, ``<``, ``<=``, ``>``,
``>=``, joined by ``AND`` (any case). Field names are letters, digits, ``_`` and ``.``, or any text
in backticks; a quote inside a quoted value is doubled (``'O''Brien'``). Anything else is refused
with the offending token and its position (0-based), never guessed at.
"""

from __future__ import annotations

import dataclasses
import re

from headwater.errors import InputError

OPERATORS = ("=", "!=", "<", "<=", ">", ">=")

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<string>'(?:[^']|'')*')
    | (?P<number>-?\d+(?:\.\d+)?(?![A-Za-z_]))
    | (?P<name>[A-Za-z_][A-Za-z0-9_.]*|`[^`]+`)
    | (?P<op><=|>=|!=|=|<|>)
    | (?P<other>'|[()]|[^\sA-Za-z0-9_'`()=<>!]+|.)
    """,
    re.VERBOSE,
)
_UNSUPPORTED = {
    "or": "OR is not supported; only comparisons joined by AND are",
    "not": "NOT is not supported; use != or the opposite comparison",
    "like": "LIKE is not supported; only =, !=, <, <=, >, >= are",
    "in": "IN is not supported; join comparisons with AND instead",
    "is": "IS NULL is not supported; only =, !=, <, <=, >, >= are",
    "(": "parentheses are not supported; only comparisons joined by AND are",
    ")": "parentheses are not supported; only comparisons joined by AND are",
}
_KEYWORDS = frozenset({"and", "or", "not", "like", "in", "is"})


@dataclasses.dataclass(frozen=True)
class Condition:
    """One comparison: ``field op value``."""

    field: str
    op: str
    value: str | int | float


@dataclasses.dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    position: int


def parse(where: str, *, field: str = "where") -> list[Condition]:
    """The conditions of ``where`` (empty for a blank one); raises InputError naming ``field``."""
    tokens = _tokenize(where, field)
    conditions: list[Condition] = []
    index = 0

    def take(expected: str, kinds: tuple[str, ...], keyword: str | None = None) -> _Token:
        nonlocal index
        if index >= len(tokens):
            raise _error(field, f"unexpected end of the expression: expected {expected}")
        token = tokens[index]
        word = token.text.lower()
        fits = token.kind in kinds
        if fits and token.kind == "name":
            fits = word == keyword if keyword else word not in _KEYWORDS
        if not fits:
            reason = _UNSUPPORTED.get(word)
            at = f"'{token.text}' at position {token.position}"
            if reason is not None:
                raise _error(field, f"unsupported token {at}: {reason}")
            raise _error(field, f"unexpected token {at}: expected {expected}")
        index += 1
        return token

    while index < len(tokens):
        if conditions:
            take("AND", ("name",), keyword="and")
        name = take("a field name", ("name",))
        op = take("an operator (=, !=, <, <=, >, >=)", ("op",))
        value = take("a quoted value or a number", ("string", "number"))
        conditions.append(Condition(_field_name(name.text), op.text, _value(value)))
    return conditions


def _tokenize(where: str, field: str) -> list[_Token]:
    tokens: list[_Token] = []
    for match in _TOKEN.finditer(where):
        kind = match.lastgroup or "other"
        if kind == "space":
            continue
        if kind == "other" and match.group() == "'":
            raise _error(field, f"unterminated quoted value at position {match.start()}")
        tokens.append(_Token(kind, match.group(), match.start()))
    return tokens


def _field_name(text: str) -> str:
    return text[1:-1] if text.startswith("`") else text


def _value(token: _Token) -> str | int | float:
    if token.kind == "string":
        return token.text[1:-1].replace("''", "'")
    return float(token.text) if "." in token.text else int(token.text)


def _error(field: str, problem: str) -> InputError:
    return InputError(problems=[(field, problem)])

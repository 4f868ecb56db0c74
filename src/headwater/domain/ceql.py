"""CEQL ``where`` expressions as Cloud Elements clients write them, parsed into a small tree.

Grammar (keywords in any case; NOT binds tighter than AND, which binds tighter than OR)::

    where      := or
    or         := and ( OR and )*
    and        := unary ( AND unary )*
    unary      := NOT unary | '(' or ')' | predicate
    predicate  := field ( op value
                        | [NOT] IN '(' value ( ',' value )* ')'
                        | [NOT] LIKE 'pattern'
                        | IS [NOT] NULL )
    op         := = | != | < | <= | > | >=
    value      := 'quoted text' | number

Field names are letters, digits, ``_`` and ``.``, or any text in backticks; a quote inside a
quoted value is doubled (``'O''Brien'``). In a LIKE pattern ``%`` matches any run of characters,
``_`` any one, and a backslash makes the next character literal (``'50\\%'``). Anything else is
refused with the offending token and its position (0-based), never guessed at. Length, nesting and
the number of terms are bounded so that no expression can exhaust the parser or the database.

:func:`parse` answers the top-level AND terms as a list: ``a = 1 and b = 2`` is two
:class:`Condition` items, so callers that only understand comparisons joined by AND can walk it.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TypeAlias

from headwater.errors import InputError

OPERATORS = ("=", "!=", "<", "<=", ">", ">=")
MAX_LENGTH = 4000
MAX_DEPTH = 32
MAX_TERMS = 200
MAX_VALUES = 500
_MAX_DIGITS = 40

Value: TypeAlias = str | int | float


@dataclasses.dataclass(frozen=True)
class Condition:
    """One comparison: ``field op value``."""

    field: str
    op: str
    value: Value
    position: int = dataclasses.field(default=0, compare=False)


@dataclasses.dataclass(frozen=True)
class In:
    """``field [NOT] IN (values…)``: at least one value."""

    field: str
    values: tuple[Value, ...]
    negated: bool = False
    position: int = dataclasses.field(default=0, compare=False)


@dataclasses.dataclass(frozen=True)
class Like:
    """``field [NOT] LIKE 'pattern'`` (``%``, ``_``, and ``\\`` escaping the next character)."""

    field: str
    pattern: str
    negated: bool = False
    position: int = dataclasses.field(default=0, compare=False)


@dataclasses.dataclass(frozen=True)
class IsNull:
    """``field IS [NOT] NULL``."""

    field: str
    negated: bool = False
    position: int = dataclasses.field(default=0, compare=False)


@dataclasses.dataclass(frozen=True)
class Not:
    """``NOT term``."""

    term: Expr
    position: int = dataclasses.field(default=0, compare=False)


@dataclasses.dataclass(frozen=True)
class And:
    """Every term holds (two or more)."""

    terms: tuple[Expr, ...]
    position: int = dataclasses.field(default=0, compare=False)


@dataclasses.dataclass(frozen=True)
class Or:
    """At least one term holds (two or more)."""

    terms: tuple[Expr, ...]
    position: int = dataclasses.field(default=0, compare=False)


Expr: TypeAlias = Condition | In | Like | IsNull | Not | And | Or
Predicate: TypeAlias = Condition | In | Like | IsNull


def predicates(expr: Expr) -> list[Predicate]:
    """Every comparison in ``expr``, left to right."""
    if isinstance(expr, Not):
        return predicates(expr.term)
    if isinstance(expr, And | Or):
        return [found for term in expr.terms for found in predicates(term)]
    return [expr]


def describe(expr: Expr) -> str:
    """What kind of term ``expr`` is, as a refusal names it."""
    if isinstance(expr, Condition):
        return f"'{expr.op}'"
    if isinstance(expr, In):
        return "NOT IN" if expr.negated else "IN"
    if isinstance(expr, Like):
        return "NOT LIKE" if expr.negated else "LIKE"
    if isinstance(expr, IsNull):
        return "IS NOT NULL" if expr.negated else "IS NULL"
    if isinstance(expr, Not):
        return "NOT"
    return "OR" if isinstance(expr, Or) else "AND"


def like_regex(pattern: str) -> re.Pattern[str]:
    """The regular expression a LIKE pattern stands for (the reference semantics)."""
    parts: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            parts.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


# -- parsing ------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<string>'(?:[^']|'')*')
    | (?P<number>-?\d+(?:\.\d+)?(?![A-Za-z_.]))
    | (?P<name>[A-Za-z_][A-Za-z0-9_.]*|`[^`]+`)
    | (?P<op><=|>=|!=|=|<|>)
    | (?P<open>\()
    | (?P<close>\))
    | (?P<comma>,)
    | (?P<other>'|[^\sA-Za-z0-9_'`(),=<>!]+|.)
    """,
    re.VERBOSE,
)
_KEYWORDS = frozenset({"and", "or", "not", "like", "in", "is", "null"})
_COMPARISON = "an operator (=, !=, <, <=, >, >=, IN, NOT IN, LIKE, NOT LIKE, IS NULL, IS NOT NULL)"


@dataclasses.dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    position: int

    @property
    def word(self) -> str:
        return self.text.lower() if self.kind == "name" else ""


def parse(where: str, *, field: str = "where") -> list[Expr]:
    """The top-level AND terms of ``where`` (empty for a blank one); InputError naming ``field``
    with the position of what is wrong."""
    if len(where) > MAX_LENGTH:
        raise _error(field, f"is longer than {MAX_LENGTH} characters")
    parser = _Parser(_tokenize(where, field), field)
    if not parser.tokens:
        return []
    expr = parser.disjunction(0)
    if parser.index < len(parser.tokens):
        token = parser.tokens[parser.index]
        if token.kind == "close":
            raise parser.unexpected(token, "AND or OR (this ')' closes no '(')")
        raise parser.unexpected(token, "AND or OR")
    return list(expr.terms) if isinstance(expr, And) else [expr]


class _Parser:
    def __init__(self, tokens: list[_Token], field: str) -> None:
        self.tokens = tokens
        self.field = field
        self.index = 0
        self.terms = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def next(self, expected: str) -> _Token:
        token = self.peek()
        if token is None:
            raise _error(self.field, f"unexpected end of the expression: expected {expected}")
        self.index += 1
        return token

    def unexpected(self, token: _Token, expected: str) -> InputError:
        return _error(
            self.field,
            f"unexpected token '{token.text}' at position {token.position}: expected {expected}",
        )

    def keyword(self, word: str) -> _Token | None:
        token = self.peek()
        if token is not None and token.word == word:
            self.index += 1
            return token
        return None

    def disjunction(self, depth: int) -> Expr:
        """Positioned at its first OR."""
        terms = [self.conjunction(depth)]
        first: _Token | None = None
        while (token := self.keyword("or")) is not None:
            first = first or token
            terms.append(self.conjunction(depth))
        return terms[0] if first is None else Or(tuple(terms), first.position)

    def conjunction(self, depth: int) -> Expr:
        """Positioned at its first AND; a AND (b AND c) reads as one list of terms."""
        terms = [self.unary(depth)]
        first: _Token | None = None
        while (token := self.keyword("and")) is not None:
            first = first or token
            terms.append(self.unary(depth))
        if first is None:
            return terms[0]
        flat: list[Expr] = []
        for term in terms:
            flat.extend(term.terms if isinstance(term, And) else (term,))
        return And(tuple(flat), first.position)

    def unary(self, depth: int) -> Expr:
        token = self.next("a field name, NOT or '('")
        if token.word == "not" or token.kind == "open":
            if depth >= MAX_DEPTH:
                raise _error(
                    self.field,
                    f"nested more than {MAX_DEPTH} levels deep at position {token.position}",
                )
            if token.word == "not":
                return Not(self.unary(depth + 1), token.position)
            inner = self.disjunction(depth + 1)
            closing = self.next(f"')' to close the '(' at position {token.position}")
            if closing.kind != "close":
                raise self.unexpected(
                    closing, f"AND, OR or ')' to close the '(' at position {token.position}"
                )
            return inner
        if token.kind != "name" or token.word in _KEYWORDS:
            raise self.unexpected(token, "a field name, NOT or '('")
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise _error(
                self.field,
                f"has more than {MAX_TERMS} comparisons (the one at position {token.position})",
            )
        return self.predicate(_field_name(token.text), token.position)

    def predicate(self, name: str, position: int) -> Expr:
        token = self.next(_COMPARISON)
        if token.kind == "op":
            return Condition(name, token.text, self.value(), position)
        negated = False
        if token.word == "not":
            negated = True
            token = self.next("IN or LIKE after NOT")
            if token.word not in ("in", "like"):
                raise self.unexpected(token, "IN or LIKE after NOT")
        if token.word == "in":
            return In(name, self.value_list(), negated, position)
        if token.word == "like":
            pattern = self.next("a quoted pattern")
            if pattern.kind != "string":
                raise self.unexpected(pattern, "a quoted pattern such as 'abc%'")
            text = _text(pattern)
            if _dangling_escape(text):
                raise _error(
                    self.field,
                    f"the pattern at position {pattern.position} ends with a lone backslash; "
                    "write \\\\ for a backslash",
                )
            return Like(name, text, negated, position)
        if token.word == "is":
            negated = self.keyword("not") is not None
            null = self.next("NULL")
            if null.word != "null":
                raise self.unexpected(null, "NULL (IS NULL or IS NOT NULL)")
            return IsNull(name, negated, position)
        raise self.unexpected(token, _COMPARISON)

    def value(self) -> Value:
        token = self.next("a quoted value or a number")
        if token.word == "null":
            raise _error(
                self.field,
                f"'{token.text}' at position {token.position} is not a value: "
                "use IS NULL or IS NOT NULL",
            )
        if token.kind == "string":
            return _text(token)
        if token.kind == "number":
            return self.number(token)
        raise self.unexpected(token, "a quoted value or a number")

    def value_list(self) -> tuple[Value, ...]:
        opening = self.next("'(' and a list of values")
        if opening.kind != "open":
            raise self.unexpected(opening, "'(' and a list of values")
        closing = self.peek()
        if closing is not None and closing.kind == "close":
            raise _error(
                self.field,
                f"IN () at position {opening.position} is empty: give at least one value",
            )
        values = [self.value()]
        while True:
            token = self.next("',' or ')'")
            if token.kind == "close":
                break
            if token.kind != "comma":
                raise self.unexpected(token, "',' or ')'")
            values.append(self.value())
            if len(values) > MAX_VALUES:
                raise _error(
                    self.field,
                    f"the IN list at position {opening.position} has more than {MAX_VALUES} values",
                )
        return tuple(values)

    def number(self, token: _Token) -> int | float:
        if len(token.text.lstrip("-")) > _MAX_DIGITS:
            raise _error(self.field, f"the number at position {token.position} is too long")
        return float(token.text) if "." in token.text else int(token.text)


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


def _text(token: _Token) -> str:
    return token.text[1:-1].replace("''", "'")


def _dangling_escape(pattern: str) -> bool:
    trailing = len(pattern) - len(pattern.rstrip("\\"))
    return trailing % 2 == 1


def _error(field: str, problem: str) -> InputError:
    return InputError(problems=[(field, problem)])

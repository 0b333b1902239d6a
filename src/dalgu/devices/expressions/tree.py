"""The typed tree of a JEXL expression, as the parser builds it and the evaluator walks it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any  # a number, text or boolean


@dataclass(frozen=True, slots=True)
class Identifier:
    """A name looked up in the context, or (`relative`, written `.name` inside a filter) in
    the array item the filter is at."""

    name: str
    relative: bool = False


@dataclass(frozen=True, slots=True)
class Member:
    """`subject.name`."""

    subject: Node
    name: str


@dataclass(frozen=True, slots=True)
class Filter:
    """`subject[expr]`: an index or key, or (`relative`, `[.x == 1]`) the array items for
    which `expr` holds."""

    subject: Node
    expr: Node
    relative: bool


@dataclass(frozen=True, slots=True)
class ArrayLiteral:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class ObjectLiteral:
    pairs: tuple[tuple[str, Node], ...]


@dataclass(frozen=True, slots=True)
class Unary:
    operator: str  # "!" or "-"
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary:
    operator: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Conditional:
    """`test ? consequent : alternate`; `test ?: alternate` (no consequent) gives the test's
    value when it is truthy."""

    test: Node
    consequent: Node | None
    alternate: Node


@dataclass(frozen=True, slots=True)
class Transform:
    """`subject | name(args...)`."""

    name: str
    subject: Node
    args: tuple[Node, ...]


Node = (
    Literal
    | Identifier
    | Member
    | Filter
    | ArrayLiteral
    | ObjectLiteral
    | Unary
    | Binary
    | Conditional
    | Transform
)

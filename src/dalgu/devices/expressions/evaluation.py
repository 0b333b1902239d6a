"""Evaluating a JEXL tree over a context, with JavaScript's semantics (as Jexl 2.3 does).

A tree is compiled once into nested Python closures (`compile_tree`), which a message's
context then runs through: no walk over node types per message. A missing identifier or
member is `undefined`; `a.b` on null or undefined is undefined, on an array it is the first
item's member (Jexl's rule); `a[k]` on null or undefined is an error, as is calling a
transform on a value it cannot take (`5|split(",")`). Errors are `EvaluationError`: the IoT
Agents then send nothing for the attribute.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from dalgu.devices.expressions.transforms import TRANSFORMS
from dalgu.devices.expressions.tree import (
    ArrayLiteral,
    Binary,
    Conditional,
    Filter,
    Identifier,
    Literal,
    Member,
    Node,
    Transform,
    Unary,
)
from dalgu.devices.expressions.values import (
    NAN,
    UNDEFINED,
    add,
    compare,
    loose_equals,
    member,
    number,
    strict_equals,
    to_number,
    to_string,
    truthy,
)

# a compiled node: the context, and the array item a filter is at (`.name` reads it)
Code = Callable[[Mapping[str, Any], Any], Any]


class EvaluationError(Exception):
    """An expression that could not be evaluated over its context (JavaScript would throw)."""


class Expression:
    """A compiled JEXL expression: call it with a context."""

    __slots__ = ("_code",)

    def __init__(self, tree: Node) -> None:
        self._code = compile_tree(tree)

    def __call__(self, context: Mapping[str, Any]) -> Any:
        """The value over `context` (JSON values by name); raises EvaluationError."""
        try:
            return self._code(context, context)
        except RecursionError:
            raise EvaluationError("the expression nests too deeply") from None
        except (TypeError, ValueError, AttributeError, LookupError, ArithmeticError) as exc:
            raise EvaluationError(str(exc)) from None


def evaluate(tree: Node, context: Mapping[str, Any]) -> Any:
    """The value of `tree` over `context`; raises EvaluationError."""
    return Expression(tree)(context)


def _arithmetic(operator: str, left: Any, right: Any) -> int | float:
    a, b = float(to_number(left)), float(to_number(right))
    if operator == "-":
        return number(a - b)
    if operator == "*":
        return number(a * b)
    if operator in ("/", "//"):
        if b == 0:  # JavaScript divides by a signed zero: ±Infinity, or NaN for 0/0
            sign = math.copysign(1, a) * math.copysign(1, b)
            quotient = NAN if a == 0 or math.isnan(a) else math.copysign(math.inf, sign)
        else:
            quotient = a / b
        return number(
            math.floor(quotient) if operator == "//" and math.isfinite(quotient) else quotient
        )
    if operator == "%":
        if b == 0 or math.isinf(a) or math.isnan(a) or math.isnan(b):
            return NAN
        return number(math.fmod(a, b) if not math.isinf(b) else a)
    if math.isnan(b) or (abs(a) == 1 and math.isinf(b)):
        return NAN  # Math.pow: NaN for a NaN exponent, and for 1 to an infinite power
    try:  # "^"
        return number(math.pow(a, b))
    except (OverflowError, ValueError):
        if math.isnan(a):
            return NAN
        if a < 0 and not b.is_integer():
            return NAN
        return -math.inf if a < 0 and b % 2 == 1 else math.inf


def compile_tree(node: Node) -> Code:
    """The closure computing `node`."""
    if isinstance(node, Literal):
        constant = node.value
        return lambda c, i: constant
    if isinstance(node, Identifier):
        return _identifier(node)
    if isinstance(node, Binary):
        return _binary(node)
    if isinstance(node, Member):
        return _member(compile_tree(node.subject), node.name)
    if isinstance(node, Transform):
        return _transform(node)
    if isinstance(node, Unary):
        operand = compile_tree(node.operand)
        if node.operator == "!":
            return lambda c, i: not truthy(operand(c, i))
        return lambda c, i: number(-float(to_number(operand(c, i))))
    if isinstance(node, Conditional):
        return _conditional(node)
    if isinstance(node, Filter):
        return _filter(node)
    if isinstance(node, ArrayLiteral):
        items = [compile_tree(item) for item in node.items]
        return lambda c, i: [item(c, i) for item in items]
    pairs = [(key, compile_tree(value)) for key, value in node.pairs]
    return lambda c, i: {key: value(c, i) for key, value in pairs}


def _identifier(node: Identifier) -> Code:
    name = node.name
    if not node.relative:
        return lambda c, i: c.get(name, UNDEFINED)

    def relative(c: Mapping[str, Any], item: Any) -> Any:
        if isinstance(item, Mapping):
            return item.get(name, UNDEFINED)
        return UNDEFINED if item is None or item is UNDEFINED else member(item, name)

    return relative


def _member(subject: Code, name: str) -> Code:
    def read(c: Mapping[str, Any], i: Any) -> Any:
        value = subject(c, i)
        if value is None or value is UNDEFINED:
            return UNDEFINED
        if isinstance(value, list):
            value = value[0] if value else UNDEFINED
            if value is None or value is UNDEFINED:
                raise EvaluationError(f"cannot read {name!r} of an empty array")
        return member(value, name)

    return read


def _transform(node: Transform) -> Code:
    function = TRANSFORMS[node.name]
    subject = compile_tree(node.subject)
    args = [compile_tree(a) for a in node.args]
    if not args:
        return lambda c, i: function(subject(c, i))
    return lambda c, i: function(subject(c, i), *[a(c, i) for a in args])


def _conditional(node: Conditional) -> Code:
    test, alternate = compile_tree(node.test), compile_tree(node.alternate)
    if node.consequent is None:

        def elvis(c: Mapping[str, Any], i: Any) -> Any:
            value = test(c, i)
            return value if truthy(value) else alternate(c, i)

        return elvis
    consequent = compile_tree(node.consequent)
    return lambda c, i: consequent(c, i) if truthy(test(c, i)) else alternate(c, i)


def _filter(node: Filter) -> Code:
    subject, expr = compile_tree(node.subject), compile_tree(node.expr)
    if node.relative:

        def matching(c: Mapping[str, Any], i: Any) -> Any:
            value = subject(c, i)
            items = value if isinstance(value, list) else [] if value is UNDEFINED else [value]
            return [item for item in items if truthy(expr(c, item))]

        return matching

    def index(c: Mapping[str, Any], i: Any) -> Any:
        value, key = subject(c, i), expr(c, i)
        if isinstance(key, bool):
            return value if key else UNDEFINED
        return member(value, key)

    return index


def _binary(node: Binary) -> Code:
    operator = node.operator
    left, right = compile_tree(node.left), compile_tree(node.right)
    if operator == "&&":
        return lambda c, i: right(c, i) if truthy(value := left(c, i)) else value
    if operator == "||":
        return lambda c, i: value if truthy(value := left(c, i)) else right(c, i)
    if operator == "+":
        return lambda c, i: add(left(c, i), right(c, i))
    if operator == "==":
        return lambda c, i: loose_equals(left(c, i), right(c, i))
    if operator == "!=":
        return lambda c, i: not loose_equals(left(c, i), right(c, i))
    if operator in ("<", "<=", ">", ">="):
        return lambda c, i: compare(left(c, i), right(c, i), operator)
    if operator == "in":
        return lambda c, i: _contains(right(c, i), left(c, i))
    return lambda c, i: _arithmetic(operator, left(c, i), right(c, i))


def _contains(container: Any, value: Any) -> bool:
    """`in`: a substring of text, an item (`===`) of an array; false for anything else."""
    if isinstance(container, str):
        return to_string(value) in container
    if isinstance(container, list):
        return any(strict_equals(item, value) for item in container)
    return False

"""Evaluating a JEXL tree over a context, with JavaScript's semantics (as Jexl 2.3 does).

A missing identifier or member is `undefined`; `a.b` on null or undefined is undefined, on an
array it is the first item's member (Jexl's rule); `a[k]` on null or undefined is an error, as
is calling a transform on a value it cannot take (`5|split(",")`). Errors are
`EvaluationError`: the IoT Agents then send nothing for the attribute.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
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


class EvaluationError(Exception):
    """An expression that could not be evaluated over its context (JavaScript would throw)."""


def evaluate(tree: Node, context: Mapping[str, Any]) -> Any:
    """The value of `tree` over `context` (JSON values by name); raises EvaluationError."""
    try:
        return _Evaluation(context, context).value(tree)
    except EvaluationError:
        raise
    except RecursionError:
        raise EvaluationError("the expression nests too deeply") from None
    except (TypeError, ValueError, AttributeError, LookupError, ArithmeticError) as exc:
        raise EvaluationError(str(exc)) from None


def _arithmetic(operator: str, left: Any, right: Any) -> int | float:
    a, b = float(to_number(left)), float(to_number(right))
    if operator == "-":
        return number(a - b)
    if operator == "*":
        return number(a * b)
    if operator in ("/", "//"):
        if b == 0:
            quotient = (
                NAN
                if a == 0 or math.isnan(a)
                else math.copysign(math.inf, a) * (-1 if math.copysign(1, b) < 0 else 1)
            )
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


class _Evaluation:
    __slots__ = ("context", "item")

    def __init__(self, context: Mapping[str, Any], item: Any) -> None:
        self.context = context
        self.item = item  # what `.name` refers to: the filtered array's item, else the context

    def value(self, node: Node) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Identifier):
            scope = self.item if node.relative else self.context
            if isinstance(scope, Mapping):
                return scope.get(node.name, UNDEFINED)
            return member(scope, node.name) if scope not in (None, UNDEFINED) else UNDEFINED
        if isinstance(node, Binary):
            return self._binary(node)
        if isinstance(node, Member):
            subject = self.value(node.subject)
            if subject is None or subject is UNDEFINED:
                return UNDEFINED
            if isinstance(subject, list):
                subject = subject[0] if subject else UNDEFINED
                if subject is None or subject is UNDEFINED:
                    raise EvaluationError(f"cannot read {node.name!r} of an empty array")
            return member(subject, node.name)
        if isinstance(node, Transform):
            subject = self.value(node.subject)
            args = [self.value(a) for a in node.args]
            return TRANSFORMS[node.name](subject, *args)
        if isinstance(node, Unary):
            operand = self.value(node.operand)
            if node.operator == "!":
                return not truthy(operand)
            return number(-float(to_number(operand)))
        if isinstance(node, Conditional):
            test = self.value(node.test)
            if truthy(test):
                return test if node.consequent is None else self.value(node.consequent)
            return self.value(node.alternate)
        if isinstance(node, Filter):
            return self._filter(node)
        if isinstance(node, ArrayLiteral):
            return [self.value(item) for item in node.items]
        return {key: self.value(item) for key, item in node.pairs}

    def _binary(self, node: Binary) -> Any:
        operator = node.operator
        left = self.value(node.left)
        if operator == "&&":
            return self.value(node.right) if truthy(left) else left
        if operator == "||":
            return left if truthy(left) else self.value(node.right)
        right = self.value(node.right)
        if operator == "+":
            return add(left, right)
        if operator == "==":
            return loose_equals(left, right)
        if operator == "!=":
            return not loose_equals(left, right)
        if operator in ("<", "<=", ">", ">="):
            return compare(left, right, operator)
        if operator == "in":
            if isinstance(right, str):
                return to_string(left) in right
            if isinstance(right, list):
                return any(strict_equals(item, left) for item in right)
            return False
        return _arithmetic(operator, left, right)

    def _filter(self, node: Filter) -> Any:
        subject = self.value(node.subject)
        if node.relative:
            items = (
                subject if isinstance(subject, list) else [] if subject is UNDEFINED else [subject]
            )
            return [
                item for item in items if truthy(_Evaluation(self.context, item).value(node.expr))
            ]
        key = self.value(node.expr)
        if isinstance(key, bool):
            return subject if key else UNDEFINED
        return member(subject, key)

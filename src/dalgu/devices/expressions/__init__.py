"""JEXL, the expression language of the FIWARE IoT Agents: parsed once per text into a typed
tree, evaluated over a measure group's context with JavaScript's semantics."""

from dalgu.devices.expressions.evaluation import EvaluationError, Expression, evaluate
from dalgu.devices.expressions.syntax import LANGUAGE, parse_expression
from dalgu.devices.expressions.transforms import TRANSFORMS
from dalgu.devices.expressions.tree import Node
from dalgu.devices.expressions.values import UNDEFINED, Undefined

__all__ = [
    "LANGUAGE",
    "TRANSFORMS",
    "UNDEFINED",
    "EvaluationError",
    "Expression",
    "Node",
    "Undefined",
    "evaluate",
    "parse_expression",
]

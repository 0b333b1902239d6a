"""The JEXL expression language (TomFrost/Jexl 2.3, as the FIWARE IoT Agents use it), parsed.

Tokens are Jexl's: numbers (`12`, `1.5`; no exponents, no leading dot), strings in double or
single quotes (`\\"` or `\\'` is the quote, the first `\\\\` a backslash, any other backslash
kept), `true`, `false`, identifiers (letters, `_`, `$`, Latin-1 and Cyrillic letters, then
digits too; `null` and `undefined` are identifiers, as in Jexl), and the operators. From
loosest to tightest: the conditional `?:` (and `a ?: b`); `&&` `||`; `==` `!=` `<` `<=` `>`
`>=` `in`; `+` `-`; `*` `/` `//`; `%` `^` (all left-associative, as Jexl's); unary `!` and
`-`; then member access `.name`, filters `[expr]` and transforms `|name(args)`. Arrays `[...]`
and objects `{key: value}` may end with a comma.

Where Jexl 2.3 fails to parse, Dalgu accepts more, never less: a unary `-` before any operand
(Jexl takes it before a number only, and not after a comma), `[...]` after any operand, and
quoted object keys (as later Jexl versions do). A transform the IoT Agents do not define, and
a function call (the agents define no functions), is refused when the expression is parsed,
where the agents would fail on every message. Errors name the 0-based position.
"""

from __future__ import annotations

from typing import Any

from lark import Token, Transformer

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
    ObjectLiteral,
    Transform,
    Unary,
)
from dalgu.devices.expressions.values import number
from dalgu.errors import BadRequestData
from dalgu.query.q import build_parser, cached_parse

LANGUAGE = "JEXL"

_GRAMMAR = r"""
?start: expr
?expr: logic
     | logic _QUESTION expr _COLON expr      -> conditional
     | logic _QUESTION _COLON expr           -> elvis
?logic: comparison
      | logic LOGIC comparison               -> binary
?comparison: sum
           | comparison (COMPARE | IN) sum   -> binary
?sum: product
    | sum (PLUS | MINUS) product             -> binary
?product: power
        | product (TIMES | DIVIDE | FLOORDIV) power -> binary
?power: unary
      | power (MOD | POW) unary              -> binary
?unary: postfix
      | (BANG | MINUS) unary                 -> unary
?postfix: primary
        | postfix _DOT IDENT                 -> member
        | postfix _LSQB expr _RSQB           -> filter
        | postfix PIPE IDENT                 -> piped
        | postfix PIPE IDENT _LPAR [args] _RPAR -> piped_args
?primary: NUMBER                             -> number
        | STRING_DQ                          -> string
        | STRING_SQ                          -> string
        | TRUE                               -> true
        | FALSE                              -> false
        | IDENT                              -> identifier
        | _DOT IDENT                         -> relative
        | _LPAR expr _RPAR
        | _LSQB [args] _RSQB                 -> array
        | _LBRACE [pairs] _RBRACE            -> object
        | IDENT _LPAR [args] _RPAR           -> function
args: expr (_COMMA expr)* _COMMA?
pairs: pair (_COMMA pair)* _COMMA?
pair: (IDENT | STRING_DQ | STRING_SQ) _COLON expr

_QUESTION: "?"
_COLON: ":"
_DOT: "."
_LSQB: "["
_RSQB: "]"
_LPAR: "("
_RPAR: ")"
_LBRACE: "{"
_RBRACE: "}"
_COMMA: ","
PIPE: "|"
LOGIC: "&&" | "||"
COMPARE: "==" | "!=" | "<=" | ">=" | "<" | ">"
IN: "in"
PLUS: "+"
MINUS: "-"
TIMES: "*"
DIVIDE: "/"
FLOORDIV: "//"
MOD: "%"
POW: "^"
BANG: "!"
TRUE: "true"
FALSE: "false"
NUMBER: /[0-9]+(?:\.[0-9]+)?/
STRING_DQ: /"(?:\x5c\x5c"|[^"])*"/s
STRING_SQ: /'(?:\x5c\x5c'|[^'])*'/s
IDENT: _ID_FIRST (_ID_FIRST | /[0-9]/)*
_ID_FIRST: /[a-zA-Z_$\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0430-\u044f\u0410-\u042f]/
%ignore /\s+/
"""

_PHRASES = {
    "NUMBER": "a value",
    "STRING_DQ": "a value",
    "STRING_SQ": "a value",
    "TRUE": "a value",
    "FALSE": "a value",
    "IDENT": "a name",
    "_LPAR": "'('",
    "_LSQB": "'['",
    "_LBRACE": "'{'",
    "_DOT": "'.'",
    "BANG": "'!'",
    "MINUS": "'-'",
    **dict.fromkeys(
        ("LOGIC", "COMPARE", "IN", "PLUS", "TIMES", "DIVIDE", "FLOORDIV", "MOD", "POW"),
        "an operator",
    ),
    "PIPE": "'|'",
    "_QUESTION": "'?'",
    "_COLON": "':'",
    "_COMMA": "','",
    "_RSQB": "']'",
    "_RPAR": "')'",
    "_RBRACE": "'}'",
    "$END": "the end",
}


def _unquote(token: Token) -> str:
    """Jexl's unquoting: the escaped quote everywhere, the first escaped backslash only."""
    quote = token[0]
    return token[1:-1].replace("\\" + quote, quote).replace("\\\\", "\\", 1)


def _refers_to_item(node: Node | None) -> bool:
    """Whether a filter's expression names the item it is at (`.x`): not inside a nested
    filter, which has its own items."""
    if node is None or isinstance(node, Literal):
        return False
    if isinstance(node, Identifier):
        return node.relative
    if isinstance(node, Filter):
        return _refers_to_item(node.subject)
    if isinstance(node, Member):
        return _refers_to_item(node.subject)
    if isinstance(node, Unary):
        return _refers_to_item(node.operand)
    if isinstance(node, Binary):
        return _refers_to_item(node.left) or _refers_to_item(node.right)
    if isinstance(node, Conditional):
        parts = (node.test, node.consequent, node.alternate)
        return any(_refers_to_item(p) for p in parts)
    if isinstance(node, Transform):
        return any(_refers_to_item(p) for p in (node.subject, *node.args))
    if isinstance(node, ArrayLiteral):
        return any(_refers_to_item(p) for p in node.items)
    return any(_refers_to_item(v) for _, v in node.pairs)


def _negated_number(node: Node) -> Node | None:
    """`-1|round` is round(-1) in Jexl, whose lexer reads `-1` as one number: the operand
    chain with its base number negated, or None when the chain does not start with one."""
    if isinstance(node, Literal) and isinstance(node.value, (int, float)):
        return Literal(number(-float(node.value)))
    if isinstance(node, Member):
        inner = _negated_number(node.subject)
        return None if inner is None else Member(inner, node.name)
    if isinstance(node, Filter):
        inner = _negated_number(node.subject)
        return None if inner is None else Filter(inner, node.expr, node.relative)
    if isinstance(node, Transform):
        inner = _negated_number(node.subject)
        return None if inner is None else Transform(node.name, inner, node.args)
    return None


class _ToTree(Transformer[Token, Any]):
    def number(self, children: list[Token]) -> Node:
        return Literal(number(float(children[0])))

    def string(self, children: list[Token]) -> Node:
        return Literal(_unquote(children[0]))

    def true(self, children: list[Token]) -> Node:
        return Literal(True)

    def false(self, children: list[Token]) -> Node:
        return Literal(False)

    def identifier(self, children: list[Token]) -> Node:
        return Identifier(str(children[0]))

    def relative(self, children: list[Token]) -> Node:
        return Identifier(str(children[0]), relative=True)

    def member(self, children: list[Any]) -> Node:
        return Member(children[0], str(children[1]))

    def filter(self, children: list[Any]) -> Node:
        return Filter(children[0], children[1], _refers_to_item(children[1]))

    def piped(self, children: list[Any]) -> Node:
        return self.piped_args([*children, None])

    def piped_args(self, children: list[Any]) -> Node:
        subject, pipe, name, args = children
        if name not in TRANSFORMS:
            raise BadRequestData(
                f"{LANGUAGE}: unknown transform {str(name)!r} at position {name.start_pos} "
                f"(pipe at {pipe.start_pos}); the transforms are those of the IoT Agents: "
                + ", ".join(sorted(TRANSFORMS))
            )
        return Transform(str(name), subject, tuple(args or ()))

    def function(self, children: list[Any]) -> Node:
        name = children[0]
        raise BadRequestData(
            f"{LANGUAGE}: {str(name)!r} at position {name.start_pos} is a function call; the "
            f"IoT Agents define no JEXL functions: apply a transform instead (value|{name})"
        )

    def args(self, children: list[Node]) -> tuple[Node, ...]:
        return tuple(children)

    def array(self, children: list[Any]) -> Node:
        return ArrayLiteral(children[0] or ())

    def pairs(self, children: list[tuple[str, Node]]) -> tuple[tuple[str, Node], ...]:
        return tuple(children)

    def pair(self, children: list[Any]) -> tuple[str, Node]:
        key = children[0]
        return (_unquote(key) if key.type != "IDENT" else str(key)), children[1]

    def object(self, children: list[Any]) -> Node:
        return ObjectLiteral(children[0] or ())

    def unary(self, children: list[Any]) -> Node:
        operator, operand = children
        if operator == "-":
            negated = _negated_number(operand)
            if negated is not None:
                return negated
        return Unary(str(operator), operand)

    def binary(self, children: list[Any]) -> Node:
        left, operator, right = children
        return Binary(str(operator), left, right)

    def conditional(self, children: list[Node]) -> Node:
        return Conditional(children[0], children[1], children[2])

    def elvis(self, children: list[Node]) -> Node:
        return Conditional(children[0], None, children[1])


_PARSER = build_parser(_GRAMMAR, _ToTree(), _PHRASES)
_parse = cached_parse(_PARSER, LANGUAGE, _PHRASES, size=2048)


def parse_expression(text: str) -> Node:
    """The tree of a JEXL expression (kept per text); `BadRequestData` naming the position
    of what is wrong."""
    if isinstance(text, str) and not text.strip():
        raise BadRequestData(f"{LANGUAGE}: an empty expression")
    tree: Node = _parse(text)
    return tree

"""The entity type selection language (ETSI GS CIM 009 V1.9.1 clause 4.17).

`A|B` or `A,B` (OR), `(A;B)` (AND), parentheses group. Beyond the ABNF, which allows AND only
inside one level of parentheses, `;` may appear anywhere and binds tighter than OR (as in q),
parentheses nest, and whitespace between tokens is ignored.

A type is a name (clause 4.6.2, also with `-` and other characters the broker accepts in type
names) or a URI; as the clause's NOTE warns, a URI containing `,` `;` `(` `)` or `|` cannot be
written here.
"""

from __future__ import annotations

from lark import Token

from dalgu.errors import BadRequestData
from dalgu.query.ast import TypeAnd, TypeExpr, TypeName, TypeOr
from dalgu.query.q import Logic, Node, build_parser, cached_parse


def every_type(text: object, local: object = None) -> bool:
    """Whether a `type` parameter is `*`: entities of every type (Table 6.4.3.2-1: "local is
    implicitly set to true and shall not be explicitly set to false"); a list naming `*`
    among other types selects every type too. `local=false` with it is a BadRequestData."""
    if not isinstance(text, str) or "*" not in {part.strip() for part in text.split(",")}:
        return False
    if isinstance(local, str) and local.lower() == "false":
        raise BadRequestData("type=* implies local=true: local shall not be false")
    return True


def is_type_selection(text: str) -> bool:
    """An entity selector's type is one name or a selection such as `(Building|Tower)`."""
    return any(c in text for c in ",;|()")


_GRAMMAR = r"""
start: disjunction
disjunction: conjunction                           -> first_or
           | disjunction (_OR | _COMMA) conjunction -> more_or
conjunction: atom                                  -> first_and
           | conjunction _AND atom                 -> more_and
?atom: TYPE                                        -> name
     | LPAR disjunction _RPAR                      -> group
TYPE: /[^\s,;|()"'<>=\[\]{}\\`]+/
LPAR: "("
_RPAR: ")"
_AND: ";"
_OR: "|"
_COMMA: ","
%ignore /\s+/
"""
_PHRASES = {
    "TYPE": "an entity type",
    "LPAR": "'('",
    "_AND": "';'",
    "_OR": "'|'",
    "_COMMA": "','",
    "_RPAR": "')'",
    "$END": "the end",
}


class _ToTypes(Logic):
    language = "type"
    AND = TypeAnd
    OR = TypeOr

    def name(self, children: list[Token]) -> Node:
        return Node(TypeName(str(children[0])))


_PARSER = build_parser(_GRAMMAR, _ToTypes(), _PHRASES)


_parse = cached_parse(_PARSER, "type", _PHRASES)


def parse_type_selection(text: str) -> TypeExpr:
    """Parse an entity type selection; raise `BadRequestData` naming the offending position."""
    expr: TypeExpr = _parse(text)
    return expr

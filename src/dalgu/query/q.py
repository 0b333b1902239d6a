"""Parser of the NGSI-LD query language `q` (ETSI GS CIM 009 V1.9.1 clause 4.9) into `QExpr`.

The grammar follows the clause's ABNF; where it departs, it accepts more, never less:

- parentheses nest to any depth (EXAMPLE 6 nests them, the ABNF's QueryTermAssoc does not);
- attribute names may also contain `-`, be compact IRIs (`ngsi-ld:foo`) or full IRIs
  (`http://example.org/speed`); the last segment of a full IRI ends at its first `.`, so
  `http://example.org/speed.observedAt` still addresses a sub-attribute;
- a compound path may be written `[a.b]` (the ABNF) or `[a][b]`; `[*]` is any language;
- after `==`/`!=`, unquoted words are strings (`gender==Male`, EXAMPLE 12) and URIs may be
  listed (`ref==urn:a,urn:b`); a URI ends at `,` `;` `|` `(` `)` (quote it to include them);
- the regular expression after `~=`/`!~=` is the ABNF's raw RegExp (up to `;`, `|`, `(`, `)`) or
  a quoted one, where only `\\"` is an escape and every other backslash reaches the regex engine;
- a dateTime may carry a UTC offset instead of `Z`; a `,` decimal separator becomes `.`;
- whitespace between tokens is ignored.

A quoted value is always a string, even when it looks like a date or a URI (the ABNF's
quotedStr). Linked-entity paths (`attr{...}`) are recognised and refused: they need Linked
Entity retrieval, which Dalgu does not offer. Every error is `BadRequestData` (clause 5.7.2.4:
a query that is not syntactically valid) and names the 0-based position of the offending input.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import orjson
from lark import Lark, Token, Transformer
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from dalgu.errors import BadRequestData
from dalgu.query.ast import (
    And,
    AttrPath,
    Comparison,
    Exists,
    Operator,
    Or,
    QExpr,
    QList,
    QRange,
    QValue,
)

MAX_LENGTH = 8192
MAX_DEPTH = 32

_GRAMMAR = r"""
start: disjunction
disjunction: conjunction (_OR conjunction)*
conjunction: term (_AND term)*
?term: LPAR disjunction _RPAR          -> group
     | attribute                       -> exists
     | attribute (EQ | NE) eq_value    -> comparison
     | attribute (GT | GE | LT | LE) comparable -> comparison
     | attribute (MATCH | NOMATCH) pattern      -> comparison
attribute: _name (_DOT _name)* compound*   -> path
         | _name LBRACE link _RBRACE       -> linked
link: _name (_COMMA _name)* (_DOT _name)* (LBRACE link _RBRACE)?
compound: _LSQB _member (_DOT _member)* _RSQB
_member: MEMBER | STAR
_name: NAME | IRI
?eq_value: comparable | other | uri | bareword | value_list | range
value_list: _item (_COMMA _item)+
_item: comparable | other | uri | bareword
range: comparable _DOTS comparable
comparable: NUMBER | STRING | DATETIME | DATE | TIME
other: TRUE | FALSE
uri: URI
bareword: BAREWORD
pattern: STRING | REGEX

_OR: "|"
_AND: ";"
LPAR: "("
_RPAR: ")"
LBRACE: "{"
_RBRACE: "}"
_LSQB: "["
_RSQB: "]"
_DOT: "."
_DOTS: ".."
_COMMA: ","
STAR: "*"
EQ: "=="
NE: "!="
GT: ">"
GE: ">="
LT: "<"
LE: "<="
MATCH: "~="
NOMATCH: "!~="
TRUE: "true"
FALSE: "false"
NAME: /[^\W\d][\w\-]*(?::[\w\-]+)*/
IRI.1: /[A-Za-z][A-Za-z0-9+.\-]*:\/(?:[^\s"'<>=!~;|,()\[\]{}\\^`]*[\/#])?[^\s"'<>=!~;|,()\[\]{}\\^`.\/#]*/
MEMBER: /[^\s.\[\]{}()"'=!<>~;|,*]+/
STRING: /"(?:[^"\\]|\\.)*"/s
DATETIME.5: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+|,\d+(?=Z|[+-]\d))?(?:Z|[+-]\d{2}:?\d{2})?/
DATE.4: /\d{4}-\d{2}-\d{2}/
TIME.4: /\d{2}:\d{2}:\d{2}(?:\.\d+|,\d+(?=Z))?Z?/
NUMBER.3: /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/
URI.1: /[A-Za-z][A-Za-z0-9+.\-]*:[^\s"<>{}\\^`;|(),]+/
BAREWORD: /[^\W\d][\w\-]*/
REGEX: /[^\s;|()"](?:[^;|()]*[^\s;|()])?/
%ignore /\s+/
"""

_COMPARABLE = frozenset({"NUMBER", "STRING", "DATETIME", "DATE", "TIME"})
_PHRASES = {
    "NAME": "an attribute name",
    "IRI": "an attribute name",
    "MEMBER": "a member name",
    "STAR": "'*'",
    "LPAR": "'('",
    "_DOT": "'.'",
    "_LSQB": "'['",
    "LBRACE": "'{'",
    "EQ": "an operator",
    "NE": "an operator",
    "GT": "an operator",
    "GE": "an operator",
    "LT": "an operator",
    "LE": "an operator",
    "MATCH": "an operator",
    "NOMATCH": "an operator",
    "REGEX": "a regular expression",
    "COMPARABLE": "a number, quoted string, dateTime, date or time",
    "NUMBER": "a value",
    "STRING": "a value",
    "DATETIME": "a value",
    "DATE": "a value",
    "TIME": "a value",
    "TRUE": "a value",
    "FALSE": "a value",
    "URI": "a value",
    "BAREWORD": "a value",
    "_DOTS": "'..'",
    "_COMMA": "','",
    "_RSQB": "']'",
    "_RBRACE": "'}'",
    "_AND": "';'",
    "_OR": "'|'",
    "_RPAR": "')'",
    "$END": "the end",
}


def syntax_error(
    language: str, text: str, exc: UnexpectedInput, phrases: Mapping[str, str]
) -> BadRequestData:
    """`BadRequestData` naming where a lark parse failed and, in words, what would have fitted.

    Shared by the other NGSI-LD languages, which borrow their operators from clause 4.9.
    """
    if isinstance(exc, UnexpectedCharacters):
        pos, names = exc.pos_in_stream, set(exc.allowed or ())
        found = repr(text[pos])
        if text[pos] == '"' and "STRING" in names:
            return BadRequestData(f"{language}: unterminated string at position {pos}")
    elif isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        pos, names = exc.token.start_pos or 0, set(exc.accepts or exc.expected)
        value = str(exc.token)
        found = repr(value if len(value) <= 24 else value[:24] + "…")
    else:
        pos, found = len(text), "end of input"
        names = set(getattr(exc, "accepts", None) or getattr(exc, "expected", None) or ())
    if "REGEX" in names:
        names.discard("STRING")
    if _COMPARABLE <= names and not names & {"BAREWORD", "URI", "TRUE"}:
        names = (names - _COMPARABLE) | {"COMPARABLE"}
    wanted = list(dict.fromkeys(p for name, p in phrases.items() if name in names))
    expected = ", ".join(wanted[:-1]) + " or " + wanted[-1] if len(wanted) > 1 else "".join(wanted)
    detail = f"{language}: unexpected {found} at position {pos}"
    return BadRequestData(f"{detail}; expected {expected}" if expected else detail)


@dataclass(frozen=True, slots=True)
class _Node:
    """An expression with the number of parentheses around its deepest part."""

    expr: QExpr
    depth: int


def _flatten(kind: type[And] | type[Or], nodes: list[_Node]) -> _Node:
    depth = max(node.depth for node in nodes)
    if len(nodes) == 1:
        return nodes[0]
    terms: list[QExpr] = []
    for node in nodes:
        terms.extend(node.expr.terms if isinstance(node.expr, kind) else (node.expr,))
    return _Node(kind(tuple(terms)), depth)


def _fail(token: Token, message: str) -> BadRequestData:
    return BadRequestData(f"q: {message} at position {token.start_pos}")


class _ToAst(Transformer[Token, Any]):
    """Builds the tree while lark parses (no intermediate parse tree, no recursion)."""

    def start(self, children: list[_Node]) -> QExpr:
        return children[0].expr

    def disjunction(self, children: list[_Node]) -> _Node:
        return _flatten(Or, children)

    def conjunction(self, children: list[_Node]) -> _Node:
        return _flatten(And, children)

    def group(self, children: list[Any]) -> _Node:
        inner: _Node = children[1]
        if inner.depth >= MAX_DEPTH:
            raise _fail(children[0], f"parentheses nested deeper than {MAX_DEPTH}")
        return _Node(inner.expr, inner.depth + 1)

    def exists(self, children: list[AttrPath]) -> _Node:
        return _Node(Exists(children[0]), 0)

    def comparison(self, children: list[Any]) -> _Node:
        path, op, value = children
        operator: Operator = op.value
        return _Node(Comparison(path, operator, value), 0)

    def path(self, children: list[Any]) -> AttrPath:
        names = [str(c) for c in children if isinstance(c, Token)]
        compound = [key for c in children if isinstance(c, list) for key in c]
        return AttrPath(names[0], tuple(names[1:]), tuple(compound))

    def compound(self, children: list[Token]) -> list[str]:
        if len(children) > 1 and any(c.type == "STAR" for c in children):
            raise _fail(children[0], "'*' must stand alone inside '[ ]'")
        return [str(c) for c in children]

    def linked(self, children: list[Any]) -> None:
        raise _fail(children[1], "linked-entity paths ('{') need Linked Entity retrieval (join)")

    def value_list(self, children: list[QValue]) -> QList:
        return QList(tuple(children))

    def range(self, children: list[QValue]) -> QRange:
        return QRange(children[0], children[1])

    def comparable(self, children: list[Token]) -> QValue:
        token = children[0]
        text = str(token)
        try:
            if token.type == "STRING":
                return QValue("string", orjson.loads(text))
            if token.type == "NUMBER":
                number = float(text) if any(c in text for c in ".eE") else int(text)
                if not math.isfinite(number):
                    raise ValueError(text)
                return QValue("number", number)
            text = text.replace(",", ".")
            if token.type == "DATETIME":
                datetime.fromisoformat(text)
                return QValue("datetime", text)
            if token.type == "DATE":
                date.fromisoformat(text)
                return QValue("date", text)
            time.fromisoformat(text)
            return QValue("time", text)
        except (ValueError, orjson.JSONDecodeError):
            kind = "string" if token.type == "STRING" else token.type.lower()
            raise _fail(token, f"invalid {kind} {_short(str(token))}") from None

    def other(self, children: list[Token]) -> QValue:
        return QValue("boolean", children[0].type == "TRUE")

    def uri(self, children: list[Token]) -> QValue:
        return QValue("uri", str(children[0]))

    def bareword(self, children: list[Token]) -> QValue:
        return QValue("string", str(children[0]))

    def pattern(self, children: list[Token]) -> QValue:
        token = children[0]
        if token.type == "REGEX":
            return QValue("string", str(token))
        body, out, i = str(token)[1:-1], [], 0
        while i < len(body):
            pair = body[i : i + 2]
            out.append('"' if pair == '\\"' else pair if pair[0] == "\\" else pair[0])
            i += 2 if pair[0] == "\\" else 1
        return QValue("string", "".join(out))


def _short(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "…")


_PARSER = Lark(_GRAMMAR, parser="lalr", lexer="contextual", transformer=_ToAst())


def parse_q(text: str) -> QExpr:
    """Parse a `q` expression; raise `BadRequestData` naming the offending position."""
    if not isinstance(text, str):
        raise BadRequestData("q: must be a string")
    if len(text) > MAX_LENGTH:
        raise BadRequestData(f"q: longer than {MAX_LENGTH} characters")
    try:
        expr: QExpr = _PARSER.parse(text)
    except UnexpectedInput as exc:
        raise syntax_error("q", text, exc, _PHRASES) from None
    except LarkError:
        raise BadRequestData("q: not a valid query") from None
    return expr

"""Parser of the NGSI-LD query language `q` (ETSI GS CIM 009 clause 4.9) into `QExpr` trees.

A small recursive-descent parser: `;` (AND) binds tighter than `|` (OR), parentheses nest,
attribute paths take `.sub` and `[key]` parts. Errors name the offending position.
"""

from __future__ import annotations

import re

from dalgu.errors import BadRequestData
from dalgu.query.ast import And, AttrPath, Comparison, Exists, Or, QExpr, QList, QRange, QValue

MAX_LENGTH = 8192
MAX_DEPTH = 32
_OPERATORS = ("!~=", "==", "!=", ">=", "<=", "~=", ">", "<")
_NAME_STOP = set("=!<>~;|()[].,\"' ")
_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z?$")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, expected: str) -> BadRequestData:
        found = "end of query" if self.pos >= len(self.text) else repr(self.text[self.pos])
        return BadRequestData(f"q: unexpected {found} at position {self.pos}; expected {expected}")

    def peek(self, token: str) -> bool:
        return self.text.startswith(token, self.pos)

    def expression(self, depth: int) -> QExpr:
        if depth > MAX_DEPTH:
            raise self.fail("less nesting")
        terms = [self.conjunction(depth)]
        while self.peek("|"):
            self.pos += 1
            terms.append(self.conjunction(depth))
        return terms[0] if len(terms) == 1 else Or(_flatten(Or, terms))

    def conjunction(self, depth: int) -> QExpr:
        terms = [self.atom(depth)]
        while self.peek(";"):
            self.pos += 1
            terms.append(self.atom(depth))
        return terms[0] if len(terms) == 1 else And(_flatten(And, terms))

    def atom(self, depth: int) -> QExpr:
        if self.peek("("):
            self.pos += 1
            inner = self.expression(depth + 1)
            if not self.peek(")"):
                raise self.fail("')'")
            self.pos += 1
            return inner
        path = self.path()
        for op in _OPERATORS:
            if self.peek(op):
                self.pos += len(op)
                value = self.value(op)
                return Comparison(path, op, value)  # type: ignore[arg-type]
        return Exists(path)

    def name(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in _NAME_STOP:
            self.pos += 1
        if self.pos == start:
            raise self.fail("an attribute name")
        return self.text[start : self.pos]

    def path(self) -> AttrPath:
        attr = self.name()
        sub: list[str] = []
        compound: list[str] = []
        while self.peek("."):
            self.pos += 1
            sub.append(self.name())
        while self.peek("["):
            self.pos += 1
            compound.append(self.name())
            if not self.peek("]"):
                raise self.fail("']'")
            self.pos += 1
        return AttrPath(attr, tuple(sub), tuple(compound))

    def value(self, op: str) -> QValue | QRange | QList:
        first = self.single()
        if op in ("~=", "!~="):
            return QValue("string", str(first.value))
        if self.peek(".."):
            self.pos += 2
            return QRange(first, self.single())
        if self.peek(","):
            values = [first]
            while self.peek(","):
                self.pos += 1
                values.append(self.single())
            return QList(tuple(values))
        return first

    def single(self) -> QValue:
        if self.peek('"') or self.peek("'"):
            quote = self.text[self.pos]
            end = self.text.find(quote, self.pos + 1)
            while end != -1 and self.text[end - 1] == "\\":
                end = self.text.find(quote, end + 1)
            if end == -1:
                raise self.fail("a closing quote")
            raw = self.text[self.pos + 1 : end].replace("\\" + quote, quote)
            self.pos = end + 1
            return QValue("string", raw)
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in ";|),":
            if self.peek(".."):
                break
            self.pos += 1
        token = self.text[start : self.pos]
        if not token or token[0] in "=<>!~(":
            self.pos = start
            raise self.fail("a value")
        return _literal(token)


def _literal(token: str) -> QValue:
    if token in ("true", "false"):
        return QValue("boolean", token == "true")
    if _NUMBER.match(token):
        number = float(token)
        return QValue("number", int(number) if number.is_integer() and "." not in token else number)
    if _DATETIME.match(token):
        return QValue("datetime", token)
    if _DATE.match(token):
        return QValue("date", token)
    if _TIME.match(token):
        return QValue("time", token)
    if ":" in token:
        return QValue("uri", token)
    return QValue("string", token)


def _flatten(kind: type[And] | type[Or], terms: list[QExpr]) -> tuple[QExpr, ...]:
    flat: list[QExpr] = []
    for term in terms:
        if isinstance(term, kind):
            flat.extend(term.terms)
        else:
            flat.append(term)
    return tuple(flat)


def parse_q(text: str) -> QExpr:
    """Parse a `q` expression; raise `BadRequestData` naming the bad position."""
    if len(text) > MAX_LENGTH:
        raise BadRequestData(f"q: longer than {MAX_LENGTH} characters")
    parser = _Parser(text.strip())
    expr = parser.expression(0)
    if parser.pos != len(parser.text):
        raise parser.fail("';', '|' or the end of the query")
    return expr

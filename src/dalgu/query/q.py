"""Parser of the NGSI-LD query language `q` (ETSI GS CIM 009 V1.9.1 clause 4.9) into `QExpr`.

The grammar follows the clause's ABNF; where it departs, it accepts more, never less:

- parentheses nest to any depth (EXAMPLE 6 nests them, the ABNF's QueryTermAssoc does not);
- attribute names may also contain `-`, be compact IRIs (`ngsi-ld:foo`) or full IRIs
  (`http://example.org/speed`); the last segment of a full IRI ends at its first `.`, so
  `http://example.org/speed.observedAt` still addresses a sub-attribute;
- a compound path may be written `[a.b]` (the ABNF) or `[a][b]`; `[*]` is any language;
- after `==`/`!=`, unquoted words are strings (`gender==Male`, EXAMPLE 12) and URIs may be
  listed (`ref==urn:a,urn:b`); a URI ends at `,` `;` `|` `(` `)` (quote it to include them);
- the regular expression after `~=`/`!~=` is the ABNF's raw RegExp or a quoted one, where only
  `\\"` is an escape and every other backslash reaches the regex engine. A raw one ends at `;`,
  `|`, `(` or `)`, except inside a group `(...)` (one level deep), a bracket expression `[...]`
  or after a backslash: `^(abc|def)$`, `[(]x[)]` and `a\\;b` are one pattern each;
- a dateTime may carry a UTC offset instead of `Z`; a `,` decimal separator becomes `.`;
- whitespace between tokens is ignored.

A quoted value is always a string, even when it looks like a date or a URI (the ABNF's
quotedStr). A linked-entity path (`sensor{humidity}`, `sensor{Device,Probe:humidity}`,
`a{b{c}}`, examples 13 and 14) becomes a `Linked` term; inside `{ }` a name's part before its
first `:` is the entity type hint (the ABNF's AttrName holds no `:`), so a compact IRI there
needs a hint before it (`sensor{Device:ex:humidity}`); they nest `MAX_LINKS` deep at most.
Every error is `BadRequestData` (clause 5.7.2.4: a query that is not syntactically valid) and
names the 0-based position of the offending input.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any

import orjson
from lark import Lark, Token, Transformer
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from dalgu.errors import BadRequestData, DalguError, quoted
from dalgu.query.ast import (
    And,
    AttrPath,
    Comparison,
    Exists,
    Linked,
    Operator,
    Or,
    QExpr,
    QList,
    QRange,
    QValue,
)
from dalgu.query.regex import pattern_problem

MAX_LENGTH = 8192
MAX_TOKENS = 512
MAX_DEPTH = 32
MAX_LINKS = 8  # relationships followed by one linked-entity path (`a{b{c}}` is two)

_GRAMMAR = r"""
start: disjunction
disjunction: conjunction                  -> first_or
           | disjunction _OR conjunction  -> more_or
conjunction: term                         -> first_and
           | conjunction _AND term        -> more_and
?term: LPAR disjunction _RPAR             -> group
     | attribute                          -> exists
     | attribute (EQ | NE) eq_value       -> comparison
     | attribute (GT | GE | LT | LE) comparable -> comparison
     | attribute (MATCH | NOMATCH) pattern      -> comparison
?attribute: dotted
          | attribute compound            -> with_compound
          | _name LBRACE link _RBRACE     -> linked
link: (_name _COMMA)* attribute
dotted: _name                             -> first_name
      | dotted _DOT _name                 -> more_name
compound: _LSQB members _RSQB
members: _member                          -> first_member
       | members _DOT _member             -> more_member
_member: MEMBER | STAR
_name: NAME | IRI
?eq_value: comparable | other | uri | bareword | value_list | range
value_list: _item _COMMA _item            -> first_items
          | value_list _COMMA _item       -> more_items
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
TRUE.2: /true(?![\w\-:])/
FALSE.2: /false(?![\w\-:])/
NAME: /[^\W\d][\w\-]*(?::[\w\-]+)*/
IRI.1: /[A-Za-z][A-Za-z0-9+\-]{0,31}:\/(?:[^\s"'<>=!~;|,()\[\]{}\\^`]*[\/#])?[^\s"'<>=!~;|,()\[\]{}\\^`.\/#]*/
MEMBER: /[^\s.\[\]{}()"'=!<>~;|,*]+/
STRING: /"(?:[^"\\]|\\.)*"/s
DATETIME.5: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+|,\d+(?=Z|[+-]\d))?(?:Z|[+-]\d{2}:?\d{2})?/
DATE.4: /\d{4}-\d{2}-\d{2}/
TIME.4: /\d{2}:\d{2}:\d{2}(?:\.\d+|,\d+(?=Z))?Z?/
NUMBER.3: /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/
URI.1: /[A-Za-z][A-Za-z0-9+.\-]{0,31}:[^\s"<>{}\\^`;|(),]+/
BAREWORD: /[^\W\d][\w\-]*/
REGEX: /(?:[^\s;|()"\\\[]|(?:\\.|\[\^?\]?[^\]]*\]|\((?:\\.|\[\^?\]?[^\]]*\]|[^()\\\[])*\)))(?:(?:[^;|()\\\[]|(?:\\.|\[\^?\]?[^\]]*\]|\((?:\\.|\[\^?\]?[^\]]*\]|[^()\\\[])*\)))*(?:[^\s;|()\\\[]|(?:\\.|\[\^?\]?[^\]]*\]|\((?:\\.|\[\^?\]?[^\]]*\]|[^()\\\[])*\))))?/
%ignore /\s+/
"""

_COMPARABLE = frozenset({"NUMBER", "STRING", "DATETIME", "DATE", "TIME"})
_PHRASES = {
    **dict.fromkeys(("NAME", "IRI"), "an attribute name"),
    "MEMBER": "a member name",
    "STAR": "'*'",
    "LPAR": "'('",
    "_DOT": "'.'",
    "_LSQB": "'['",
    "LBRACE": "'{'",
    **dict.fromkeys(("EQ", "NE", "GT", "GE", "LT", "LE", "MATCH", "NOMATCH"), "an operator"),
    "REGEX": "a regular expression",
    "COMPARABLE": "a number, quoted string, dateTime, date or time",
    **dict.fromkeys((*_COMPARABLE, "TRUE", "FALSE", "URI", "BAREWORD"), "a value"),
    "_DOTS": "'..'",
    "_COMMA": "','",
    "_RSQB": "']'",
    "_RBRACE": "'}'",
    "_AND": "';'",
    "_OR": "'|'",
    "_RPAR": "')'",
    "$END": "the end",
}


_LOOSE = frozenset({"REGEX", "MEMBER"})  # catch-alls: show one character, not what they swallow


def _syntax_error(
    language: str,
    text: str,
    exc: UnexpectedInput,
    phrases: Mapping[str, str],
    accepts: set[str] | None = None,
) -> BadRequestData:
    """`BadRequestData` naming where a lark parse failed and, in words, what would have fitted
    (`accepts`, when known, replaces lark's own idea of what could have come next).
    """
    if isinstance(exc, UnexpectedCharacters):
        pos, names = exc.pos_in_stream or 0, set(exc.allowed or ())
        found = repr(text[pos])
        if text[pos] == '"' and "STRING" in names:
            return BadRequestData(f"{language}: unterminated string at position {pos}")
    elif isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        pos, names = exc.token.start_pos or 0, set(exc.accepts or exc.expected)
        value = text[pos] if exc.token.type in _LOOSE else str(exc.token)
        found = repr(value if len(value) <= 24 else value[:24] + "…")
    else:
        pos, found = len(text), "end of input"
        names = set(getattr(exc, "accepts", None) or getattr(exc, "expected", None) or ())
    names = accepts or names
    if "REGEX" in names:
        names.discard("STRING")
    if names >= _COMPARABLE and not names & {"BAREWORD", "URI", "TRUE"}:
        names = (names - _COMPARABLE) | {"COMPARABLE"}
    wanted = list(dict.fromkeys(p for name, p in phrases.items() if name in names))
    expected = ", ".join(wanted[:-1]) + " or " + wanted[-1] if len(wanted) > 1 else "".join(wanted)
    detail = f"{language}: unexpected {found} at position {pos}"
    return BadRequestData(f"{detail}; expected {expected}" if expected else detail)


@dataclass(slots=True)
class _Budget:
    language: str
    left: int


_BUDGET: ContextVar[_Budget | None] = ContextVar("dalgu_query_token_budget", default=None)


def _spend(token: Token) -> Token:
    """Lexer callback: stop long before an input's length turns into parse time."""
    budget = _BUDGET.get()
    if budget is not None:
        budget.left -= 1
        if budget.left < 0:
            raise BadRequestData(
                f"{budget.language}: more than {MAX_TOKENS} tokens at position {token.start_pos}"
            )
    return token


def build_parser(
    grammar: str, transformer: Transformer[Token, Any], terminals: Iterable[str]
) -> Lark:
    """An LALR parser that builds its result while parsing, counting `terminals` as it lexes."""
    callbacks = {name: _spend for name in terminals if not name.startswith("$")}
    return Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        transformer=transformer,
        lexer_callbacks=callbacks,
    )


def cached_parse(
    parser: Lark, language: str, phrases: Mapping[str, str], size: int = 512
) -> Callable[[object], Any]:
    """`parse_text` for one language, each text's result kept (`size` texts): the results are
    immutable and dashboards repeat their queries. A text that fails is parsed each time."""

    @lru_cache(maxsize=size)
    def parse_string(text: str) -> Any:
        return parse_text(parser, language, text, phrases)

    def parse(text: object) -> Any:
        if isinstance(text, str):
            return parse_string(text)
        return parse_text(parser, language, text, phrases)  # what is wrong with it

    return parse


def _accepts_before(parser: Lark, text: str, failing: Token) -> set[str]:
    """What the parser would have taken instead of `failing`, asked before that token made it
    reduce (LALR reduces on a token before finding that it cannot shift it): re-parse up to it."""
    _BUDGET.set(_Budget("", MAX_TOKENS))
    interactive = parser.parse_interactive(text)
    try:
        for token in interactive.iter_parse():
            if failing.type != "$END" and token.start_pos == failing.start_pos:
                break
        accepts: set[str] = interactive.accepts()  # type: ignore[no-untyped-call]
    except (LarkError, DalguError):
        return set()
    return accepts


def parse_text(parser: Lark, language: str, text: object, phrases: Mapping[str, str]) -> Any:
    """Run `parser` on `text` under the length and token limits; every failure is a DalguError."""
    if not isinstance(text, str):
        raise BadRequestData(f"{language}: must be a string")
    if len(text) > MAX_LENGTH:
        raise BadRequestData(f"{language}: longer than {MAX_LENGTH} characters")
    try:
        text.encode()
    except UnicodeEncodeError as exc:  # a lone surrogate: no store could keep it
        raise BadRequestData(f"{language}: invalid character at position {exc.start}") from None
    if "\x00" in text:  # PostgreSQL text cannot hold NUL
        raise BadRequestData(f"{language}: NUL character at position {text.index(chr(0))}")
    reset = _BUDGET.set(_Budget(language, MAX_TOKENS))
    try:
        return parser.parse(text)
    except UnexpectedToken as exc:
        accepts = _accepts_before(parser, text, exc.token)
        raise _syntax_error(language, text, exc, phrases, accepts) from None
    except UnexpectedInput as exc:
        raise _syntax_error(language, text, exc, phrases) from None
    except LarkError:
        raise BadRequestData(f"{language}: not a valid expression") from None
    finally:
        _BUDGET.reset(reset)


@dataclass(frozen=True, slots=True)
class Node:
    """An expression with the number of parentheses around its deepest part."""

    expr: Any
    depth: int = 0


@dataclass(slots=True)
class Junction:
    """Terms joined by one logical operator, as they are read. The lists grow in place (the
    rules are left-recursive), so that a long expression costs linear time."""

    kind: type[Any]  # And/Or, ScopeAnd/ScopeOr, TypeAnd/TypeOr: each has `terms`
    terms: list[Any]
    depth: int = 0

    def add(self, node: Node) -> Junction:
        expr = node.expr
        self.terms.extend(expr.terms if isinstance(expr, self.kind) else (expr,))
        self.depth = max(self.depth, node.depth)
        return self

    def node(self) -> Node:
        expr = self.terms[0] if len(self.terms) == 1 else self.kind(tuple(self.terms))
        return Node(expr, self.depth)


class Logic(Transformer[Token, Any]):
    """The `;` (AND, binding tighter) and `|` (OR) of clause 4.9 with nesting parentheses, for
    grammars whose rules are named `first_or`, `more_or`, `first_and`, `more_and`, `group`."""

    language = "q"
    AND: type[Any] = And
    OR: type[Any] = Or

    def start(self, children: list[Junction]) -> Any:
        return children[0].node().expr

    def first_or(self, children: list[Junction]) -> Junction:
        return Junction(self.OR, []).add(children[0].node())

    def more_or(self, children: list[Junction]) -> Junction:
        return children[0].add(children[1].node())

    def first_and(self, children: list[Node]) -> Junction:
        return Junction(self.AND, []).add(children[0])

    def more_and(self, children: list[Any]) -> Junction:
        junction: Junction = children[0]
        return junction.add(children[1])

    def group(self, children: list[Any]) -> Node:
        inner: Node = children[1].node()
        if inner.depth >= MAX_DEPTH:
            raise BadRequestData(
                f"{self.language}: parentheses nested deeper than {MAX_DEPTH} "
                f"at position {children[0].start_pos}"
            )
        return Node(inner.expr, inner.depth + 1)


@dataclass(slots=True)
class _Path:
    names: list[str]
    compound: list[str]

    def freeze(self) -> AttrPath:
        return AttrPath(self.names[0], tuple(self.names[1:]), tuple(self.compound))


@dataclass(slots=True)
class _LinkedPath:
    relationship: str
    types: list[str]
    inner: _Path | _LinkedPath
    brace: Token
    depth: int


def _term(path: _Path | _LinkedPath, make: Callable[[AttrPath], QExpr]) -> QExpr:
    """The term `make` builds on the innermost path, inside a `Linked` for each `{ }`."""
    if isinstance(path, _Path):
        return make(path.freeze())
    return Linked(path.relationship, tuple(path.types), _term(path.inner, make))


def _fail(token: Token, message: str) -> BadRequestData:
    return BadRequestData(f"q: {message} at position {token.start_pos}")


class _ToAst(Logic):
    """Builds the tree while lark parses: no intermediate parse tree, no recursion."""

    def exists(self, children: list[_Path | _LinkedPath]) -> Node:
        return Node(_term(children[0], Exists), 0)

    def comparison(self, children: list[Any]) -> Node:
        path, op, value = children
        operator: Operator = op.value
        if isinstance(value, list):
            value = QList(tuple(value))
        if operator in ("~=", "!~=") and isinstance(value, QValue):
            reason = pattern_problem(str(value.value))
            if reason is not None:
                problem = f"{_short(str(value.value))} is not a regular expression ({reason})"
                raise _fail(op, problem) from None
        return Node(_term(path, lambda p: Comparison(p, operator, value)), 0)

    def first_name(self, children: list[Token]) -> _Path:
        return _Path([str(children[0])], [])

    def more_name(self, children: list[Any]) -> _Path:
        path: _Path = children[0]
        path.names.append(str(children[1]))
        return path

    def with_compound(self, children: list[Any]) -> _Path:
        path: _Path | _LinkedPath = children[0]
        if isinstance(path, _LinkedPath):
            raise _fail(path.brace, "nothing may follow a linked-entity path's '}'")
        if children[1] == ["*"]:  # any language: what the path without a language targets
            return path
        path.compound.extend(children[1])
        return path

    def compound(self, children: list[list[Token]]) -> list[str]:
        members = children[0]
        if len(members) > 1 and any(m.type == "STAR" for m in members):
            raise _fail(members[0], "'*' must stand alone inside '[ ]'")
        return [str(m) for m in members]

    def first_member(self, children: list[Token]) -> list[Token]:
        return [children[0]]

    def more_member(self, children: list[Any]) -> list[Token]:
        members: list[Token] = children[0]
        members.append(children[1])
        return members

    def linked(self, children: list[Any]) -> _LinkedPath:
        name, brace, (types, inner) = children
        if isinstance(inner, _LinkedPath) and inner.depth >= MAX_LINKS:
            raise _fail(brace, f"linked-entity paths nest deeper than {MAX_LINKS}")
        depth = inner.depth + 1 if isinstance(inner, _LinkedPath) else 1
        return _LinkedPath(str(name), types, inner, brace, depth)

    def link(self, children: list[Any]) -> tuple[list[str], _Path | _LinkedPath]:
        """`Type1,Type2:path` or `path`: the hint's last type is lexed with the path's first
        name (`Type2:path`), as a compact IRI would be; it is split off at its first `:`."""
        *hints, inner = children
        types = [str(t) for t in hints]
        first = inner.names[0] if isinstance(inner, _Path) else inner.relationship
        if ":" in first and ":/" not in first:  # not a full IRI
            hint, rest = first.split(":", 1)
            types.append(hint)
            if isinstance(inner, _Path):
                inner.names[0] = rest
            else:
                inner.relationship = rest
        elif types:
            raise _fail(hints[-1], "entity types before a linked path end with ':'")
        return types, inner

    def first_items(self, children: list[QValue]) -> list[QValue]:
        return [children[0], children[1]]

    def more_items(self, children: list[Any]) -> list[QValue]:
        values: list[QValue] = children[0]
        values.append(children[1])
        return values

    def range(self, children: list[QValue]) -> QRange:
        return QRange(children[0], children[1])

    def comparable(self, children: list[Token]) -> QValue:
        token = children[0]
        text = str(token)
        try:
            if token.type == "STRING":
                decoded = orjson.loads(text)
                if "\x00" in decoded:
                    raise ValueError(text)
                return QValue("string", decoded)
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
        """A quoted pattern keeps its backslashes for the regex engine; only `\\"` is a quote."""
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
    return quoted(text, 40)


_PARSER = build_parser(_GRAMMAR, _ToAst(), _PHRASES)


_parse = cached_parse(_PARSER, "q", _PHRASES)


def parse_q(text: str) -> QExpr:
    """Parse a `q` expression; raise `BadRequestData` naming the offending position."""
    expr: QExpr = _parse(text)
    return expr

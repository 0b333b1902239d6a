"""`q` over attribute instances (clause 4.9 on the temporal history), for both SQL stores.

An entity matches a comparison when one of its instances of that attribute inside the query's
time interval holds a matching value. The target value of an instance is what the entity
`q` searches (`dalgu.store.indexing`): a Property's value or a ListProperty's valueList with
every element of an array (the Equal operator matches when the value "is included in the
target value, if the latter is an array"), a Relationship's object or a ListRelationship's
objectList, a VocabProperty's vocab, a LanguageProperty's strings in any language or in the
one named (`name[fr]`), the JSON of a JsonProperty, members of compound values and JSON keys
(`address[street]`, `meta[id]`), and sub-attributes and the members `observedAt`, `unitCode`,
`datasetId`, `createdAt`, `modifiedAt` (`speed.accuracy`, `speed.unitCode`).

A plain Property holding a number or a string is compared on the `num` and `txt` columns of
its instance, without reading its document; everything else is read from the instance's
document through the store's JSON functions (`Json`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Protocol

from dalgu.broker.model import is_datetime
from dalgu.query.ast import (
    ATTRIBUTE_MEMBERS,
    And,
    AttrPath,
    Comparison,
    Exists,
    Linked,
    Or,
    QExpr,
    QList,
    QRange,
    QValue,
    unresolved,
)
from dalgu.store.history import parse_time
from dalgu.store.indexing import temporal_shape

_SQL_OPS = {"==": "=", "!=": "=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}
#: members of an instance that `attr.member` compares (other built-in names match nothing)
_MEMBERS = frozenset({"observedAt", "unitCode", "datasetId", "createdAt", "modifiedAt"})
#: the members holding the URIs of Relationships, ListRelationships and VocabProperties
_URIS = ("object", "objectList", "vocab")
#: what `txt` holds for a value that is no plain string: JSON text of arrays and objects, and
#: `true`/`false` (a string "true" and the boolean true have the same `txt`). Never NULL: a
#: NULL would have `… AND <document test>` read the document of every number's instance
_NOT_PLAIN = (
    "(x.txt IS NOT NULL AND (substr(x.txt, 1, 1) IN ('[', '{') OR x.txt IN ('true', 'false')))"
)
_COMPOUND = "(x.txt IS NOT NULL AND substr(x.txt, 1, 1) IN ('[', '{'))"


class Params(Protocol):
    def p(self, value: Any) -> str: ...


#: SQL selecting the entity's instances in the interval (alias `x`), appending its parameters
Scope = Callable[[Params], str]
#: SQL testing text `column` against a client's regular expression, binding it with `Params`
#: (in the store's own syntax: `dalgu.query.regex_syntax`)
Regex = Callable[[str, str, Params], str]
#: SQL of a test on one leaf (through `Json.typed`), appending its parameters
LeafTest = Callable[[], str]
#: SQL of `EXISTS` an instance of the attribute in the interval passing a test (` AND …`)
Has = Callable[[Callable[[], str]], str]


@dataclass(frozen=True, slots=True)
class Leaves:
    """Where values are in a (sub-)attribute instance: its member `member` (`value`,
    `languageMap`, `observedAt`, …), then `compound` keys inside it (None: any one key, the
    languages of a languageMap); every array on the way is looked through. `unwrap`: a
    JSON-LD value object (`{"@value": …}`) stands for its `@value`; `below`: the leaves
    inside objects there too; `property`: only in a Property (no GeoProperty's geometry)."""

    member: str
    compound: tuple[str, ...] | None = ()
    unwrap: bool = False
    below: bool = False
    property: bool = False


class Json(Protocol):
    """The JSON functions of one store, over the document of instance `x`."""

    def mentions(self, key: str, c: Params) -> str:
        """SQL true when the instance's document holds the member name `key` (a cheap test
        on its bytes, before they are parsed)."""
        ...

    def present(self, sub: tuple[str, ...], c: Params) -> str:
        """SQL true when the instance has the sub-attribute at `sub`."""
        ...

    def leaves(
        self, sub: tuple[str, ...], choices: tuple[Leaves, ...], test: LeafTest, c: Params
    ) -> str:
        """SQL true when one leaf (a string, number, boolean or null) at one of `choices` of
        the (sub-)attribute at `sub` (`()`: the instance itself) passes `test`."""
        ...

    def typed(self, kind: str) -> tuple[str, str]:
        """(condition that the leaf is a `kind` value, SQL of the leaf as that kind) for the
        kinds number, boolean, string, datetime (a canonical UTC form)."""
        ...

    def moment(self, text: str) -> Any:
        """A date-time literal as `typed("datetime")` gives a leaf."""
        ...


def q_sql(expr: QExpr, c: Params, scope: Scope, regex: Regex, json: Json) -> str:
    if isinstance(expr, (And, Or)):
        joiner = " AND " if isinstance(expr, And) else " OR "
        return "(" + joiner.join(q_sql(t, c, scope, regex, json) for t in expr.terms) + ")"
    if isinstance(expr, Linked):
        raise unresolved(expr)
    path = expr.path
    whole = not path.sub and not path.compound

    def has(test: Callable[[], str]) -> str:
        # placeholders in the order of the text (SQLite's are positional)
        inner = scope(c)
        name = c.p(path.attr)
        return f"EXISTS ({inner} AND x.name = {name} AND x.deleted_at IS NULL{test()})"

    if isinstance(expr, Exists):
        if whole:
            return has(lambda: "")
        if not path.compound and path.sub[-1] not in _MEMBERS:
            # a sub-attribute, whatever it holds
            if any(s in ATTRIBUTE_MEMBERS for s in path.sub):
                return "(1 = 0)"
            return has(lambda: _gate(path, json, c) + json.present(path.sub, c))
        return has(lambda: _gate(path, json, c) + _targets(path, json, c, None, True))
    assert isinstance(expr, Comparison)
    negated = expr.op in ("!=", "!~=")
    op = {"!=": "==", "!~=": "~="}.get(expr.op, expr.op)
    match = _Match(op, expr.value, json, c, regex)

    def test() -> str:
        if whole:
            return match.whole(has)
        return has(lambda: _gate(path, json, c) + _targets(path, json, c, match, False))

    if not negated:
        return test()
    # present (a value at the path), and no instance in the interval matches; `present` is
    # built first, its placeholders coming first in the text
    if whole:
        present = has(lambda: "")
    else:
        present = has(lambda: _gate(path, json, c) + _targets(path, json, c, None, False))
    return f"({present} AND NOT {test()})"


def _gate(path: AttrPath, json: Json, c: Params) -> str:
    """` AND …` a cheap test an instance passes before its document is read for `path`:
    the name of the sub-attribute or member in its document, or a compound value."""
    if path.sub:
        return f" AND {json.mentions(path.sub[0], c)} AND "
    return f" AND {_COMPOUND} AND "


def _targets(
    path: AttrPath | None, json: Json, c: Params, match: _Match | None, below: bool
) -> str:
    """SQL true when the instance's target value at `path` (None: its own value) holds a leaf
    that `match` takes (None: any leaf; `below`: one inside a compound member too)."""
    sub, compound = (path.sub, path.compound) if path is not None else ((), ())
    test: LeafTest = match.leaf if match is not None else (lambda: "1 = 1")
    if sub and sub[-1] in _MEMBERS:
        if compound or any(s in ATTRIBUTE_MEMBERS for s in sub[:-1]):
            return "1 = 0"
        return json.leaves(sub[:-1], (Leaves(sub[-1], below=below),), test, c)
    if any(s in ATTRIBUTE_MEMBERS for s in sub):
        return "1 = 0"  # `value`, `type`, … name no sub-attribute
    choices = [
        Leaves("value", compound, unwrap=True, below=below, property=True),
        Leaves("valueList", compound, unwrap=True, below=below),
    ]
    if not compound:
        choices += [Leaves(member, below=below) for member in _URIS]
    choices.append(Leaves("json", compound, below=below))
    if len(compound) <= 1:
        choices.append(Leaves("languageMap", compound or None))
    return json.leaves(sub, tuple(choices), test, c)


class _Match:
    """One comparison's test on a leaf, and on a whole attribute's instance."""

    def __init__(
        self, op: str, value: QValue | QRange | QList, json: Json, c: Params, regex: Regex
    ) -> None:
        self.op = op
        self.value = value
        self.json = json
        self.c = c
        self.regex = regex

    def leaf(self) -> str:
        """SQL of the test on one leaf (the store's `typed` reads its type and value)."""
        return self._leaf(self.value)

    def _leaf(self, value: QValue | QRange | QList) -> str:
        c = self.c
        if self.op == "~=":
            assert isinstance(value, QValue)
            condition, text = self.json.typed("string")
            return f"({condition} AND {self.regex(text, str(value.value), c)})"
        if isinstance(value, QList):
            return "(" + " OR ".join(self._leaf(v) for v in value.values) + ")"
        if isinstance(value, QRange):
            low_kind, low = self._literal(value.low)
            high_kind, high = self._literal(value.high)
            if low_kind != high_kind:
                return "1 = 0"
            condition, typed = self.json.typed(low_kind)
            compared = f"{condition} AND {typed} >= {c.p(low)} AND {typed} <= {c.p(high)}"
            return f"({compared}{self._shaped(value.low, '>=', *self.json.typed('string'))})"
        kind, literal = self._literal(value)
        condition, typed = self.json.typed(kind)
        compared = f"{condition} AND {typed} {_SQL_OPS[self.op]} {c.p(literal)}"
        return f"({compared}{self._shaped(value, self.op, *self.json.typed('string'))})"

    def _shaped(self, value: QValue, op: str, condition: str, text: str) -> str:
        """` AND …` the text compared is a value of the literal's temporal type, when the
        literal is a Date, a Time or a DateTime and the operator orders (clause 4.9: no
        match between different data types; a Date is not before a Time), as the entity
        `q` does (`dalgu.store.indexing.temporal_shape`); empty otherwise. `text`: the SQL
        of the value as text, when `condition` holds."""
        shape = temporal_shape(value, op)
        if shape is None:
            return ""
        return f" AND {condition} AND {self.regex(text, shape[1], self.c)}"

    def _literal(self, value: QValue) -> tuple[str, Any]:
        if value.kind == "number":
            return "number", float(value.value)
        if value.kind == "boolean":
            return "boolean", 1 if value.value else 0
        text = str(value.value)
        if is_datetime(text):
            return "datetime", self.json.moment(text)
        return "string", text

    def whole(self, has: Has) -> str:
        """The test on the instances of the attribute itself (`has` wraps a condition on one):
        its `num` or `txt` when it holds a number or a plain string, else its document
        (compound values, lists, languageMaps, booleans, date-times in any notation)."""
        return self._whole(self.value, has)

    def _whole(self, value: QValue | QRange | QList, has: Has) -> str:
        c = self.c
        if isinstance(value, QList):
            return "(" + " OR ".join(self._whole(v, has) for v in value.values) + ")"
        if self.op == "~=":
            assert isinstance(value, QValue)

            def pattern() -> str:
                plain = f"(NOT {_NOT_PLAIN} AND {self.regex('x.txt', str(value.value), c)})"
                return f" AND ({plain} OR ({_NOT_PLAIN} AND {self._document(value)}))"

            return has(pattern)
        kinds = {self._literal(v)[0] for v in _values(value)}
        if len(kinds) != 1:
            return "(1 = 0)"
        kind = kinds.pop()
        if kind == "number":
            # the document is read only for an instance without a number: SQLite's history
            # index holds `num`, and the row is fetched only when another column is read
            def number() -> str:
                if isinstance(value, QRange):
                    low, high = float(value.low.value), float(value.high.value)
                    plain = f"x.num >= {c.p(low)} AND x.num <= {c.p(high)}"
                else:
                    plain = f"x.num {_SQL_OPS[self.op]} {c.p(float(value.value))}"
                compound = f"x.num IS NULL AND {_COMPOUND}"
                return f" AND (({plain}) OR ({compound} AND {self._document(value)}))"

            return has(number)
        if kind == "string":

            def text() -> str:
                if isinstance(value, QRange):
                    low, high = str(value.low.value), str(value.high.value)
                    plain = f"x.txt >= {c.p(low)} AND x.txt <= {c.p(high)}"
                    plain += self._shaped(value.low, ">=", "1 = 1", "x.txt")
                else:
                    plain = f"x.txt {_SQL_OPS[self.op]} {c.p(str(value.value))}"
                    plain += self._shaped(value, self.op, "1 = 1", "x.txt")
                document = f"({_NOT_PLAIN} AND {self._document(value)})"
                return f" AND ((NOT {_NOT_PLAIN} AND {plain}) OR {document})"

            return has(text)
        # booleans and date-times: from the document (the leaf's JSON type, its time)
        return has(lambda: f" AND x.num IS NULL AND {self._document(value)}")

    def _document(self, value: QValue | QRange) -> str:
        single = _Match(self.op, value, self.json, self.c, self.regex)
        return _targets(None, self.json, self.c, single, False)


def _values(value: QValue | QRange) -> tuple[QValue, ...]:
    return (value.low, value.high) if isinstance(value, QRange) else (value,)


def canonical_moment(text: str) -> str:
    """A date-time as `2026-11-25T04:00:00.000Z` (UTC, milliseconds): the form SQLite's
    `strftime('%Y-%m-%dT%H:%M:%fZ', …)` gives a stored one."""
    moment = parse_time(text).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

"""Typed trees of the NGSI-LD query languages (ETSI GS CIM 009 clauses 4.9, 4.10, 4.17, 4.19).

Parsers (`q.py`, `geo.py`, `scope.py`, `typesel.py`) turn request text into these trees once;
the HTTP edge then expands attribute and type names to IRIs (`map_names`), and each store
translates the tree to SQL. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeAlias

from dalgu.errors import OperationNotSupported

# --- q: the NGSI-LD query language (clause 4.9) -------------------------------------------

ValueKind = Literal["number", "string", "boolean", "datetime", "date", "time", "uri"]
Operator = Literal["==", "!=", ">", ">=", "<", "<=", "~=", "!~="]


@dataclass(frozen=True, slots=True)
class AttrPath:
    """`attr`, `attr.sub.subsub` (sub-attributes) or `attr[key][key2]` (inside a compound value).

    `sub` may name a sub-attribute or one of the attribute's own members such as `observedAt`,
    `unitCode`, `createdAt`, `modifiedAt`, `datasetId`.
    """

    attr: str
    sub: tuple[str, ...] = ()
    compound: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class QValue:
    """One literal. `value` is float|int for numbers, bool for booleans, str otherwise."""

    kind: ValueKind
    value: float | int | bool | str


@dataclass(frozen=True, slots=True)
class QRange:
    low: QValue
    high: QValue


@dataclass(frozen=True, slots=True)
class QList:
    values: tuple[QValue, ...]


@dataclass(frozen=True, slots=True)
class Comparison:
    """`path op value`; `~=`/`!~=` carry a `string` QValue holding the regular expression."""

    path: AttrPath
    op: Operator
    value: QValue | QRange | QList


@dataclass(frozen=True, slots=True)
class Exists:
    """A bare attribute path: true when the entity has it."""

    path: AttrPath


@dataclass(frozen=True, slots=True)
class And:
    terms: tuple[QExpr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    terms: tuple[QExpr, ...]


@dataclass(frozen=True, slots=True)
class Linked:
    """`relationship{Type1,Type2:term}` (clause 4.9, examples 13 and 14): the entity has the
    Relationship `relationship`, one of whose objects is an entity (of one of `types`, when
    the hint gives any) that `term` holds for. `term` is a Comparison, an Exists or another
    Linked, whose path names the linked entity's attributes."""

    relationship: str
    types: tuple[str, ...]
    term: QExpr


QExpr: TypeAlias = Comparison | Exists | And | Or | Linked


def has_linked(expr: QExpr) -> bool:
    """Whether `expr` follows a Relationship to another entity anywhere (`rel{...}`)."""
    if isinstance(expr, And | Or):
        return any(has_linked(t) for t in expr.terms)
    return isinstance(expr, Linked)


def linked_depth(expr: QExpr) -> int:
    """How many Relationships `expr` follows at most in one path (`a{b{c}}` is 2, `a{c}` 1,
    a term without `{ }` 0): its Linked Entity attribute query depth (clause 5.7.2.4)."""
    if isinstance(expr, And | Or):
        return max(linked_depth(t) for t in expr.terms)
    if isinstance(expr, Linked):
        return 1 + linked_depth(expr.term)
    return 0


def unresolved(expr: Linked) -> OperationNotSupported:
    """What a reader of `q` that cannot follow Relationships (a store's SQL, a subscription's
    matching) answers a linked-entity term: the entity service resolves them first."""
    return OperationNotSupported(
        f"q: linked-entity terms ({expr.relationship}{{...}}) are not supported here"
    )


def map_names(expr: QExpr, attr: Callable[[str], str]) -> QExpr:
    """Return `expr` with every attribute and sub-attribute name passed through `attr`, and
    the type hints of linked terms too (types and attributes expand alike, clause 5.5.7).

    Compound keys (`[key]`) are left as they are: they name JSON members of a value.
    Built-in members of an attribute (`observedAt`, `unitCode`, ...) are kept as they are too.
    """
    if isinstance(expr, And):
        return And(tuple(map_names(t, attr) for t in expr.terms))
    if isinstance(expr, Or):
        return Or(tuple(map_names(t, attr) for t in expr.terms))
    if isinstance(expr, Linked):
        types = tuple(attr(t) for t in expr.types)
        return Linked(attr(expr.relationship), types, map_names(expr.term, attr))
    path = expr.path
    new_path = replace(
        path,
        attr=attr(path.attr),
        sub=tuple(s if s in ATTRIBUTE_MEMBERS else attr(s) for s in path.sub),
    )
    return replace(expr, path=new_path)


def expand_values(expr: QExpr, attrs: frozenset[str], expand: Callable[[str], str]) -> QExpr:
    """`expr` with the string values compared (`==`, `!=`) with the attributes `attrs` names
    passed through `expand` (`expandValues`, clause 4.9: `gender==Male` against a
    VocabProperty holding `http://example.org/Male`)."""
    if isinstance(expr, And):
        return And(tuple(expand_values(t, attrs, expand) for t in expr.terms))
    if isinstance(expr, Or):
        return Or(tuple(expand_values(t, attrs, expand) for t in expr.terms))
    if isinstance(expr, Linked):
        return replace(expr, term=expand_values(expr.term, attrs, expand))
    if (
        not isinstance(expr, Comparison)
        or expr.path.attr not in attrs
        or expr.op not in ("==", "!=")
    ):
        return expr

    def one(value: QValue) -> QValue:
        if value.kind in ("string", "uri") and isinstance(value.value, str):
            return QValue("string", expand(value.value))
        return value

    if isinstance(expr.value, QValue):
        return replace(expr, value=one(expr.value))
    if isinstance(expr.value, QList):
        return replace(expr, value=QList(tuple(one(v) for v in expr.value.values)))
    return expr


ATTRIBUTE_MEMBERS = frozenset(
    {
        "type",
        "value",
        "object",
        "languageMap",
        "vocab",
        "valueList",
        "objectList",
        "json",
        "observedAt",
        "unitCode",
        "datasetId",
        "createdAt",
        "modifiedAt",
        "deletedAt",
        "objectType",
        "valueType",
        "expiresAt",
        "instanceId",
    }
)

# --- geoQ (clause 4.10) -------------------------------------------------------------------

GeoRel = Literal["near", "within", "contains", "intersects", "equals", "disjoint", "overlaps"]


@dataclass(frozen=True, slots=True)
class GeoQuery:
    """A geo-query; `shape` is a valid shapely geometry in lon/lat (WGS 84) order.

    For `near`, exactly one of `max_distance` / `min_distance` is set, in metres.
    `geoproperty` is the attribute name (a term before expansion, an IRI after).
    """

    georel: GeoRel
    geometry: str  # GeoJSON type name: Point, LineString, Polygon, MultiPoint, ...
    coordinates: Any  # the GeoJSON coordinates as given (lists of floats)
    shape: Any  # shapely.geometry.base.BaseGeometry
    geoproperty: str = "location"
    max_distance: float | None = None
    min_distance: float | None = None


# --- scopeQ (clause 4.19) -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScopePattern:
    """`/a/b`, `/a/+/c` (one level), `/a/#` (this scope and everything below), `/#` (any).

    `segments` excludes the leading empty segment: `/a/+/c` → ("a", "+", "c").
    """

    segments: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ScopeAnd:
    terms: tuple[ScopeExpr, ...]


@dataclass(frozen=True, slots=True)
class ScopeOr:
    terms: tuple[ScopeExpr, ...]


ScopeExpr: TypeAlias = ScopePattern | ScopeAnd | ScopeOr

# --- entity type selection (clause 4.17) --------------------------------------------------


@dataclass(frozen=True, slots=True)
class TypeName:
    name: str  # a term before expansion, an IRI after


@dataclass(frozen=True, slots=True)
class TypeAnd:
    terms: tuple[TypeExpr, ...]


@dataclass(frozen=True, slots=True)
class TypeOr:
    terms: tuple[TypeExpr, ...]


TypeExpr: TypeAlias = TypeName | TypeAnd | TypeOr


def map_type_names(expr: TypeExpr, name: Callable[[str], str]) -> TypeExpr:
    if isinstance(expr, TypeName):
        return TypeName(name(expr.name))
    cls = type(expr)
    return cls(tuple(map_type_names(t, name) for t in expr.terms))


def names_either(expr: TypeExpr) -> tuple[str, ...] | None:
    """The names of a selection that is a name or an OR of names (the entities of any of
    them), sorted; None for anything else."""
    if isinstance(expr, TypeName):
        return (expr.name,)
    if isinstance(expr, TypeOr) and all(isinstance(t, TypeName) for t in expr.terms):
        return tuple(sorted({t.name for t in expr.terms if isinstance(t, TypeName)}))
    return None


def type_holds(expr: TypeExpr, types: set[str]) -> bool:
    """Whether an entity of `types` is selected by the type selection `expr` (clause 4.17)."""
    if isinstance(expr, TypeName):
        return expr.name in types
    if isinstance(expr, TypeAnd):
        return all(type_holds(t, types) for t in expr.terms)
    return any(type_holds(t, types) for t in expr.terms)

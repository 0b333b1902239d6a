"""The searchable rows of an entity, independent of the backend that stores them.

`q` is answered from one row per (attribute instance, leaf value): attribute IRI, a path inside
the instance, a kind and a typed value. Paths:

    '#'                       marker of an instance; txt = its attribute type
    ''                        a leaf of the value (every element of an array)
    '[street][no]'            a leaf inside a compound (JSON object) value, or inside the
                              JSON of a JsonProperty (`json`, indexed as a Property's value)
    '.observedAt'             a member of the instance (observedAt, unitCode, datasetId)
    '.<sub IRI>#', '.<sub IRI>', '.<sub IRI>[k]', '.<sub IRI>.<subsub IRI>' … sub-attributes

Kinds: '#' marker, 'n' number (num), 'b' boolean (num 0/1), 's' string (txt), 'z' null.
Strings that are ISO 8601 date-times are indexed in one canonical UTC form, so that they order
correctly; `canonical_datetime` gives query literals the same form.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple

from dalgu.broker.model import MEMBERS, Entity, attribute_iris, is_datetime
from dalgu.query.ast import ATTRIBUTE_MEMBERS, Comparison, QValue

# createdAt/modifiedAt of instances are not indexed: they cost two rows per attribute on every
# write and q on them is rare; entity-level times live in the entity document.
_INDEXED_MEMBERS = ("observedAt", "unitCode", "datasetId")
_MEMBER_PATHS = tuple((member, f".{member}") for member in _INDEXED_MEMBERS)
_MAX_DEPTH = 16
_TIMES = frozenset({"createdAt", "modifiedAt"})


class IndexRow(NamedTuple):
    name: str
    path: str
    kind: str
    num: float | None
    txt: str | None


class GeoRow(NamedTuple):
    name: str
    geometry: dict[str, Any]


@lru_cache(maxsize=4096)
def canonical_datetime(text: str) -> str:
    """An ISO date-time in UTC with microseconds: `2026-11-25T04:00:00.000000Z`."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return utc_text(value)


def utc_text(value: datetime) -> str:
    """An aware date-time in the canonical form of `canonical_datetime`."""
    # isoformat, not strftime: "%Y" writes year 1 as "1", which no parser reads back
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def index_rows(entity: Entity) -> list[IndexRow]:
    rows: list[IndexRow] = []
    for iri in attribute_iris(entity):
        for instance in entity[iri]:
            _instance_rows(iri, "", instance, rows)
    return rows


def attribute_rows(iri: str, instances: list[dict[str, Any]]) -> list[IndexRow]:
    """The rows of one attribute's instances (`index_rows` is these, attribute by attribute)."""
    rows: list[IndexRow] = []
    for instance in instances:
        _instance_rows(iri, "", instance, rows)
    return rows


def changed_attributes(before: Entity, after: Entity) -> list[str]:
    """The attributes whose index rows may differ between two states of an entity.

    An attribute written again with the same content differs only in its instances'
    createdAt/modifiedAt, which are not indexed: a fleet feed that sends every attribute of a
    vehicle with a new speed changes the rows of `speed` alone.
    """
    changed: list[str] = []
    for iri in attribute_iris(after):
        if iri not in before or not _same_but_times(before[iri], after[iri]):
            changed.append(iri)
    changed.extend(iri for iri in attribute_iris(before) if iri not in after)
    return changed


def _same_but_times(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> bool:
    if old is new:
        return True
    if len(old) != len(new):
        return False
    # loops, not all(): every update runs this on every attribute, and the generators made
    # changed_attributes of a five-attribute vehicle 7.9 µs instead of 5.4
    for a, b in zip(old, new, strict=True):  # noqa: SIM110
        if not same_but_times(a, b):
            return False
    return True


def same_but_times(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two instances of an attribute differ in their createdAt/modifiedAt at most:
    what the broker sets on every write, no change of the attribute (nor of its rows)."""
    if a is b:
        return True
    for key, value in a.items():
        if key not in _TIMES and (key not in b or b[key] != value):
            return False
    for key in b:  # noqa: SIM110 - a loop for speed, as in _same_but_times
        if key not in a and key not in _TIMES:
            return False
    return True


# members whose rows a plain Property's instance can have; `_instance_rows` makes one row of
# each that holds a scalar, besides its marker
_PLAIN_KEYS = ("value", *_INDEXED_MEMBERS)
_SCALARS = (str, int, float, bool, type(None))


def _plain_readings(
    old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The two instances when both sides are one Property with a value and members only."""
    if len(old) != 1 or len(new) != 1:
        return None
    a, b = old[0], new[0]
    if (
        a.get("type", "Property") != "Property"
        or b.get("type", "Property") != "Property"
        or "value" not in a
        or "value" not in b
        or not MEMBERS.issuperset(a)
        or not MEMBERS.issuperset(b)
    ):
        return None
    return a, b


def replaced_rows(
    name: str, old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> tuple[list[IndexRow], list[IndexRow]] | None:
    """(rows removed, rows added) when attribute `name`'s instances `old` become `new`: the rows
    of `attribute_rows` on one side only, or None unless this is a plain reading.

    A plain reading: one instance on each side, both Properties with a scalar value, and
    members only (no sub-attribute). Each of its rows then has its own path (the marker, the
    value, observedAt, unitCode, datasetId), so comparing the two instances member by member
    gives what comparing their whole row sets gives, without making them.
    """
    pair = _plain_readings(old, new)
    if pair is None:
        return None
    a, b = pair
    removed: list[IndexRow] = []
    added: list[IndexRow] = []
    for key in _PLAIN_KEYS:
        before, after = a.get(key, a), b.get(key, b)  # the instance itself: no such member
        if type(before) is type(after) and before == after:
            continue
        if (before is not a and not isinstance(before, _SCALARS)) or (
            after is not b and not isinstance(after, _SCALARS)
        ):
            return None
        path = "" if key == "value" else f".{key}"
        old_rows: list[IndexRow] = []
        new_rows: list[IndexRow] = []
        if before is not a:
            _leaf_rows(name, path, before, old_rows, 0)
        if after is not b:
            _leaf_rows(name, path, after, new_rows, 0)
        if old_rows != new_rows:  # e.g. two spellings of one date-time
            removed.extend(old_rows)
            added.extend(new_rows)
    return removed, added


def changed_in_place(
    name: str, old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> list[tuple[int, IndexRow]] | None:
    """The rows of attribute `name` that change when `old` becomes `new`, each with its place
    among the attribute's rows (`attribute_rows`), or None unless both are plain readings with
    the same members.

    A plain reading (`replaced_rows`) makes one row per member in a fixed order: the marker,
    the value, then observedAt, unitCode and datasetId where present. With the same members on
    both sides every row keeps its place, so the rows to write are the new rows of the members
    that changed: what comparing the two whole row lists place by place gives, without making
    them (every fleet update and sensor reading of the SQLite store).
    """
    pair = _plain_readings(old, new)
    if pair is None:
        return None
    a, b = pair
    changed: list[tuple[int, IndexRow]] = []
    place = 1  # the marker is row 0, and a Property's marker is the same on both sides
    for key in _PLAIN_KEYS:
        if key not in a:
            if key in b:
                return None
            continue
        if key not in b:
            return None
        before, after = a[key], b[key]
        if not isinstance(before, _SCALARS) or not isinstance(after, _SCALARS):
            return None
        if type(before) is not type(after) or before != after:
            path = "" if key == "value" else f".{key}"
            old_rows: list[IndexRow] = []
            new_rows: list[IndexRow] = []
            _leaf_rows(name, path, before, old_rows, 0)
            _leaf_rows(name, path, after, new_rows, 0)
            if old_rows != new_rows:  # not two spellings of one date-time
                changed.append((place, new_rows[0]))
        place += 1
    return changed


def multi_valued(rows: list[IndexRow]) -> list[tuple[str, str]]:
    """(attribute, path) pairs with more than one value row: an array, several instances.

    A q with several bounds on one path (`speed>=60;speed<62`) may match such an entity
    through different values, so a plan that looks for one row within all the bounds
    (`dalgu.store.sqlite.plan`) takes these entities as candidates too.
    """
    seen: set[tuple[str, str]] = set()
    multi: dict[tuple[str, str], None] = {}
    for row in rows:
        if row.kind == "#":
            continue
        key = (row.name, row.path)
        if key in seen:
            multi[key] = None
        else:
            seen.add(key)
    return list(multi)


def geo_rows(entity: Entity) -> list[GeoRow]:
    rows: list[GeoRow] = []
    for iri in attribute_iris(entity):
        for instance in entity[iri]:
            if instance.get("type") == "GeoProperty" and isinstance(instance.get("value"), dict):
                rows.append(GeoRow(iri, instance["value"]))
    return rows


def _instance_rows(name: str, prefix: str, instance: dict[str, Any], rows: list[IndexRow]) -> None:
    kind = instance.get("type", "Property")
    rows.append(IndexRow(name, prefix + "#", "#", None, kind))
    if kind == "Property" or kind == "ListProperty":
        value = instance["value"] if "value" in instance else instance.get("valueList")
        _leaf_rows(name, prefix, value, rows, 0)
    elif kind in ("Relationship", "ListRelationship", "VocabProperty"):
        value = instance.get("object", instance.get("objectList", instance.get("vocab")))
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                rows.append(IndexRow(name, prefix, "s", None, item))
    elif kind == "JsonProperty":
        if "json" in instance:
            _json_rows(name, prefix, instance["json"], rows, 0)
    elif kind == "LanguageProperty":
        for lang, text in (instance.get("languageMap") or {}).items():
            for item in text if isinstance(text, list) else [text]:
                rows.append(IndexRow(name, prefix, "s", None, item))
                rows.append(IndexRow(name, f"{prefix}[{lang}]", "s", None, item))
    # members in a fixed order: a row's key is its place among its attribute's rows, and the
    # rows of a stored state must come out the same every time they are computed
    for member, path in _MEMBER_PATHS:
        if member in instance:
            _leaf_rows(name, prefix + path, instance[member], rows, 0)
    # most instances hold members only: no sub-attribute to look for
    if not MEMBERS.issuperset(instance) and prefix.count(".") < _MAX_DEPTH:
        for key, sub in instance.items():
            if key not in MEMBERS and isinstance(sub, dict):
                _instance_rows(name, f"{prefix}.{key}", sub, rows)


def _leaf_rows(name: str, path: str, value: Any, rows: list[IndexRow], depth: int) -> None:
    if depth > _MAX_DEPTH:
        return
    kind = type(value)
    if kind is str:
        text = _indexed_text(value) if len(value) <= 64 else value  # no date-time is longer
        rows.append(IndexRow(name, path, "s", None, text))
    elif kind is int or kind is float:
        rows.append(IndexRow(name, path, "n", float(value), None))
    elif kind is bool:
        rows.append(IndexRow(name, path, "b", 1.0 if value else 0.0, None))
    elif value is None:
        rows.append(IndexRow(name, path, "z", None, None))
    elif isinstance(value, list):
        for item in value:
            _leaf_rows(name, path, item, rows, depth + 1)
    elif isinstance(value, dict):
        if "@value" in value:
            _leaf_rows(name, path, value["@value"], rows, depth + 1)
            return
        for key, item in value.items():
            _leaf_rows(name, f"{path}[{key}]", item, rows, depth + 1)
    elif isinstance(value, bool):  # subclasses, should a caller build values by hand
        rows.append(IndexRow(name, path, "b", 1.0 if value else 0.0, None))
    elif isinstance(value, (int, float)):
        rows.append(IndexRow(name, path, "n", float(value), None))
    elif isinstance(value, str):
        text = canonical_datetime(value) if is_datetime(value) else value
        rows.append(IndexRow(name, path, "s", None, text))


def _json_rows(name: str, path: str, value: Any, rows: list[IndexRow], depth: int) -> None:
    """A JsonProperty's JSON, as `_leaf_rows` indexes a compound value; but JSON is not
    JSON-LD, so every member is a key, `@value` too."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _json_rows(name, f"{path}[{key}]", item, rows, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _json_rows(name, path, item, rows, depth + 1)
    else:
        _leaf_rows(name, path, value, rows, depth)


@lru_cache(maxsize=8192)  # device names, units, brands and observedAt times repeat in writes
def _indexed_text(value: str) -> str:
    return canonical_datetime(value) if is_datetime(value) else value


#: the text a Date, a Time or a DateTime value has in the index (DateTimes in their canonical
#: form), as a GLOB (SQLite) and a regular expression (PostgreSQL)
TEMPORAL_SHAPES = {
    "date": ("[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]", r"^\d{4}-\d{2}-\d{2}$"),
    "time": ("[0-9][0-9]:[0-9][0-9]:[0-9][0-9]*", r"^\d{2}:\d{2}:\d{2}"),
    "datetime": ("[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*", r"^\d{4}-\d{2}-\d{2}T"),
}


def temporal_shape(value: QValue, op: str) -> tuple[str, str] | None:
    """The shape a value must have for an ordering comparison with a Date, Time or DateTime
    literal (clause 4.9: no match between different data types; the order of dates and times
    is temporal): None for another literal or for `==`, which compares whole texts."""
    if op in ("==", "!=", "~=", "!~="):
        return None
    return TEMPORAL_SHAPES.get(value.kind)


#: the attribute types whose target element takes `==` and `!=` only (clause 4.9)
RELATIONSHIP_TYPES = ("Relationship", "ListRelationship")
#: the same, as an SQL list for `IN` (both stores keep an instance's type in its marker row)
RELATIONSHIP_TYPES_SQL = "(" + ", ".join(f"'{t}'" for t in RELATIONSHIP_TYPES) + ")"


def relationship_marker(term: Comparison) -> str | None:
    """The marker path whose instances, when Relationships or ListRelationships, make `term`
    not match: clause 4.9, "the combination of such target element with any operator
    different than equal or unequal shall result in not matching". None when the term cannot
    reach an object: `==`/`!=`, a number or boolean literal (objects are strings), a compound
    member or an instance member (`rel.observedAt`)."""
    path, value = term.path, term.value
    if term.op in ("==", "!=") or path.compound or not isinstance(value, QValue):
        return None
    if value.kind in ("number", "boolean") or (path.sub and path.sub[-1] in ATTRIBUTE_MEMBERS):
        return None
    return "".join(f".{s}" for s in path.sub) + "#"


def literal_key(value: QValue) -> tuple[str, Any]:
    """(kind, typed value) of a q literal as the index rows store it, for comparisons."""
    if value.kind == "number":
        return "n", float(value.value)
    if value.kind == "boolean":
        return "b", 1.0 if value.value else 0.0
    text = str(value.value)
    return "s", canonical_datetime(text) if is_datetime(text) else text

"""The aggregation methods of clause 4.5.19.1 over attribute instances of any type.

Tables 4.5.19.1-1 to -3: a String has its lexicographic min and max; an Array its size for
avg, sum, min and max; a Boolean counts as 1 (true) or 0 (false); a DateTime, Date or Time has
its temporal min and max, and a DateTime its average time; a Relationship counts its distinct
targets and a URI (a VocabProperty's value) its distinct URIs, with no min or max; an Object (a
GeoProperty's geometry, a languageMap, a JsonProperty's JSON) is only counted. A method that
applies to none of a period's values gives null.

A period that mixes types applies each method to the values of the first type, in the order
of `_ORDER`, that the method applies to (numbers first: the numeric aggregation in SQL does
the same); the counts take every value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, NamedTuple

import orjson

from dalgu.broker.model import VALUE_MEMBER
from dalgu.ldcontext.core import NGSI_LD
from dalgu.store.history import format_time, parse_time

#: the value an empty period gives for each method (clause 4.5.19.0)
EMPTY: Final[dict[str, int | None]] = {"totalCount": 0, "distinctCount": 0}
_TEMPORAL = {"DateTime", "Date", "Time"}
_TEMPORAL |= {NGSI_LD + t for t in _TEMPORAL}
#: the types of values, in the order a method takes them in a period that mixes them
_ORDER = ("number", "boolean", "array", "DateTime", "Date", "Time", "string")
#: the types each method applies to (counts apply to all)
_APPLIES: Final[dict[str, frozenset[str]]] = {
    "sum": frozenset({"number", "boolean", "array"}),
    "avg": frozenset({"number", "boolean", "array", "DateTime"}),
    "min": frozenset(_ORDER),
    "max": frozenset(_ORDER),
    "stddev": frozenset({"number", "boolean"}),
    "sumsq": frozenset({"number", "boolean"}),
}


class Reading(NamedTuple):
    """One instance's value as the methods see it: its type (`_ORDER`, or `relationship`, `uri`,
    `object`), what orders and adds it (a number, a string, a datetime), and the value."""

    kind: str
    key: Any
    value: Any

    @property
    def identity(self) -> Any:
        """What `distinctCount` tells apart."""
        if self.kind in ("number", "boolean", "string"):
            return self.kind, self.key
        return self.kind, orjson.dumps(self.value, option=orjson.OPT_SORT_KEYS)


def reading(instance: dict[str, Any]) -> Reading:
    """The value of an attribute instance (its `type` picks the member that holds it)."""
    attribute = instance.get("type") or "Property"
    value = instance.get(VALUE_MEMBER.get(attribute, "value"))
    if attribute in ("Relationship", "ListRelationship"):
        return Reading("relationship", None, value)
    if attribute == "VocabProperty":
        return Reading("uri", None, value)  # Table 4.5.19.1-2: only counted, as a target
    if attribute == "ListProperty" and isinstance(value, list):
        return Reading("array", len(value), value)
    if attribute != "Property":
        return Reading("object", None, value)  # geometries, languageMaps, JSON
    if isinstance(value, bool):
        return Reading("boolean", 1.0 if value else 0.0, value)
    if isinstance(value, (int, float)):
        return Reading("number", float(value), value)
    if isinstance(value, str):
        return Reading("string", value, value)
    if isinstance(value, list):
        return Reading("array", len(value), value)
    if isinstance(value, dict) and value.get("@type") in _TEMPORAL:
        return _temporal(value)
    return Reading("object", None, value)


def _temporal(value: dict[str, Any]) -> Reading:
    kind = str(value["@type"]).removeprefix(NGSI_LD)
    text = value.get("@value")
    if not isinstance(text, str):
        return Reading("object", None, value)
    if kind == "DateTime":
        try:
            return Reading(kind, parse_time(text), value)
        except ValueError:
            return Reading("object", None, value)
    return Reading(kind, text, value)  # ISO 8601 dates and times order as text


def aggregate(method: str, readings: Sequence[Reading]) -> Any:
    """The value of `method` over the readings of one period."""
    if method == "totalCount":
        return len(readings)
    if method == "distinctCount":
        return len({r.identity for r in readings})
    applies = _APPLIES[method]
    kind = next((k for k in _ORDER if k in applies and any(r.kind == k for r in readings)), None)
    if kind is None:
        return None
    keys = [r.key for r in readings if r.kind == kind]
    if method in ("min", "max"):
        pick = min if method == "min" else max
        best = pick(range(len(keys)), key=keys.__getitem__)
        if kind in ("number", "boolean"):
            return float(keys[best])
        if kind == "array":
            return keys[best]
        return next(r.value for r in readings if r.kind == kind and r.key == keys[best])
    if kind == "DateTime":  # avg: the average time inside the period
        return {"@type": "DateTime", "@value": format_time(_mean_time(keys))}
    if method == "sum":
        return float(sum(keys)) if kind != "array" else sum(keys)
    if method == "avg":
        return sum(keys) / len(keys)
    if method == "sumsq":
        return float(sum(k * k for k in keys))
    return _stddev(keys)


def _mean_time(times: list[datetime]) -> datetime:
    first = min(times)
    return first + sum((t - first for t in times), first - first) / len(times)


def _stddev(values: list[float]) -> float:
    """The sample standard deviation, 0 for one value (as the SQL of the stores)."""
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(max(sum((v - mean) ** 2 for v in values) / (len(values) - 1), 0.0))

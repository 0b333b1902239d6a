"""The aggregation methods of clause 4.5.19.1 over attribute instances of any type.

Tables 4.5.19.1-1 to -3: a String has its lexicographic min and max; an Array its size for
avg, sum, min and max; a Boolean counts as 1 (true) or 0 (false); a DateTime, Date or Time has
its temporal min and max, and a Time its average time (Table 4.5.19.1-2: avg is "N/A" for
DateTime and Date, "Calculate the average time inside the period" for Time, "like the time a
car enters a given parking": the mean of the times of day); a Relationship counts its distinct
targets and a URI (a VocabProperty's value) its distinct URIs, with no min or max; an Object (a
GeoProperty's geometry, a languageMap, a JsonProperty's JSON) is only counted. A method that
applies to none of a period's values gives null.

A period that mixes types applies each method to the values of the first type, in the order
of `_ORDER`, that the method applies to (numbers first: the numeric aggregation in SQL does
the same); the counts take every value. A number's min and max are the value of the instance
that holds it, and a sum of integers is an integer: exact past 2^53, where doubles hold none.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, time
from typing import Any, Final, NamedTuple

import orjson

from dalgu.broker.model import VALUE_MEMBER
from dalgu.ldcontext.core import NGSI_LD
from dalgu.store.history import parse_time

#: the value an empty period gives for each method (clause 4.5.19.0)
EMPTY: Final[dict[str, int | None]] = {"totalCount": 0, "distinctCount": 0}
_TEMPORAL = {"DateTime", "Date", "Time"}
_TEMPORAL |= {NGSI_LD + t for t in _TEMPORAL}
#: the types of values, in the order a method takes them in a period that mixes them
_ORDER = ("number", "boolean", "array", "DateTime", "Date", "Time", "string")
#: the types each method applies to (counts apply to all)
_APPLIES: Final[dict[str, frozenset[str]]] = {
    "sum": frozenset({"number", "boolean", "array"}),
    "avg": frozenset({"number", "boolean", "array", "Time"}),
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
        return Reading("boolean", 1 if value else 0, value)
    if isinstance(value, (int, float)):
        return Reading("number", value, value)  # ints compare with floats exactly
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
    if kind == "Time":
        seconds = _time_of_day(text)
        if seconds is None:
            return Reading("object", None, value)
        return Reading(kind, seconds, value)
    return Reading(kind, text, value)  # ISO 8601 dates order as text


def _time_of_day(text: str) -> float | None:
    """Seconds since midnight of an ISO 8601 time (one with an offset: of UTC)."""
    try:
        moment = time.fromisoformat(text)
    except ValueError:
        return None
    seconds = moment.hour * 3600 + moment.minute * 60 + moment.second + moment.microsecond / 1e6
    offset = moment.utcoffset()
    if offset is not None:
        seconds = (seconds - offset.total_seconds()) % 86_400
    return seconds


def _time_text(seconds: float, utc: bool) -> str:
    micros = round(seconds * 1_000_000)
    whole, micro = divmod(micros, 1_000_000)
    moment = time(whole // 3600, whole // 60 % 60, whole % 60, micro, UTC if utc else None)
    text = moment.isoformat(timespec="milliseconds" if micro else "seconds")
    return text.replace("+00:00", "Z")


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
        if kind in ("boolean", "array"):
            return keys[best]
        return [r.value for r in readings if r.kind == kind][best]  # the instance's own
    if kind == "Time":  # avg: the average time inside the period
        # times with an offset are averaged in UTC, and the average is one
        utc = all(
            time.fromisoformat(r.value["@value"]).utcoffset() is not None
            for r in readings
            if r.kind == kind
        )
        return {"@type": "Time", "@value": _time_text(sum(keys) / len(keys), utc)}
    if method == "sum":
        return sum(keys)  # integers stay integers
    if method == "avg":
        return sum(keys) / len(keys)
    if method == "sumsq":
        return float(sum(k * k for k in keys))
    return _stddev(keys)


def _stddev(values: list[float]) -> float:
    """The sample standard deviation, 0 for one value (as the SQL of the stores)."""
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(max(sum((v - mean) ** 2 for v in values) / (len(values) - 1), 0.0))

"""The periods of an aggregated temporal representation (clause 4.5.19.0): every period of
the query's time range, those without instances too, each `[value, start, end]`.

The range starts at `timeAt` (`after`, `between`) or at the entity's first instance
(`before`, no `timerel`: the periods are counted from there), and ends at `endTimeAt`
(`between`), at `timeAt` (`before`), or with the period of the attribute's last instance
(`after`, no `timerel`: the range has no end of its own). An empty period's counts are 0
and its other methods null. An answer holds at most `MAX_PERIODS` values (a period of one
method: `[value, start, end]`) over all its entities, attributes and methods (eight methods
of one period are eight values: counting periods alone let one GET of PT1S over 11 days with
every method build 7.6 million, 400 MB of JSON and ~1 GB of the worker); a query that would
make more is refused (400), before anything is read when its range is bounded on both sides
(`between`).

The stores aggregate in SQL and collect each attribute's periods that hold instances in an
`AggregatedPeriods`; the periods of an attribute that holds other values than numbers are
computed again from its instances (`dalgu.store.aggregation`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any, Final

import orjson

from dalgu.errors import BadRequestData
from dalgu.query.duration import Duration
from dalgu.store.aggregation import EMPTY, Reading, aggregate, reading
from dalgu.store.base import TemporalEntity, TemporalQuery
from dalgu.store.history import BucketSpans, bucket_span, parse_time

#: the values (periods x methods) an answer may hold, over all its entities and attributes
MAX_PERIODS: Final = 1_000_000
#: the methods whose value is one of the instances' (min, max) or their sum: a whole number
#: is an integer, and one a double cannot hold exactly is computed from the instances
_EXACT: Final = frozenset({"min", "max", "sum"})
#: past this, doubles hold not every integer (min of 2^53+1 and 2^53+3 was 2^53)
_DOUBLE_INTEGERS: Final = 2.0**53


def period_count(period: Duration, start: datetime, end: datetime) -> int:
    """How many periods from `start` it takes to reach `end`."""
    if end <= start:
        return 0
    if period.months:
        months = (end.year - start.year) * 12 + end.month - start.month
        count = max(months // period.months - 1, 0)
    else:
        micros = max(1, round(period.seconds * 1_000_000))
        span = end - start
        whole = (span.days * 86_400 + span.seconds) * 1_000_000 + span.microseconds
        count = max(whole // micros - 1, 0)
    while period.after(start, count) < end:
        count += 1
    return count


def check_period_count(count: int, methods: int = 1) -> None:
    """Refuse an answer of `count` periods of each of `methods` methods past `MAX_PERIODS`."""
    values = count * max(methods, 1)
    if values > MAX_PERIODS:
        held = (
            f"{count} periods"
            if methods <= 1
            else f"{values} values ({count} periods x {methods} methods)"
        )
        raise BadRequestData(
            f"the aggregation would hold {held}, more than the {MAX_PERIODS} an answer may "
            "hold: lengthen aggrPeriodDuration, shorten the time range, or ask for fewer "
            "entities, attributes or aggrMethods"
        )


def check_query_periods(query: TemporalQuery) -> None:
    """Refuse a `between` query whose range holds too many periods, before reading."""
    period = query.period
    if period is None or period.is_zero or query.timerel != "between":
        return
    assert query.time_at is not None and query.end_time_at is not None
    start, end = parse_time(query.time_at), parse_time(query.end_time_at)
    methods = len(query.aggregate or ())
    if period.months:
        check_period_count(
            ((end.year - start.year) * 12 + end.month - start.month) // period.months, methods
        )
    else:
        check_period_count(int((end - start).total_seconds() / period.seconds), methods)


@dataclass(slots=True)
class AttributePeriods:
    """One attribute's periods that hold instances: their numbers (counted from `origin`) and
    each method's values. `others` counts the instances that are not numbers: the numeric
    aggregation of SQL is not the answer then. `last` is the time of the last instance (the
    end of a single period over the whole range)."""

    origin: datetime
    last: datetime | None
    buckets: list[int] = field(default_factory=list)
    values: list[list[Any]] = field(default_factory=list)
    others: int = 0
    computed: bool = False  # values made in Python, of any JSON type


class AggregatedPeriods:
    """The periods of the attributes of a query's entities, as the stores collect them."""

    def __init__(self, query: TemporalQuery) -> None:
        self.query = query
        self.methods = query.aggregate
        self.attributes: dict[tuple[str, str], AttributePeriods] = {}

    @property
    def whole(self) -> bool:
        """One period over the whole range."""
        return self.query.period is None or self.query.period.is_zero

    def add(
        self,
        entity_id: str,
        name: str,
        origin: datetime,
        last: datetime | None,
        bucket: int,
        values: Sequence[Any],
        others: int,
    ) -> None:
        """One period of an attribute (rows of any order)."""
        found = self.attributes.get((entity_id, name))
        if found is None:
            found = self.attributes[(entity_id, name)] = AttributePeriods(
                origin, last, values=[[] for _ in self.methods]
            )
        found.buckets.append(bucket)
        for column, value in zip(found.values, values, strict=True):
            column.append(value)
        found.others += others

    def add_columns(
        self,
        entity_id: str,
        name: str,
        origin: datetime,
        buckets: list[int],
        columns: Sequence[list[Any]],
        others: int,
    ) -> None:
        """All periods of an attribute: their numbers and each method's values, in any order."""
        self.attributes[(entity_id, name)] = AttributePeriods(
            origin, None, buckets, list(columns), others
        )

    def needing_instances(
        self, kinds: dict[tuple[str, str], str]
    ) -> dict[tuple[str, str], datetime]:
        """The attributes (and their origins) whose values SQL's numeric aggregation cannot
        give: some instances are not numbers, or the attribute is not a Property."""
        exact = [i for i, method in enumerate(self.methods) if method in _EXACT]
        return {
            key: found.origin
            for key, found in self.attributes.items()
            if found.others
            or kinds.get(key, "Property") != "Property"
            or any(_inexact(v) for i in exact for v in found.values[i])
        }

    def compute(self, rows: Iterable[tuple[str, str, int, bytes]]) -> None:
        """Compute again, from (entity, attribute, period number, instance document) rows,
        the periods of the attributes the rows are about."""
        grouped: dict[tuple[str, str], dict[int, list[Reading]]] = {}
        for entity_id, name, bucket, doc in rows:
            periods = grouped.setdefault((entity_id, name), {})
            periods.setdefault(bucket, []).append(reading(orjson.loads(doc)))
        for key, periods in grouped.items():
            found = self.attributes[key]
            found.buckets = sorted(periods)
            found.values = [
                [aggregate(method, periods[b]) for b in found.buckets] for method in self.methods
            ]
            found.computed = True

    def fill(self, entities: dict[str, TemporalEntity]) -> None:
        """Set the entities' aggregates: every period of each attribute's range."""
        counts = {key: self._count(found) for key, found in self.attributes.items()}
        firsts = {key: self._first(found) for key, found in self.attributes.items()}
        check_period_count(sum(counts[key] - firsts[key] for key in counts), len(self.methods))
        tails = _Tails(self.query)
        for (entity_id, name), found in sorted(self.attributes.items()):
            out = entities[entity_id].aggregates.setdefault(name, {})
            if self.whole:
                last = found.last or found.origin
                span = bucket_span(self.query, found.origin, last, 0)
                for method, column in zip(self.methods, found.values, strict=True):
                    out[method] = [[column[0] if column else EMPTY.get(method), *span]]
                continue
            count, first = counts[(entity_id, name)], firsts[(entity_id, name)]
            # the listed periods' tails, from the first listed (`after` skips those before
            # its first instance, which may be billions of seconds after timeAt)
            spans = tails.window(found.origin, first, count) if first else None
            for method, column in zip(self.methods, found.values, strict=True):
                if method in _EXACT and not found.computed:
                    column = _whole(column)
                texts = _texts(column, found.computed)
                empty = b"0" if method in EMPTY else b"null"
                if spans is None:
                    listed = tails.of(found.origin, count)
                    items = tails.empty(found.origin, empty, count)
                else:
                    listed = spans
                    items = [empty + tail for tail in spans]
                for bucket, text in zip(found.buckets, texts, strict=True):
                    items[bucket - first] = text + listed[bucket - first]
                out[method] = orjson.Fragment(
                    b"[[" + b"],[".join(items) + b"]]" if items else b"[]"
                )

    def _first(self, found: AttributePeriods) -> int:
        """The first period listed: with `after`, the first that holds an instance (periods
        still counted from timeAt), as the ETSI suite's 021_17 expects; else the origin's."""
        if self.whole or self.query.timerel != "after":
            return 0
        return min(found.buckets, default=0)

    def _count(self, found: AttributePeriods) -> int:
        """The number of periods of an attribute's range."""
        if self.whole:
            return 1
        query = self.query
        period = query.period
        assert period is not None
        reached = max(found.buckets, default=-1) + 1
        if query.timerel == "between" and query.end_time_at is not None:
            return max(period_count(period, found.origin, parse_time(query.end_time_at)), reached)
        if query.timerel == "before" and query.time_at is not None:
            return max(period_count(period, found.origin, parse_time(query.time_at)), reached)
        return reached


def _inexact(value: Any) -> bool:
    return isinstance(value, float) and abs(value) >= _DOUBLE_INTEGERS


def _whole(column: list[Any]) -> list[Any]:
    """SQL's doubles of min, max and sum, a whole number as an integer (below 2^53)."""
    return [int(v) if isinstance(v, float) and v.is_integer() else v for v in column]


def _texts(column: list[Any], computed: bool) -> list[bytes]:
    if computed:  # strings, objects: their JSON may hold commas
        return [orjson.dumps(v) for v in column]
    return orjson.dumps(column)[1:-1].split(b",")  # numbers and nulls: no commas


class _Tails:
    """The `,"start","end"` JSON of each period from an origin, made once per origin and
    shared by every attribute counted from it (1,000 sensors x 720 hours: 720 spans), and
    the lists of empty periods they start from."""

    def __init__(self, query: TemporalQuery) -> None:
        self.spans = BucketSpans(query)
        self._tails: dict[datetime, list[bytes]] = {}
        self._empty: dict[tuple[datetime, bytes], list[bytes]] = {}

    def of(self, origin: datetime, count: int) -> list[bytes]:
        """The tails of the first `count` (or more) periods from `origin`."""
        tails = self._tails.setdefault(origin, [])
        if len(tails) >= count:
            return tails
        period = self.spans.query.period
        assert period is not None
        if origin.microsecond or origin.year < 1000 or not float(period.seconds).is_integer():
            for index in range(len(tails), count):
                tails.append(b"," + orjson.dumps(self.spans(origin, origin, index))[1:-1])
            return tails
        # whole seconds: every bound as `format_time` shows it, made by orjson in one call
        # (a month of hours is 720 periods; formatting each bound in Python cost 10 ms)
        indexes = range(len(tails), count + 1)
        if period.months:
            bounds = [period.after(origin, index) for index in indexes]
        else:
            step = timedelta(seconds=period.seconds)
            bounds = [origin + step * index for index in indexes]
        texts = orjson.dumps(bounds, option=orjson.OPT_UTC_Z)[1:-1].split(b",")
        tails.extend(b"," + start + b"," + end for start, end in pairwise(texts))
        return tails

    def window(self, origin: datetime, first: int, count: int) -> list[bytes]:
        """The tails of periods `first` to `count - 1` from `origin` (not kept)."""
        return [
            b"," + orjson.dumps(self.spans(origin, origin, index))[1:-1]
            for index in range(first, count)
        ]

    def empty(self, origin: datetime, value: bytes, count: int) -> list[bytes]:
        """A new list of `count` empty periods."""
        tails = self.of(origin, count)
        made = self._empty.setdefault((origin, value), [])
        made.extend(value + tail for tail in tails[len(made) : count])
        return made[:count]

"""An aggregated dataset's rows, read from the temporal service in requests of a bounded
number of periods, each request's rows given out as soon as it is answered.

The temporal service answers at most `MAX_PERIODS` periods (entities x attributes x
periods) and builds each answer whole in memory, so a download that asked for a page of
entities at once stopped working once they had that many periods (a page of 500 sensors,
three attributes, hourly: after 28 days), and held up to a gigabyte before writing a byte.
Now each page of entities is first probed (one period over the whole range per attribute:
where it starts and its last instance), then read in groups of consecutive entities whose
periods fit `SLICE_PERIODS`, with the dataset's own query; an entity that alone has more is
read in time slices (`between`, on its own bucket grid), which give the same periods and
values as one answer would: the slices' empty periods before an attribute's first instance
(`aggregate_since`: the answer starts at the first period that holds one) and after its last
are left out, those in between listed as empty, as one answer lists them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from dalgu.broker.service import EntityService
from dalgu.opendata.policy import Release, Row, aggregate_rows
from dalgu.query.ast import QExpr, TypeExpr
from dalgu.query.duration import Duration, parse_duration
from dalgu.store.aggregation import EMPTY
from dalgu.store.base import EntityQuery, TemporalEntity, TemporalQuery
from dalgu.store.history import format_time, parse_time
from dalgu.store.periods import period_count
from dalgu.temporal.service import TemporalService

#: the values (entities x attributes x periods x methods) one request of a download asks for
#: at most: the temporal service builds an answer whole, and caps it at MAX_PERIODS values
SLICE_PERIODS: Final = 50_000


@dataclass(frozen=True, slots=True)
class Reach:
    """An entity's aggregated history as the probe saw it: how many periods an answer about
    it holds at most."""

    id: str
    periods: int


def reach(history: TemporalEntity, period: Duration) -> Reach | None:
    """From a probe's one period per attribute ([count, origin, last instance]); None for an
    entity without instances in the range (no rows)."""
    periods = 0
    for methods in history.aggregates.values():
        for bucket in _buckets(methods.get("totalCount")):
            start, last = parse_time(bucket[1]), parse_time(bucket[2])
            periods += period_count(period, start, last) + 1
    return Reach(history.id, periods) if periods else None


def groups(reaches: list[Reach], budget: int) -> Iterator[list[Reach]]:
    """Consecutive entities whose periods fit `budget` together; an entity with more alone."""
    group: list[Reach] = []
    total = 0
    for found in reaches:
        if group and total + found.periods > budget:
            yield group
            group, total = [], 0
        group.append(found)
        total += found.periods
    if group:
        yield group


def _buckets(value: Any) -> list[list[Any]]:
    if value is None:
        return []
    if not isinstance(value, list):  # the store's JSON of a long list (orjson.Fragment)
        value = orjson.loads(orjson.dumps(value))
    return value if isinstance(value, list) else []


def _instant(value: datetime) -> str:
    """A time as a query takes it, to the microsecond (format_time keeps milliseconds)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _index(period: Duration, origin: datetime, at: datetime) -> int:
    """The number of the period (counted from `origin`) that holds `at`."""
    index = period_count(period, origin, at)
    return index - 1 if period.after(origin, index) > at else index


def _times(history: TemporalEntity | None) -> dict[str, list[datetime]]:
    if history is None:
        return {}
    return {
        name: [parse_time(i["observedAt"]) for i in instances if "observedAt" in i]
        for name, instances in history.instances.items()
    }


class AggregatedRows:
    """The rows of one aggregated dataset's download, in entity id order, then period."""

    def __init__(
        self,
        temporal: TemporalService,
        entities: EntityService,
        tenant: str,
        release: Release,
        *,
        page_size: int,
        budget: int = SLICE_PERIODS,
    ) -> None:
        aggregation = release.dataset.policy.aggregation
        assert aggregation is not None
        self.temporal = temporal
        self.entities = entities
        self.tenant = tenant
        self.release = release
        self.methods = aggregation.methods
        self.since = aggregation.since
        self.period = parse_duration(aggregation.period, "aggregate_period")
        self.page_size = page_size
        # the temporal service's cap counts each method of a period: the budget is shared
        self.budget = max(1, budget // max(1, len(self.methods)))
        attrs = tuple(a for a in release.attributes if a not in release.withheld)
        self.query = TemporalQuery(
            attrs=attrs,
            timerel="after" if self.since else None,
            time_at=self.since,
            aggregate=self.methods,
            period=self.period,
        )

    async def pages(self, types: TypeExpr, q: QExpr | None) -> AsyncIterator[list[Row]]:
        """Rows as each request is answered: a page of entities is probed (their types and
        `q`, as the dataset's query selects them), then read by groups or time slices."""
        after = None
        while True:
            probe = replace(
                self.query,
                types=types,
                q=q,
                aggregate=("totalCount",),
                period=None,
                limit=self.page_size,
                after=after,
            )
            page = (await self.temporal.query(self.tenant, probe)).entities
            found = [r for h in page if (r := reach(h, self.period)) is not None]
            for group in groups(found, self.budget):
                ids = tuple(r.id for r in group)
                current = await self._current(ids)
                if group[0].periods > self.budget and not self.period.months:
                    async for rows in self._sliced(ids[0], current.get(ids[0])):
                        yield rows
                    continue
                query = replace(self.query, ids=ids, limit=len(ids))
                answer = await self.temporal.query(self.tenant, query)
                yield [
                    row
                    for history in answer.entities
                    for row in aggregate_rows(history, current.get(history.id), self.release)
                ]
            if len(page) < self.page_size:
                return
            after = page[-1].id

    async def _current(self, ids: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        """The entities as they are now, for their snapped location."""
        if self.release.geometry is None:
            return {}
        found = await self.entities.query(self.tenant, EntityQuery(ids=ids, limit=len(ids)))
        return {e["id"]: e for e in found.entities}

    async def _instances(self, entity_id: str, *, newest: bool) -> dict[str, list[datetime]]:
        """The times of each attribute's newest (else oldest) instance in the range."""
        query = replace(self.query, ids=(entity_id,), aggregate=(), period=None, limit=1)
        query = replace(query, last_n=1) if newest else replace(query, instance_limit=1)
        found = (await self.temporal.query(self.tenant, query)).entities
        return _times(found[0] if found else None)

    async def _sliced(
        self, entity_id: str, current: dict[str, Any] | None
    ) -> AsyncIterator[list[Row]]:
        """One entity's rows, read in slices of its bucket grid that each fit the budget."""
        newest = await self._instances(entity_id, newest=True)
        firsts = await self._instances(entity_id, newest=False)
        every = [t for times in firsts.values() for t in times]
        if not every:
            return
        first = min(every)
        origin = parse_time(self.since) if self.since else first
        period = self.period
        # each attribute's periods end with the one of its last instance
        ends = {name: _index(period, origin, max(t)) + 1 for name, t in newest.items() if t}
        if not ends:
            return
        start, end = _index(period, origin, first), max(ends.values())
        width = max(1, self.budget // len(ends))
        methods = self.methods if "totalCount" in self.methods else (*self.methods, "totalCount")
        started = {name: self.since is None for name in ends}  # `after`: from the first
        while start < end:
            stop = min(start + width, end)
            query = replace(
                self.query,
                ids=(entity_id,),
                limit=1,
                timerel="between",
                time_at=_instant(period.after(origin, start)),
                end_time_at=_instant(period.after(origin, stop)),
                aggregate=methods,
            )
            found = (await self.temporal.query(self.tenant, query)).entities
            history = found[0] if found else TemporalEntity(entity_id, [])
            kept = TemporalEntity(entity_id, history.types)
            for name, after_last in ends.items():
                listed = self._listed(history, name, origin, start, min(stop, after_last), started)
                if listed:
                    kept.aggregates[name] = listed
            yield aggregate_rows(kept, current, self.release)
            start = stop

    def _listed(
        self,
        history: TemporalEntity,
        name: str,
        origin: datetime,
        start: int,
        stop: int,
        started: dict[str, bool],
    ) -> dict[str, list[list[Any]] | orjson.Fragment]:
        """An attribute's periods `start` to `stop` (excluded) of a slice that begins at
        period `start`, as one answer lists them: from its first that holds an instance
        (with `aggregate_since`), those without instances empty (counts 0, the others null)."""
        answered = history.aggregates.get(name, {})
        columns = {m: _buckets(answered.get(m)) for m in (*self.methods, "totalCount")}
        size = stop - start
        begin = 0
        if not started[name]:
            counts = columns["totalCount"][:size]
            begin = next((j for j, c in enumerate(counts) if c[0]), size)
            if begin == size:
                return {}
            started[name] = True
        listed: dict[str, list[list[Any]] | orjson.Fragment] = {}
        for method in self.methods:
            column = columns[method][begin:size]
            # a slice without any instance of the attribute lists none of its periods
            for k in range(start + begin + len(column), stop):
                after = self.period.after
                span = [format_time(after(origin, k)), format_time(after(origin, k + 1))]
                column.append([EMPTY.get(method), *span])
            if column:
                listed[method] = column
        return listed

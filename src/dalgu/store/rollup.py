"""Hourly rollups of the temporal history, and when an aggregation may read them.

Both stores keep, per (tenant, entity, attribute, hour of observedAt, datasetId), the count of
instances, the count of numeric ones, their sum, sum of squares, min and max: every instance
with an observedAt that is not a deletion record, written in the transaction that writes,
replaces or deletes the instances (and dropped with them by retention). Every aggregation
method but `distinctCount` combines from those columns, so an aggregation whose buckets are
made of whole hours reads one row per hour instead of every instance: with
`aggrPeriodDuration` a whole number of hours (or calendar months) counted from an origin on
the hour (`timerel=after|between`). An `endTimeAt` within an hour takes the instances of its
last, partial hour instead. Anything else reads the instances, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from dalgu.store.history import parse_time

if TYPE_CHECKING:
    from dalgu.store.base import TemporalQuery

ROLLUP_METHODS = frozenset({"totalCount", "sum", "avg", "min", "max", "stddev", "sumsq"})
HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class RollupPlan:
    """Read the rollups of the hours in [origin, hours_end) (no end: every hour from the
    origin on), then the instances in [hours_end, end) when `end` is within an hour."""

    origin: datetime
    hours_end: datetime | None
    end: datetime | None


def hour_of(value: datetime) -> datetime:
    return value.replace(minute=0, second=0, microsecond=0)


def rollup_plan(query: TemporalQuery) -> RollupPlan | None:
    """How `query` reads the rollups, or None when it must read the instances."""
    if not query.aggregate or not set(query.aggregate) <= ROLLUP_METHODS:
        return None
    if query.timeproperty != "observedAt" or query.time_at is None:
        return None
    if query.timerel not in ("after", "between"):
        return None
    period = query.period
    if period is None or period.is_zero:
        return None  # one bucket that ends at the last instance: its time is not rolled up
    if not period.months and (period.seconds < 3600 or period.seconds % 3600):
        return None
    origin = parse_time(query.time_at)
    if origin != hour_of(origin):
        return None
    if query.timerel == "after":
        return RollupPlan(origin, None, None)
    assert query.end_time_at is not None
    end = parse_time(query.end_time_at)
    hours_end = hour_of(end)
    if hours_end <= origin:
        return None  # less than an hour: the instances are as cheap
    return RollupPlan(origin, hours_end, None if end == hours_end else end)

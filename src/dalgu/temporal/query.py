"""Temporal query parameters (clause 6.18.3.2, 5.7.3/5.7.4): timerel, time property, lastN,
aggregation methods and period (an ISO 8601 duration)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dalgu.broker.model import is_datetime
from dalgu.errors import BadRequestData
from dalgu.ldcontext import TermMap
from dalgu.query.ast import map_type_names
from dalgu.query.typesel import parse_type_selection
from dalgu.store.base import TemporalQuery

AGGREGATION_METHODS = ("totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq")
TIME_PROPERTIES = ("observedAt", "createdAt", "modifiedAt", "deletedAt")
_DURATION = re.compile(
    r"^P(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def names_of(raw: Any) -> list[str]:
    """A comma-separated list (GET) or an array (POST) of names."""
    if raw is None:
        return []
    values = raw if isinstance(raw, list) else str(raw).split(",")
    names = [str(v).strip() for v in values]
    if not all(names):
        raise BadRequestData("an empty name in a list")
    return names


def duration_seconds(text: str) -> float:
    """Seconds in an ISO 8601 duration of weeks, days, hours, minutes and seconds."""
    match = _DURATION.match(text)
    if match is None or text in ("P", "PT") or text.endswith("T"):
        if re.match(r"^P(\d+Y|\d+M)", text):
            raise BadRequestData(
                f"aggrPeriodDuration {text!r}: calendar years and months are not supported; "
                "use weeks, days or hours"
            )
        raise BadRequestData(f"aggrPeriodDuration {text!r} is not an ISO 8601 duration")
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    seconds = (
        parts.get("w", 0) * 604800
        + parts.get("d", 0) * 86400
        + parts.get("h", 0) * 3600
        + parts.get("m", 0) * 60
        + parts.get("s", 0)
    )
    if seconds <= 0:
        raise BadRequestData("aggrPeriodDuration must be longer than zero")
    return seconds


def temporal_query(
    params: Mapping[str, Any],
    terms: TermMap,
    *,
    limit: int,
    offset: int,
    aggregated: bool,
    require_filter: bool,
) -> TemporalQuery:
    timerel = params.get("timerel")
    time_at = params.get("timeAt")
    end_time_at = params.get("endTimeAt")
    if timerel is not None:
        if timerel not in ("before", "after", "between"):
            raise BadRequestData(f"timerel must be before, after or between, not {timerel!r}")
        if not is_datetime(time_at):
            raise BadRequestData("timerel needs a timeAt DateTime")
        if timerel == "between" and not is_datetime(end_time_at):
            raise BadRequestData("timerel=between needs an endTimeAt DateTime")
    elif time_at is not None:
        raise BadRequestData("timeAt needs timerel")
    timeproperty = params.get("timeproperty", "observedAt")
    if timeproperty not in TIME_PROPERTIES:
        raise BadRequestData(f"timeproperty must be one of {', '.join(TIME_PROPERTIES)}")
    last_n = None
    if params.get("lastN") is not None:
        try:
            last_n = int(params["lastN"])
        except (TypeError, ValueError):
            raise BadRequestData("lastN must be a positive integer") from None
        if last_n < 1:
            raise BadRequestData("lastN must be a positive integer")
    methods: tuple[str, ...] = ()
    period = None
    if aggregated:
        raw = params.get("aggrMethods")
        methods = tuple(names_of(raw) if isinstance(raw, str) else raw or ())
        if not methods or not set(methods) <= set(AGGREGATION_METHODS):
            raise BadRequestData(f"aggrMethods must list some of {', '.join(AGGREGATION_METHODS)}")
        if params.get("aggrPeriodDuration"):
            period = duration_seconds(str(params["aggrPeriodDuration"]))
    ids = tuple(names_of(params.get("id")))
    type_text = params.get("type")
    attrs = names_of(params.get("attrs"))
    if require_filter and not (ids or type_text or attrs or params.get("idPattern")):
        raise BadRequestData("a temporal query needs at least one of id, idPattern, type, attrs")
    return TemporalQuery(
        ids=ids,
        id_pattern=params.get("idPattern"),
        types=map_type_names(parse_type_selection(type_text), terms.expand) if type_text else None,
        attrs=tuple(terms.expand(a) for a in attrs),
        timerel=timerel,
        time_at=time_at,
        end_time_at=end_time_at,
        timeproperty=timeproperty,
        last_n=last_n,
        aggregate=methods,
        period=period,
        limit=limit,
        offset=offset,
    )

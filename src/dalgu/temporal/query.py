"""Temporal query parameters (clause 6.18.3.2, 5.7.3/5.7.4): timerel, time property, lastN,
q, geoQ, datasetId, aggregation methods and period (an ISO 8601 duration)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from dalgu.broker.model import is_datetime, is_uri
from dalgu.errors import BadRequestData
from dalgu.ldcontext import TermMap
from dalgu.query.ast import expand_values, map_names, map_type_names
from dalgu.query.duration import parse_duration
from dalgu.query.geo import parse_geoquery
from dalgu.query.order import parse_ordering
from dalgu.query.q import parse_q
from dalgu.query.regex import compile_pattern
from dalgu.query.typesel import every_type, parse_type_selection
from dalgu.store.base import TemporalQuery
from dalgu.store.periods import check_query_periods

AGGREGATION_METHODS = ("totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq")
TIME_PROPERTIES = ("observedAt", "createdAt", "modifiedAt", "deletedAt")
#: names an `attrs` list may hold that are entity members, not attributes
_MEMBERS = frozenset({"id", "type", "scope", "createdAt", "modifiedAt", "deletedAt"})


def _instant(text: Any) -> datetime:
    """A DateTime (checked by `is_datetime`) as an aware instant; no zone is UTC."""
    value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


_FRACTION = re.compile(r"T[^.]*\.\d{6}(\d*)")


def _to_the_microsecond(name: str, text: Any) -> None:
    """Refuse a time finer than the microsecond: instance times are kept to the microsecond,
    and no bound finer than that compares with them exactly (`after` 00.1234561 took an
    instance of 00.123456, outside tester tdiff-6); trailing zeros are no finer."""
    found = _FRACTION.search(str(text))
    if found is not None and found.group(1).strip("0"):
        raise BadRequestData(
            f"{name}: Dalgu compares times to the microsecond; {text!r} is finer than that"
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


def temporal_query(
    params: Mapping[str, Any],
    terms: TermMap,
    *,
    limit: int,
    offset: int,
    aggregated: bool,
    require_filter: bool,
    instance_limit: int | None = None,
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
        if timerel == "between" and _instant(end_time_at) < _instant(time_at):
            raise BadRequestData("timerel=between needs an endTimeAt after its timeAt")
        _to_the_microsecond("timeAt", time_at)
        if timerel == "between":
            _to_the_microsecond("endTimeAt", end_time_at)
    elif time_at is not None:
        raise BadRequestData("timeAt needs timerel")
    timeproperty = params.get("timeproperty") or "observedAt"
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
            period = parse_duration(str(params["aggrPeriodDuration"]))
    ids = tuple(names_of(params.get("id")))
    bad = [i for i in ids if not is_uri(i)]
    if bad:
        raise BadRequestData(f"id: {bad[0]!r} is not a URI")
    type_text = params.get("type")
    attrs = [a for a in names_of(params.get("attrs")) if a not in _MEMBERS]
    q_text = params.get("q")
    local = str(params.get("local", "")).lower() == "true"
    if every_type(type_text, params.get("local")):
        type_text, local = None, True
    if require_filter and not (type_text or attrs or q_text or local):
        raise BadRequestData(
            "a temporal query needs type or attrs (or q, or local=true), clause 6.18.3.2"
        )
    id_pattern = params.get("idPattern")
    if id_pattern is not None:
        compile_pattern(id_pattern, "idPattern")
    geo = None
    georel = params.get("georel")
    if georel is not None or params.get("geometry") is not None:
        if georel is None or params.get("geometry") is None or params.get("coordinates") is None:
            raise BadRequestData("a geo-query needs georel, geometry and coordinates")
        coordinates = params["coordinates"]
        if not isinstance(coordinates, str):
            coordinates = str(coordinates).replace(" ", "")
        geo = parse_geoquery(georel, params["geometry"], coordinates, params.get("geoproperty"))
        geo = replace(geo, geoproperty=terms.expand(geo.geoproperty or "location"))
    q = map_names(parse_q(q_text), terms.expand) if q_text else None
    expanded = frozenset(terms.expand(n) for n in names_of(params.get("expandValues")))
    if q is not None and expanded:  # clause 4.9, as on /entities: `sex==Male` against an IRI
        q = expand_values(q, expanded, terms.expand)
    query = TemporalQuery(
        ids=ids,
        id_pattern=id_pattern,
        types=map_type_names(parse_type_selection(type_text), terms.expand) if type_text else None,
        attrs=tuple(terms.expand(a) for a in attrs),
        q=q,
        geo=geo,
        dataset_ids=dataset_ids(params.get("datasetId")),
        timerel=timerel,
        time_at=time_at,
        end_time_at=end_time_at,
        timeproperty=timeproperty,
        last_n=last_n,
        instance_limit=None if aggregated else instance_limit,
        aggregate=methods,
        period=period,
        ordering=parse_ordering(params, terms.expand),
        limit=limit,
        offset=offset,
    )
    check_query_periods(query)
    return query


def dataset_ids(raw: Any) -> tuple[str, ...]:
    """The datasetId parameter: URIs, and `@none` for the default instances."""
    values = names_of(raw)
    if not all(v == "@none" or is_uri(v) for v in values):
        raise BadRequestData("datasetId must list URIs (or @none for the default instance)")
    return tuple(values)

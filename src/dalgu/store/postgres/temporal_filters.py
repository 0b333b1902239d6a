"""SQL conditions of temporal queries on PostgreSQL: the time property and interval, the
attributes and datasets asked for, and the entities' ids, types, `q` and `geoQ` over the
instances in the interval; and the number of an aggregation bucket."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
import shapely

from dalgu.query.ast import GeoQuery, TypeAnd, TypeExpr, TypeName
from dalgu.query.duration import Duration
from dalgu.query.regex_syntax import postgres_pattern
from dalgu.store.base import TemporalQuery
from dalgu.store.history import parse_time
from dalgu.store.postgres.near import near_test
from dalgu.store.postgres.query import Compiled
from dalgu.store.temporal_q import LeafTest, Leaves, q_sql
from dalgu.store.temporal_q import Params as Binding

TIME_COLUMNS = {
    "observedAt": "i.at",  # `at` is observedAt wherever observed_at is set: partitions prune
    "createdAt": "i.created_at",
    "modifiedAt": "i.modified_at",
    "deletedAt": "i.deleted_at",
}
PRESENT = {
    "observedAt": "i.observed_at IS NOT NULL",
    "createdAt": "TRUE",
    "modifiedAt": "TRUE",
    "deletedAt": "i.deleted_at IS NOT NULL",
}
GEO_FUNCTIONS = {
    "within": "ST_Within",
    "contains": "ST_Contains",
    "intersects": "ST_Intersects",
    "equals": "ST_Equals",
    "disjoint": "ST_Disjoint",
    "overlaps": "ST_Overlaps",
}


def time_filter(query: TemporalQuery, c: Compiled, alias: str = "i") -> str:
    """` AND …` on the query's time property; also prunes partitions for observedAt."""
    column = TIME_COLUMNS[query.timeproperty].replace("i.", f"{alias}.")
    sql = " AND " + PRESENT[query.timeproperty].replace("i.", f"{alias}.")
    if query.timerel is None or query.time_at is None:
        return sql
    at = parse_time(query.time_at)
    if query.timerel == "before":
        return sql + f" AND {column} < {c.p(at)}"
    if query.timerel == "after":
        return sql + f" AND {column} >= {c.p(at)}"
    assert query.end_time_at is not None
    end = parse_time(query.end_time_at)
    return sql + f" AND {column} >= {c.p(at)} AND {column} < {c.p(end)}"


#: the instance row `i` of the statement as the `x` of `q` and `geoQ`
_ROW = "SELECT 1 FROM (SELECT i.name, i.deleted_at, i.num, i.txt, i.doc, i.geom) x WHERE TRUE"


def instance_filter(query: TemporalQuery, c: Compiled) -> str:
    sql = time_filter(query, c)
    if query.attrs:
        sql += f" AND i.name = ANY({c.p(list(query.attrs))}::text[])"
    if query.dataset_ids:
        datasets = ["" if d == "@none" else d for d in query.dataset_ids]
        sql += f" AND i.dataset = ANY({c.p(datasets)}::text[])"
    # `q` and `geoQ` select entities; each keeps every instance of the window: the ETSI
    # suite (021_08_01, 021_09_01) reads clause 5.7.4.4 so (docs/conformance.md)
    return sql


def _regex(column: str, pattern: str, c: Binding) -> str:
    return f"{column} ~ {c.p(postgres_pattern(pattern))}"


def keys_filter(
    tenant: str, query: TemporalQuery, entities: Iterable[str], c: Compiled, alias: str
) -> str:
    """The entities (none: any), attributes and datasets of a query, over rollups or
    instances."""
    sql = f"{alias}.tenant = {c.p(tenant)}"
    ids = list(entities)
    if ids:
        sql += f" AND {alias}.entity_id = ANY({c.p(ids)}::text[])"
    if query.attrs:
        sql += f" AND {alias}.name = ANY({c.p(list(query.attrs))}::text[])"
    if query.dataset_ids:
        datasets = ["" if d == "@none" else d for d in query.dataset_ids]
        sql += f" AND {alias}.dataset = ANY({c.p(datasets)}::text[])"
    return sql


def entity_filter(tenant: str, query: TemporalQuery, c: Compiled) -> str:
    parts = [f"t.tenant = {c.p(tenant)}"]
    if query.ids:
        parts.append(f"t.id = ANY({c.p(list(query.ids))}::text[])")
    if query.id_pattern is not None:
        parts.append(f"t.id ~ {c.p(postgres_pattern(query.id_pattern))}")
    if query.after is not None:
        parts.append(f"t.id > {c.p(query.after)}")
    if query.types is not None:
        parts.append(_types(query.types, c))

    def scope(c2: Any) -> str:
        return (
            "SELECT 1 FROM instances x WHERE x.tenant = t.tenant AND x.entity_id = t.id"
            + time_filter(query, c2, "x")
        )

    if query.q is not None:
        parts.append(q_sql(query.q, c, scope, _regex, JSON))
    if query.geo is not None:
        parts.append(_geo(query.geo, c, scope))
    parts.append(
        "EXISTS (SELECT 1 FROM instances i WHERE i.tenant = t.tenant AND i.entity_id = t.id"
        f"{instance_filter(query, c)})"
    )
    return " AND ".join(parts)


def _types(expr: TypeExpr, c: Compiled) -> str:
    if isinstance(expr, TypeName):
        return f"t.types @> ARRAY[{c.p(expr.name)}::text]"
    joiner = " AND " if isinstance(expr, TypeAnd) else " OR "
    return "(" + joiner.join(_types(term, c) for term in expr.terms) + ")"


def _geo(geo: GeoQuery, c: Compiled, scope: Any) -> str:
    if geo.georel == "near":  # as the entity query measures it (`near.py`)
        test = near_test(geo, "x.geom", c.p)
    else:
        shape = f"ST_GeomFromWKB({c.p(shapely.to_wkb(geo.shape))}::bytea, 4326)"
        test = f"{GEO_FUNCTIONS[geo.georel]}(x.geom, {shape})"
    name = c.p(geo.geoproperty)
    return f"EXISTS ({scope(c)} AND x.name = {name} AND x.geom IS NOT NULL AND {test})"


def bucket_number(period: Duration | None, t: str, origin: str, c: Compiled) -> str:
    """SQL for the number of the bucket of `t` counted from `origin`: whole calendar months,
    or whole periods of exact microseconds (integer arithmetic, no rounding at the bounds)."""
    if period is None or period.is_zero:
        return "0"
    if period.months:
        age = f"age({t} AT TIME ZONE 'UTC', {origin} AT TIME ZONE 'UTC')"
        return (
            f"floor((date_part('year', {age}) * 12 + date_part('month', {age})) "
            f"/ {c.p(period.months)})::bigint"
        )
    micros = max(1, round(period.seconds * 1_000_000))
    return f"((extract(epoch FROM {t} - {origin}) * 1000000)::bigint / {c.p(micros)}::bigint)"


# --- the instance's document for `q` (`dalgu.store.temporal_q`) -------------------------------

_DOCUMENT = "convert_from(x.doc, 'UTF8')::jsonb"  # no NUL: writes refuse it, as jsonb does
_FLAT = "[*][*][*]"  # lax mode: an array's elements, arrays of arrays' too; a non-array itself
#: a date-time as `dalgu.broker.model.is_datetime` takes one, each field in its range (the
#: days of its month, February 29 of leap years, an offset PostgreSQL takes): only such text
#: is cast, a cast of any other would fail the whole query
_DAY = (
    r"((?!0000)\d{4}-((0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])|(0[13-9]|1[0-2])-(29|30)"
    r"|(0[13578]|1[02])-31)|(\d\d(0[48]|[2468][048]|[13579][26])|([02468][048]|[13579][26])00)"
    r"-02-29)"
)
_DATETIME = (
    rf"^{_DAY}T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{{1,9}})?)?"
    r"(Z|[+-](0\d|1[0-5]):?[0-5]\d)?$"
)


def _member(key: str) -> str:
    """A member accessor of SQL/JSON path: the name as a quoted string."""
    return "." + orjson.dumps(key).decode()


class _Json:
    """SQL/JSON path in lax mode over the (sub-)attribute's part of the instance's document,
    parsed once per instance and path: a member accessor looks into the elements of an
    array, and `[*]` takes a non-array as itself."""

    def mentions(self, key: str, c: Any) -> str:
        return f"position({c.p(orjson.dumps(key))}::bytea IN x.doc) > 0"  # no parse

    def present(self, sub: tuple[str, ...], c: Any) -> str:
        return f"({_DOCUMENT} #> {c.p(list(sub))}::text[]) IS NOT NULL"

    def leaves(
        self, sub: tuple[str, ...], choices: tuple[Leaves, ...], test: LeafTest, c: Any
    ) -> str:
        # OFFSET 0: a subquery PostgreSQL does not pull up, so the document is parsed once,
        # not once per choice
        part = f"(SELECT {_DOCUMENT} #> {c.p(list(sub))}::text[] AS d OFFSET 0) s"
        found = []
        for choice in choices:
            path = "$" + _member(choice.member) + _FLAT
            if choice.compound is None:
                path += ".*" + _FLAT
            else:
                path += "".join(_member(k) + _FLAT for k in choice.compound)
            if choice.below:
                path += ".**"
            leaf = "coalesce(p.v -> '@value', p.v)" if choice.unwrap else "p.v"
            query = f"SELECT {leaf} FROM jsonb_path_query(s.d, {c.p(path)}::jsonpath) p(v)"
            if choice.property:  # a GeoProperty's geometry is not searched
                query += " WHERE coalesce(s.d ->> 'type', 'Property') = 'Property'"
            found.append(query)
        return (
            f"EXISTS (SELECT 1 FROM {part}, LATERAL ({' UNION ALL '.join(found)}) l(v) "
            f"WHERE jsonb_typeof(l.v) NOT IN ('object', 'array') AND {test()})"
        )

    def typed(self, kind: str) -> tuple[str, str]:
        # CASE: a cast of another JSON type would fail, and AND does not order its operands
        if kind == "number":
            return (
                "jsonb_typeof(l.v) = 'number'",
                "(CASE jsonb_typeof(l.v) WHEN 'number' THEN (l.v)::float8 END)",
            )
        if kind == "boolean":
            return (
                "jsonb_typeof(l.v) = 'boolean'",
                "(CASE jsonb_typeof(l.v) WHEN 'boolean' THEN (l.v)::boolean::int END)",
            )
        if kind == "datetime":
            text = "(l.v #>> '{}')"
            # a time without offset is UTC, as Dalgu reads one, whatever the session's zone
            utc = f"CASE WHEN {text} ~ '(Z|[+-]\\d{{2}}:?\\d{{2}})$' THEN '' ELSE 'Z' END"
            return (
                "jsonb_typeof(l.v) = 'string'",
                f"(CASE WHEN {text} ~ '{_DATETIME}' THEN ({text} || {utc})::timestamptz END)",
            )
        return "jsonb_typeof(l.v) = 'string'", "(l.v #>> '{}')"

    def moment(self, text: str) -> Any:
        return parse_time(text)


JSON = _Json()

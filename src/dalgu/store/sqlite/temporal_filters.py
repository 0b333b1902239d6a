"""SQL of temporal queries on SQLite: the time property and interval, the attributes and
datasets asked for, the entities' ids, types, `q` and `geoQ` over the instances in the
interval, and the number of an aggregation bucket. Times are compared as canonical text."""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson

from dalgu.query.ast import GeoQuery, TypeAnd, TypeExpr, TypeName
from dalgu.query.duration import Duration
from dalgu.store.base import TemporalEntity, TemporalQuery
from dalgu.store.history import parse_time
from dalgu.store.indexing import utc_text
from dalgu.store.sqlite.near import geo_test
from dalgu.store.sqlite.patterns import matching
from dalgu.store.temporal_q import LeafTest, Leaves, canonical_moment, q_sql
from dalgu.store.temporal_q import Params as Binding

TIME_COLUMNS = {
    "observedAt": "observed_at",
    "createdAt": "created_at",
    "modifiedAt": "modified_at",
    "deletedAt": "deleted_at",
}


class Params:
    def __init__(self) -> None:
        self.params: list[Any] = []

    def p(self, value: Any) -> str:
        self.params.append(value)
        return "?"


def canon(value: datetime | None) -> str | None:
    return None if value is None else canon_time(value)


@lru_cache(maxsize=4096)  # the few times of one write repeat in each of its instances
def canon_time(value: datetime) -> str:
    return utc_text(value)


def rows_filter(
    tenant: str, query: TemporalQuery, entities: dict[str, TemporalEntity], c: Params
) -> str:
    tenant_mark = c.p(tenant)  # placeholders in the order of the text
    marks = ",".join(c.p(e) for e in entities)
    return (
        f"tenant = {tenant_mark} AND entity_id IN ({marks}){instance_filter(query, c)} "
        "AND deleted_at IS NULL"
    )


def bucket_number(period: Duration | None, t: str, c: Params) -> str:
    """SQL for the number of the bucket of time `t` (canonical text) counted from the origin
    `o.origin` (canonical text; `o.seconds` its whole Unix seconds), in integer arithmetic:
    whole months, or microseconds divided by the period."""
    origin = "o.origin"
    if period is None or period.is_zero:
        return "0"
    if period.months:
        # whole months between origin and t: years and months apart, less one when t's
        # day and time of the month come before the origin's
        return (
            f"(((CAST(substr({t}, 1, 4) AS INTEGER) - CAST(substr({origin}, 1, 4) AS INTEGER))"
            f" * 12 + CAST(substr({t}, 6, 2) AS INTEGER) - CAST(substr({origin}, 6, 2) AS "
            f"INTEGER) - (substr({t}, 9) < substr({origin}, 9))) / {c.p(period.months)})"
        )
    micros = max(1, round(period.seconds * 1_000_000))
    return (
        f"(((CAST(strftime('%s', {t}) AS INTEGER) - o.seconds)"
        f" * 1000000 + CAST(substr({t}, 21, 6) AS INTEGER) - CAST(substr({origin}, 21, 6) AS "
        f"INTEGER)) / {c.p(micros)})"
    )


def time_filter(query: TemporalQuery, c: Params, alias: str = "") -> str:
    column = alias + TIME_COLUMNS[query.timeproperty]
    sql = f" AND {column} IS NOT NULL"
    if query.timerel is None or query.time_at is None:
        return sql
    at = canon(parse_time(query.time_at))
    if query.timerel == "before":
        return sql + f" AND {column} < {c.p(at)}"
    if query.timerel == "after":
        return sql + f" AND {column} >= {c.p(at)}"
    assert query.end_time_at is not None
    end = canon(parse_time(query.end_time_at))
    return sql + f" AND {column} >= {c.p(at)} AND {column} < {c.p(end)}"


def instance_filter(query: TemporalQuery, c: Params) -> str:
    sql = time_filter(query, c)
    if query.attrs:
        sql += f" AND name IN ({','.join(c.p(a) for a in query.attrs)})"
    if query.dataset_ids:
        datasets = ["" if d == "@none" else d for d in query.dataset_ids]
        sql += f" AND dataset IN ({','.join(c.p(d) for d in datasets)})"
    # `q` and `geoQ` select entities; each keeps every instance of the window: the ETSI
    # suite (021_08_01, 021_09_01) reads clause 5.7.4.4 so (docs/conformance.md)
    return sql


def _regexp(column: str, pattern: str, c: Binding) -> str:
    return f"regexp({c.p(pattern)}, {column})"


def entity_filter(tenant: str, query: TemporalQuery, c: Params) -> str:
    parts = [f"t.tenant = {c.p(tenant)}"]
    if query.ids:
        parts.append(f"t.id IN ({','.join(c.p(i) for i in query.ids)})")
    if query.id_pattern:
        parts.append(matching(query.id_pattern, "t.id", c.p))
    if query.after is not None:
        parts.append(f"t.id > {c.p(query.after)}")
    if query.types is not None:
        parts.append(_types(query.types, c))

    def scope(c2: Any) -> str:
        return (
            "SELECT 1 FROM instances x WHERE x.tenant = t.tenant AND x.entity_id = t.id"
            + time_filter(query, c2, "x.")
        )

    if query.q is not None:
        parts.append(q_sql(query.q, c, scope, _regexp, JSON))
    if query.geo is not None:
        parts.append(_geo(query.geo, c, scope))
    inner = instance_filter(query, c)
    parts.append(
        "EXISTS (SELECT 1 FROM instances i WHERE i.tenant = t.tenant "
        f"AND i.entity_id = t.id{inner})"
    )
    return " AND ".join(parts)


def _geo(geo: GeoQuery, c: Params, scope: Any) -> str:
    inner = scope(c)
    name = c.p(geo.geoproperty)
    # a point's instances near a point: in SQL (`near.py`), without a call per instance
    test = geo_test(geo, c.p, row="x", boxed=True)
    return f"EXISTS ({inner} AND x.name = {name} AND x.geometry IS NOT NULL AND {test})"


def _types(expr: TypeExpr, c: Params) -> str:
    if isinstance(expr, TypeName):
        return f"EXISTS (SELECT 1 FROM json_each(t.types) WHERE value = {c.p(expr.name)})"
    joiner = " AND " if isinstance(expr, TypeAnd) else " OR "
    return "(" + joiner.join(_types(term, c) for term in expr.terms) + ")"


def keys_filter(
    tenant: str, query: TemporalQuery, entities: dict[str, TemporalEntity], c: Params
) -> str:
    """The entities, attributes and datasets of a query, over rollups or instances."""
    sql = f"tenant = {c.p(tenant)} AND entity_id IN ({','.join(c.p(e) for e in entities)})"
    if query.attrs:
        sql += f" AND name IN ({','.join(c.p(a) for a in query.attrs)})"
    if query.dataset_ids:
        datasets = ["" if d == "@none" else d for d in query.dataset_ids]
        sql += f" AND dataset IN ({','.join(c.p(d) for d in datasets)})"
    return sql


# --- the instance's document for `q` (`dalgu.store.temporal_q`) -------------------------------

_INDEXES = r"(?:\[\d+\])*"  # array elements on the way
_DOCUMENT = "CAST(x.doc AS TEXT)"  # text: a BLOB would be read as SQLite's binary JSON


def _json_path(keys: tuple[str, ...]) -> str:
    return "$" + "".join(f'."{k}"' for k in keys)


def _key(key: str | None) -> str:
    """A pattern for one member in json_tree's `fullkey`, which quotes the names that are no
    plain identifiers (`."de-CH"`, `."@value"`) and not the others (`.en`); None: any."""
    if key is None:
        return r'\.(?:"[^"]*"|[^."\[]+)'
    return rf'\.(?:"{re.escape(key)}"|{re.escape(key)})'


class _Json:
    """One json_tree over the (sub-)attribute's part of the instance's document, its leaves
    picked by a pattern of their `fullkey` (array indexes skipped, as the entity index skips
    them): one parse of the document per instance and path."""

    def mentions(self, key: str, c: Any) -> str:
        return f"instr(x.doc, {c.p(orjson.dumps(key))}) > 0"  # bytes in bytes: no parse

    def present(self, sub: tuple[str, ...], c: Any) -> str:
        return f"json_type({_DOCUMENT}, {c.p(_json_path(sub))}) IS NOT NULL"

    def leaves(
        self, sub: tuple[str, ...], choices: tuple[Leaves, ...], test: LeafTest, c: Any
    ) -> str:
        root = c.p(_json_path(sub))
        # the leaf's value first: `fullkey` is made, and matched by a call into Python, only
        # for the leaves that match (either on every leaf cost the query 3.5 times more)
        sql = (
            f"EXISTS (SELECT 1 FROM json_tree({_DOCUMENT} -> {root}) j WHERE j.type NOT IN "
            f"('object', 'array') AND {test()} AND regexp({c.p(_pattern(choices))}, j.fullkey)"
        )
        if any(choice.property for choice in choices):
            # a leaf of `value` counts in a Property only (a GeoProperty's geometry does not)
            value = "(j.fullkey = '$.value' OR j.fullkey GLOB '$.value[[.]*')"
            kind = f"json_extract({_DOCUMENT}, {c.p(_json_path((*sub, 'type')))})"
            sql += f" AND (NOT {value} OR coalesce({kind}, 'Property') = 'Property')"
        return sql + ")"

    def typed(self, kind: str) -> tuple[str, str]:
        if kind == "number":
            return "j.type IN ('integer', 'real')", "j.atom"
        if kind == "boolean":
            return "j.type IN ('true', 'false')", "j.atom"
        if kind == "datetime":
            return "j.type = 'text'", "strftime('%Y-%m-%dT%H:%M:%fZ', j.atom)"
        return "j.type = 'text'", "j.atom"

    def moment(self, text: str) -> Any:
        return canonical_moment(text)


def _pattern(choices: tuple[Leaves, ...]) -> str:
    """The `fullkey` pattern of the leaves of `choices`, from the json_tree's root `$`."""
    alternatives = []
    for choice in choices:
        compound = (None,) if choice.compound is None else choice.compound
        pattern = _key(choice.member) + _INDEXES + "".join(_key(k) + _INDEXES for k in compound)
        if choice.unwrap:
            pattern += rf'(?:\.(?:"@value"|@value){_INDEXES})?'
        if choice.below:
            pattern += r"(?:\..*)?"
        alternatives.append(pattern)
    return r"^\$(?:" + "|".join(alternatives) + ")$"


JSON = _Json()

"""FHIR search compiled to SQL over the index tables, for both SQL stores.

    fhir_resources r           the current version of each resource (rid, type, id, ...)
    fhir_token  (type, param, code, system, rid)
    fhir_string (type, param, folded, exact, rid)
    fhir_date   (type, param, lo, hi, rid)        epoch seconds, inclusive
    fhir_ref    (type, param, ref_id, ref_type, rid)

One clause drives the query (`r.rid IN (rows of its index)`): the most selective kind, a
reference first (a patient's records), then tokens, strings, dates. Every other clause is a
correlated EXISTS probed through the (rid, param) index of its table, so
`Observation?patient=&code=&date=` reads one patient's rows and probes each twice. When the
search is limited to one patient of a patient-compartment type, a token clause drives through
`fhir_token_patient` instead (token rows carry their resource's patient): the patient's rows
of that code only.

A search's values are ORed as a balanced tree of `OR`s, not a chain: SQLite refuses an
expression more than 1000 deep, which a chain of 500 values is. Each search's statements are
bounded in time (`QUERY_SECONDS`; a progress handler on SQLite, `statement_timeout` on
PostgreSQL): past it the query is stopped and the search answered 400 `too-costly`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dalgu.errors import TooCostly
from dalgu.fhir.model import PATIENT_COMPARTMENT
from dalgu.fhir.search import (
    Clause,
    DateValue,
    RefValue,
    SearchQuery,
    StringValue,
    TokenValue,
    Value,
)
from dalgu.fhir.searchparams import is_external

_TABLES = {"token": "fhir_token", "string": "fhir_string", "date": "fhir_date"}
_TABLES["reference"] = "fhir_ref"
_DRIVE_ORDER = {"reference": 0, "token": 1, "string": 2, "date": 3}
#: the longest a FHIR search's statements may run (each store stops them past it)
QUERY_SECONDS = 5.0
_TOP = "\U0010ffff"  # above every character: `prefix` <= s < `prefix` + _TOP


@dataclass(slots=True)
class Sql:
    """Parameters of one statement; `p` returns the placeholder of a new one."""

    style: str  # "qmark" (SQLite) or "numeric" (PostgreSQL)
    params: list[Any] = field(default_factory=list)

    def p(self, value: Any) -> str:
        self.params.append(value)
        return "?" if self.style == "qmark" else f"${len(self.params)}"

    def in_list(self, column: str, values: list[str]) -> str:
        if not values:
            return "0 = 1"
        if self.style == "qmark":
            import orjson

            return f"{column} IN (SELECT value FROM json_each({self.p(orjson.dumps(values))}))"
        return f"{column} = ANY({self.p(values)}::text[])"


def too_long() -> TooCostly:
    """The error of a search stopped at `QUERY_SECONDS`."""
    return TooCostly(
        f"the search ran longer than {QUERY_SECONDS:g} s and was stopped: narrow it "
        "(fewer parameters or values, a patient, a date range)"
    )


def any_of(parts: list[str]) -> str:
    """`parts` ORed as a balanced tree (depth log2 n, placeholders kept in order)."""
    if len(parts) == 1:
        return f"({parts[0]})"
    middle = len(parts) // 2
    return f"({any_of(parts[:middle])} OR {any_of(parts[middle:])})"


def _value_sql(kind: str, value: Value, c: Sql) -> str:
    if isinstance(value, TokenValue):
        parts = []
        if value.code is not None:
            parts.append(f"x.code = {c.p(value.code)}")
        if value.system is not None:
            parts.append(f"x.system = {c.p(value.system)}")
        return " AND ".join(parts) or "1 = 1"
    if isinstance(value, StringValue):
        if value.mode == "exact":
            return f"x.exact = {c.p(value.text)}"
        from dalgu.fhir.searchparams import fold

        folded = fold(value.text)
        if value.mode == "contains":
            escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            return f"x.folded LIKE {c.p('%' + escaped + '%')} ESCAPE '\\'"
        return f"x.folded >= {c.p(folded)} AND x.folded < {c.p(folded + _TOP)}"
    if isinstance(value, DateValue):
        return _date_sql("x.lo", "x.hi", value, c)
    assert isinstance(value, RefValue)
    if value.type is None:
        return f"x.ref_id = {c.p(value.id)}"
    return f"x.ref_id = {c.p(value.id)} AND x.ref_type = {c.p(value.type)}"


def _date_sql(lo: str, hi: str, v: DateValue, c: Sql) -> str:
    """The resource's range [lo, hi] against the value's [v.lo, v.hi] (FHIR 3.1.1.5.6)."""
    if v.prefix == "eq":
        return f"{lo} >= {c.p(v.lo)} AND {hi} <= {c.p(v.hi)}"
    if v.prefix == "ne":
        return f"NOT ({lo} >= {c.p(v.lo)} AND {hi} <= {c.p(v.hi)})"
    if v.prefix == "gt":
        return f"{hi} > {c.p(v.hi)}"
    if v.prefix == "lt":
        return f"{lo} < {c.p(v.lo)}"
    if v.prefix == "ge":
        return f"{hi} >= {c.p(v.lo)}"
    if v.prefix == "le":
        return f"{lo} <= {c.p(v.hi)}"
    if v.prefix == "sa":
        return f"{lo} > {c.p(v.hi)}"
    return f"{hi} < {c.p(v.lo)}"  # eb


def _common_sql(clause: Clause, c: Sql) -> str:
    """`_id` and `_lastUpdated`: columns of the resource row itself."""
    parts = []
    for value in clause.values:
        if isinstance(value, TokenValue):
            parts.append(f"r.id = {c.p(value.code or '')}")
        else:
            assert isinstance(value, DateValue)
            parts.append(_date_sql("r.updated", "r.updated", value, c))
    sql = any_of(parts)
    return f"NOT {sql}" if clause.negate else sql


def _param_sql(clause: Clause, c: Sql) -> str:
    """The clause's parameter among its table's rows: its own name, or for a reference that
    shares another's rows (`indexed_as`), that one's rows of the target types it allows."""
    param = clause.param
    if not param.indexed_as:
        return f"x.param = {c.p(param.name)}"
    sql = " OR ".join(f"x.param = {c.p(name)}" for name in param.indexed_as)
    sql = sql if len(param.indexed_as) == 1 else f"({sql})"
    targets = " OR ".join(f"x.ref_type = {c.p(t)}" for t in param.targets)
    return f"{sql} AND ({targets})"


def _values(clause: Clause, c: Sql) -> str:
    kind = clause.param.type
    return any_of([_value_sql(kind, v, c) for v in clause.values])


def _compartment_patient(query: SearchQuery) -> tuple[str, Clause] | None:
    """The one patient a search of a patient-compartment type is limited to, and the clause
    that says so, if any: then its index rows of that patient are the driver (their
    `patient` is the compartment's)."""
    if query.type not in PATIENT_COMPARTMENT:
        return None
    for clause in query.clauses:
        named = clause.param.name in ("patient", "subject") and not clause.negate
        if named and len(clause.values) == 1:
            value = clause.values[0]
            # another server's Patient (a URL) is in no compartment here: its rows drive
            if (
                isinstance(value, RefValue)
                and value.type == "Patient"
                and not is_external(value.id)
            ):
                return value.id, clause
    return None


def where_sql(query: SearchQuery, c: Sql, *, sqlite: bool) -> str:
    """The WHERE clause over `fhir_resources r` for the query's current, live resources."""
    common = [cl for cl in query.clauses if cl.param.name.startswith("_")]
    indexed = [cl for cl in query.clauses if not cl.param.name.startswith("_")]
    drivers = sorted(
        (cl for cl in indexed if not cl.negate), key=lambda cl: _DRIVE_ORDER[cl.param.type]
    )
    driver = drivers[0] if drivers else None
    compartment = _compartment_patient(query)
    patient = compartment[0] if compartment else None
    token = next((cl for cl in drivers if cl.param.type == "token"), None)
    implied: Clause | None = None
    if compartment is not None and token is not None:
        driver = token  # one patient's rows of that code: the narrowest range there is
        # a row's `patient` is the resource's first Patient reference in the very paths of
        # `patient` (and `subject`, the same paths): driving through it is that clause
        implied = compartment[1]
    # SQLite: `+r.type` keeps its planner off the (type, id) index when a clause drives
    type_column = "+r.type" if sqlite and driver is not None else "r.type"
    parts = [f"{type_column} = {c.p(query.type)}", "r.deleted = 0"]
    for clause in common:
        parts.append(_common_sql(clause, c))
    if driver is not None:
        table = _TABLES[driver.param.type]
        # placeholders in the order they appear (SQLite's are positional)
        sql = f"r.rid IN (SELECT x.rid FROM {table} x WHERE x.type = {c.p(query.type)} "
        sql += f"AND {_param_sql(driver, c)} "
        if driver is token and patient is not None:
            sql += f"AND x.patient = {c.p(patient)} "
        parts.append(sql + f"AND ({_values(driver, c)}))")
    for clause in indexed:
        if clause is driver or clause is implied:
            continue
        table = _TABLES[clause.param.type]
        exists = (
            f"EXISTS (SELECT 1 FROM {table} x WHERE x.rid = r.rid "
            f"AND {_param_sql(clause, c)} AND ({_values(clause, c)}))"
        )
        parts.append(f"NOT {exists}" if clause.negate else exists)
    if query.patients is not None:
        visible = c.in_list("r.patient", sorted(query.patients))
        parts.append(f"({visible} OR r.patient IS NULL)" if query.unlinked else visible)
    return " AND ".join(parts)


def order_sql(query: SearchQuery, c: Sql) -> str:
    keys = []
    for key in query.sort:
        direction = "DESC" if key.descending else "ASC"
        if key.param.name == "_id":
            keys.append(f"r.id {direction}")
        elif key.param.name == "_lastUpdated":
            keys.append(f"r.updated {direction}")
        else:
            edge = "max(x.hi)" if key.descending else "min(x.lo)"
            keys.append(
                f"(SELECT {edge} FROM fhir_date x WHERE x.rid = r.rid "
                f"AND x.param = {c.p(key.param.name)}) {direction}"
            )
    keys.append("r.rid")
    return ", ".join(keys)


def page_sql(query: SearchQuery, style: str, *, sqlite: bool) -> tuple[str, list[Any]]:
    """SELECT rid, type, id, version, last_updated, patient of one page, in order."""
    c = Sql(style)
    where = where_sql(query, c, sqlite=sqlite)
    order = order_sql(query, c)
    sql = (
        "SELECT r.rid, r.type, r.id, r.version, r.last_updated, r.patient "
        f"FROM fhir_resources r WHERE {where} ORDER BY {order} "
        f"LIMIT {c.p(query.count)} OFFSET {c.p(query.offset)}"
    )
    return sql, c.params


def known_total(query: SearchQuery, found: int) -> int | None:
    """The total a page already tells (a page that is not full is the last one), if any."""
    if query.only_count or found >= query.count or (found == 0 and query.offset > 0):
        return None
    return query.offset + found


def count_sql(query: SearchQuery, style: str, *, sqlite: bool) -> tuple[str, list[Any]]:
    c = Sql(style)
    return f"SELECT count(*) FROM fhir_resources r WHERE {where_sql(query, c, sqlite=sqlite)}", (
        c.params
    )


def index_tuples(
    rid: int, type_name: str, rows: Any, patient: str | None
) -> dict[str, list[tuple[Any, ...]]]:
    """The rows to insert into each index table for one resource version, each once (a
    value the resource repeats is one row); token rows carry the resource's patient, so one
    patient's codes are one index range."""
    if rows is None:
        return {}
    return {
        "fhir_token": list(
            dict.fromkeys(
                (type_name, p, code, system, rid, patient) for p, system, code in rows.tokens
            )
        ),
        "fhir_string": list(dict.fromkeys((type_name, p, f, e, rid) for p, f, e in rows.strings)),
        "fhir_date": list(dict.fromkeys((type_name, p, lo, hi, rid) for p, lo, hi in rows.dates)),
        "fhir_ref": list(dict.fromkeys((type_name, p, i, t, rid) for p, t, i in rows.refs)),
    }


INDEX_COLUMNS = {
    "fhir_token": "(type, param, code, system, rid, patient)",
    "fhir_string": "(type, param, folded, exact, rid)",
    "fhir_date": "(type, param, lo, hi, rid)",
    "fhir_ref": "(type, param, ref_id, ref_type, rid)",
}

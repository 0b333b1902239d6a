"""An entity query as SQL over the candidates its driver (`plan.py`) gives, if any."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from dalgu.store.base import EntityQuery
from dalgu.store.sqlite.plan import Driver
from dalgu.store.sqlite.query import Compiled, q_clause, where_clause


@dataclass(slots=True)
class Driven:
    """An entity query's `FROM` and `WHERE` over the candidates of its driver, if any."""

    driver: Driver | None
    where: str  # the conditions left to test on each candidate
    compiled: Compiled  # their parameters
    query: EntityQuery  # the query of those conditions

    @property
    def first(self) -> list[Any]:
        """The driver's parameters, which come before the conditions'."""
        return [] if self.driver is None else self.driver.params

    def source(self, *, keyed: bool) -> str:
        """`keyed`: the candidates' tenant, id and type from the small key index, not from
        their rows (SQLite would read each candidate's row, document and all, for them)."""
        if self.driver is None:
            return "entities e"
        key = " INDEXED BY entities_key" if keyed else ""
        return f"({self.driver.sql}) AS d CROSS JOIN entities e{key} ON e.ent = d.ent"


def driven_sql(
    tenant: str, query: EntityQuery, driver: Driver | None, *, row_types: bool = True
) -> Driven:
    """The query's conditions on each candidate, less what its driver already ensures."""
    q = None
    if driver is not None:  # read only the candidates an index gives (`plan.py`)
        if driver.geo:  # it is the geo-query itself: no need to test that again
            query = replace(query, geo=None)
        if driver.q:  # only candidates not known to match are tested against q
            q, query = query.q, replace(query, q=None)
    # a bounded geo-query still here had many geometries in its box (`plan.choose`)
    c = Compiled(row_types=row_types, geo_each=True)
    where = where_clause(tenant, query, c)
    if q is not None:
        where += f" AND (d.exact OR {q_clause(tenant, q, c)})"
    return Driven(driver, where, c, query)

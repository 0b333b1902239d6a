"""What a search adds to its matches: `_include` (the resources the matches refer to) and
`_revinclude` (the resources that refer to the matches), both as `search.mode = include`.

Neither widens what the caller may see: included resources of the patient compartment are
kept only for the patients the search itself could show, and each `_revinclude` is run as a
search of its own type, restricted like one.
"""

from __future__ import annotations

import orjson

from dalgu.fhir.model import PATIENT_COMPARTMENT, StoredResource
from dalgu.fhir.search import Clause, RefValue, SearchQuery
from dalgu.fhir.searchparams import local_target, values_at
from dalgu.store.base import FhirStore


async def referred(
    store: FhirStore, query: SearchQuery, matches: list[StoredResource]
) -> list[StoredResource]:
    """The resources the matches' `_include` references name, that the search may show."""
    if not query.includes or not matches:
        return []
    wanted: list[tuple[str, str]] = []
    for match in matches:
        body = orjson.loads(match.body) if match.body else {}
        for include in query.includes:
            for path in include.param.paths:
                for value in values_at(body, path):
                    target = value.get("reference") if isinstance(value, dict) else None
                    # this server's resources only: another server's are not here to include
                    split = local_target(target, query.base) if isinstance(target, str) else None
                    if split and (include.target is None or split[0] == include.target):
                        wanted.append(split)
    seen = {(m.type, m.id) for m in matches}
    found = await store.fhir_read_many([w for w in wanted if w not in seen])
    visible = query.patients
    return [
        r
        for r in found
        if visible is None or r.type not in PATIENT_COMPARTMENT or r.patient in visible
    ]


def referring_searches(
    query: SearchQuery, matches: list[StoredResource], limit: int
) -> list[SearchQuery]:
    """One search per `_revinclude`: its type's resources whose parameter names a match (at
    most `limit` each), still to be restricted to what the caller may see."""
    if not matches:
        return []
    targets = tuple(RefValue(query.type, m.id) for m in matches)
    return [
        SearchQuery(rev.source, (Clause(rev.param, targets),), count=limit, total=False)
        for rev in query.revincludes
    ]


def new_ones(found: list[StoredResource], *already: list[StoredResource]) -> list[StoredResource]:
    """`found` without the resources `already` holds, each once."""
    seen = {(r.type, r.id) for rows in already for r in rows}
    out = []
    for r in found:
        if (r.type, r.id) not in seen:
            seen.add((r.type, r.id))
            out.append(r)
    return out

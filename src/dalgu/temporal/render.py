"""Temporal representations (clause 4.5.7–4.5.9): normalized, temporalValues, aggregatedValues."""

from __future__ import annotations

from typing import Any, Literal

from dalgu.broker.model import MEMBERS, VALUE_MEMBER
from dalgu.broker.render import Representation, render_instance
from dalgu.ldcontext import TermMap
from dalgu.store.base import TemporalEntity

TemporalFormat = Literal["normalized", "temporalValues", "aggregatedValues"]
_VALUES_KEY = {
    "Property": "values",
    "GeoProperty": "values",
    "Relationship": "objects",
    "LanguageProperty": "languageMaps",
    "VocabProperty": "vocabs",
    "ListProperty": "valueLists",
    "ListRelationship": "objectLists",
    "JsonProperty": "jsons",
}


def render_temporal(
    entity: TemporalEntity, terms: TermMap, fmt: TemporalFormat, sys_attrs: bool = False
) -> dict[str, Any]:
    types = [terms.compact(t) for t in entity.types]
    out: dict[str, Any] = {"id": entity.id, "type": types[0] if len(types) == 1 else types}
    if fmt == "aggregatedValues":
        for iri, methods in entity.aggregates.items():
            out[terms.compact(iri)] = {"type": "Property", **methods}
        return out
    rep = Representation(sys_attrs=sys_attrs)
    for iri, instances in entity.instances.items():
        name = terms.compact(iri)
        if fmt == "temporalValues":
            out[name] = _simplified(instances)
        else:
            out[name] = [_instance(i, terms, rep) for i in instances]
    return out


def _instance(instance: dict[str, Any], terms: TermMap, rep: Representation) -> dict[str, Any]:
    if "type" not in instance or instance.get("type") is None:
        return {k: v for k, v in instance.items() if v is not None}
    if VALUE_MEMBER.get(instance["type"], "value") not in instance:  # a deletion record
        return {k: v for k, v in instance.items() if k in MEMBERS}
    rendered = render_instance(instance, terms, rep)
    assert isinstance(rendered, dict)
    rendered["instanceId"] = instance["instanceId"]
    return rendered


def _simplified(instances: list[dict[str, Any]]) -> dict[str, Any]:
    kind = next((i["type"] for i in instances if i.get("type")), "Property")
    member = VALUE_MEMBER.get(kind, "value")
    pairs = [
        [i[member], i.get("observedAt") or i.get("modifiedAt")] for i in instances if member in i
    ]
    return {"type": kind, _VALUES_KEY.get(kind, "values"): pairs}

"""Temporal representations (clauses 4.5.8, 4.5.9, 4.5.19): normalized, temporalValues
(simplified) and aggregatedValues, with pick/omit (clause 4.21) applied last."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from dalgu.broker.model import VALUE_MEMBER
from dalgu.broker.render import Representation, language_value, render_instance
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
#: value members that the simplified form wraps in an object (`{"languageMap": …}`)
_WRAPPED = ("languageMap", "json", "vocab")


@dataclass(frozen=True, slots=True)
class TemporalView:
    """How a temporal entity is shown: format, system times, and member projection
    (`pick` and `omit` hold entity members: `id`, `type` and attribute IRIs)."""

    format: TemporalFormat = "normalized"
    sys_attrs: bool = False
    timeproperty: str = "observedAt"
    pick: frozenset[str] | None = None
    omit: frozenset[str] = field(default_factory=frozenset)
    #: the language filter (clause 4.15): a LanguageProperty's instances as Properties
    lang: str | None = None

    def keeps(self, member: str) -> bool:
        return (self.pick is None or member in self.pick) and member not in self.omit


def render_temporal(entity: TemporalEntity, terms: TermMap, view: TemporalView) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if view.keeps("id"):
        out["id"] = entity.id
    if view.keeps("type"):
        types = [terms.compact(t) for t in entity.types]
        out["type"] = types[0] if len(types) == 1 else types
    if view.format == "aggregatedValues":
        for iri, methods in entity.aggregates.items():
            if view.keeps(iri):
                out[terms.compact(iri)] = {"type": _kind_of(entity, iri), **methods}
        return out
    rep = Representation(sys_attrs=view.sys_attrs, lang=view.lang)
    for iri, instances in entity.instances.items():
        if not view.keeps(iri):
            continue
        name = terms.compact(iri)
        if view.format == "temporalValues":
            out[name] = _simplified(instances, terms, view.timeproperty, view.lang)
        else:
            out[name] = [_instance(i, terms, rep, view.timeproperty) for i in instances]
    return out


def _kind_of(entity: TemporalEntity, iri: str) -> str:
    instances = entity.instances.get(iri) or []
    return next((str(i["type"]) for i in instances if i.get("type")), "Property")


def _instance(
    instance: dict[str, Any], terms: TermMap, rep: Representation, timeproperty: str
) -> dict[str, Any]:
    rendered = render_instance(instance, terms, rep)
    assert isinstance(rendered, dict)
    if "deletedAt" in instance:
        rendered["deletedAt"] = instance["deletedAt"]
    elif timeproperty in ("createdAt", "modifiedAt") and timeproperty in instance:
        rendered[timeproperty] = instance[timeproperty]
    rendered["instanceId"] = instance["instanceId"]
    return rendered


def _simplified(
    instances: list[dict[str, Any]], terms: TermMap, timeproperty: str, lang: str | None = None
) -> dict[str, Any] | list[dict[str, Any]]:
    """One `{type, values}` per datasetId and attribute type: an object for one, an array for
    several; with a language filter, a LanguageProperty's as a Property's values in the chosen
    language. An attribute whose type changed over time has a group for each of its types:
    under the first one's, the other instances' values were `null`."""
    groups: dict[tuple[str | None, str], list[dict[str, Any]]] = {}
    last: dict[str | None, str] = {}  # an instance without a type goes with its dataset's last
    for instance in instances:
        dataset = instance.get("datasetId")
        kind_of = str(instance.get("type") or last.get(dataset, ""))
        last[dataset] = kind_of
        groups.setdefault((dataset, kind_of), []).append(instance)
    if not groups:
        groups[(None, "")] = []
    out = []
    for (dataset, _), members in groups.items():
        kind = next((str(i["type"]) for i in members if i.get("type")), "Property")
        holder = VALUE_MEMBER.get(kind, "value")
        pairs = [[_value(i, holder, terms), _time(i, timeproperty)] for i in members]
        if kind == "LanguageProperty" and lang is not None:
            kind = "Property"
            pairs = [[language_value(i, lang), _time(i, timeproperty)] for i in members]
        group: dict[str, Any] = {"type": kind}
        if dataset is not None:
            group["datasetId"] = dataset
        group[_VALUES_KEY.get(kind, "values")] = pairs
        out.append(group)
    return out[0] if len(out) == 1 else out


def _value(instance: dict[str, Any], holder: str, terms: TermMap) -> Any:
    value = instance.get(holder)
    if holder == "vocab" and isinstance(value, list):
        value = [terms.compact(str(v)) for v in value]
    elif holder == "vocab" and isinstance(value, str):
        value = terms.compact(value)
    return {holder: value} if holder in _WRAPPED else value


def _time(instance: dict[str, Any], timeproperty: str) -> Any:
    return (
        instance.get(timeproperty)
        or instance.get("deletedAt")
        or instance.get("observedAt")
        or instance.get("modifiedAt")
    )

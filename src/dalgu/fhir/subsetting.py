"""Subsets of resources a client asks for with `_summary` and `_elements` (R4 search.html
3.1.1.5.9 and 3.1.1.5.10), on reads and searches.

- `_summary=true`: the elements the base definition marks as summary (`isSummary`; in
  `fhir.resources`, fields whose metadata has `summary_element_property`), and the mandatory
  ones; inside backbone elements (`Observation.component`) the same rule again, while data
  types (a CodeableConcept, a Quantity) are kept whole;
- `_summary=text`: `text`, `id`, `meta` and the top-level mandatory elements;
- `_summary=data`: everything but `text`;
- `_summary=false`: the whole resource (as without `_summary`); `_summary=count` is the
  search's own (`SearchQuery.only_count`);
- `_elements=a,b`: those top-level elements (a choice element by its name, `value`, or one of
  its types, `valueQuantity`), with `id`, `meta` and the mandatory elements.

A subsetted resource carries the `SUBSETTED` tag in `meta.tag`, as the spec asks, so that no
client stores it back as if it were whole. Subsetting parses the stored bytes, so it costs
only the answers that ask for it.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from functools import cache
from typing import Any

from dalgu.errors import BadRequestData
from dalgu.fhir import decimals
from dalgu.fhir.model import Resource

SUMMARY_MODES = ("true", "text", "data", "false", "count")
SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "subsetted",
}
_ALWAYS = frozenset({"resourceType", "id", "meta"})


@dataclass(frozen=True, slots=True)
class Subset:
    """What of each resource an answer shows: a `_summary` mode (`true`, `text`, `data`) or
    the `_elements` named (top-level JSON keys)."""

    type: str
    summary: str | None = None
    elements: frozenset[str] = frozenset()

    def apply(self, body: bytes) -> Resource:
        """The stored resource `body` reduced to this subset, tagged `SUBSETTED`."""
        resource: Resource = decimals.loads(body)
        fields = _Fields.of(str(resource.get("resourceType", self.type)))
        if self.summary == "true":
            kept = fields.summary_of(resource)
        elif self.summary == "text":
            keep = _ALWAYS | {"text"} | fields.mandatory
            kept = _only(resource, keep)
        elif self.summary == "data":
            kept = {k: v for k, v in resource.items() if k not in ("text", "_text")}
        else:
            kept = _only(resource, _ALWAYS | fields.mandatory | self.elements)
        meta = dict(kept.get("meta") or {})
        tags = list(meta.get("tag") or [])
        if not any(t.get("code") == "SUBSETTED" for t in tags if isinstance(t, dict)):
            tags.append(SUBSETTED)
        meta["tag"] = tags
        kept["meta"] = meta
        return kept


def _only(resource: Resource, keys: frozenset[str]) -> Resource:
    """The members named in `keys`, with their primitive extensions (`_birthDate`)."""
    return {k: v for k, v in resource.items() if k in keys or (k[1:] in keys and k[0] == "_")}


def _base(annotation: Any) -> Any:
    """The type inside Optional and List wrappers."""
    while typing.get_origin(annotation) in (typing.Union, list, typing.Annotated):
        kept = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = kept[0] if kept else None
    return annotation


@dataclass(frozen=True, slots=True)
class _Fields:
    """A model's JSON keys: summary, mandatory, choices by their name (`value`), and the
    backbone elements whose members are subsetted again."""

    keys: frozenset[str]
    summary: frozenset[str]
    mandatory: frozenset[str]
    choices: dict[str, frozenset[str]]
    backbones: dict[str, Any]

    @staticmethod
    @cache
    def of(type_name: str) -> _Fields:
        from fhir.resources.R4B import get_fhir_model_class

        return _Fields.of_model(get_fhir_model_class(type_name))

    @staticmethod
    @cache
    def of_model(model: Any) -> _Fields:
        from fhir.resources.R4B.backboneelement import BackboneElement

        keys, summary, mandatory = set(), set(), set()
        choices: dict[str, set[str]] = {}
        backbones: dict[str, Any] = {}
        for name, info in model.model_fields.items():
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            if not extra.get("element_property"):
                continue
            key = info.alias or name
            keys.add(key)
            if extra.get("summary_element_property"):
                summary.add(key)
            if info.is_required() or extra.get("element_required"):
                mandatory.add(key)
            choice = extra.get("one_of_many")
            if isinstance(choice, str):
                choices.setdefault(choice, set()).add(key)
            inner = _base(info.annotation)
            klass = inner.get_model_klass() if hasattr(inner, "get_model_klass") else None
            if isinstance(klass, type) and issubclass(klass, BackboneElement):
                backbones[key] = klass
        return _Fields(
            frozenset(keys),
            frozenset(summary),
            frozenset(mandatory),
            {k: frozenset(v) for k, v in choices.items()},
            backbones,
        )

    def summary_of(self, value: dict[str, Any]) -> dict[str, Any]:
        keep = self.summary | self.mandatory | {"resourceType"}
        out = _only(value, frozenset(keep))
        for key, model in self.backbones.items():
            if key in out:
                inner = _Fields.of_model(model)
                member = out[key]
                if isinstance(member, list):
                    out[key] = [inner.summary_of(m) if isinstance(m, dict) else m for m in member]
                elif isinstance(member, dict):
                    out[key] = inner.summary_of(member)
        return out


def parse_subset(type_name: str, summary: str | None, elements: str | None) -> Subset | None:
    """The subset `_summary` (not `count`, which the search handles) and `_elements` ask for
    on `type_name`; None for the whole resource. 400 for an unknown mode or element."""
    if summary is not None and summary not in SUMMARY_MODES:
        raise BadRequestData(f"_summary is one of {', '.join(SUMMARY_MODES)}, not {summary!r}")
    if elements is None:
        return Subset(type_name, summary) if summary in ("true", "text", "data") else None
    if summary not in (None, "false"):
        raise BadRequestData("_elements and _summary cannot be used together")
    fields = _Fields.of(type_name)
    named: set[str] = set()
    for name in (n.strip() for n in elements.split(",")):
        if not name:
            continue
        if name in fields.choices:
            named |= fields.choices[name]
        elif name in fields.keys or name in _ALWAYS:
            named.add(name)
        else:
            raise BadRequestData(f"{name!r} in _elements is not an element of {type_name}")
    return Subset(type_name, None, frozenset(named))

"""One entity as the dashboard shows it (`/dashboard/entity`): its attributes as a table and its
NGSI-LD document (normalized, core `@context`), in the reader's tenant.

The dashboard's links go here rather than to the NGSI-LD API: a browser cannot send
`NGSILD-Tenant`, and the API takes no tenant in its query (its parameters are the standard's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from dalgu.broker.model import NOT_ATTRIBUTES, Entity
from dalgu.broker.render import Representation, render_entity
from dalgu.broker.service import EntityService
from dalgu.dashboard.messages import Language
from dalgu.dashboard.overview import CityOverview, local_time, short_name, shown_value
from dalgu.ldcontext.termmap import TermMap


@dataclass(frozen=True, slots=True)
class AttributeRow:
    name: str
    iri: str
    dataset: str | None
    kind: str
    value: str  # as shown ("" for none worth showing)
    target: str | None  # a Relationship's object, linked to its own view
    observed: str  # its observedAt in Daegu's time, "" when it has none


@dataclass(frozen=True, slots=True)
class EntityDetail:
    id: str
    types: tuple[tuple[str, str], ...]  # (short name, IRI)
    label: str
    attributes: tuple[AttributeRow, ...]
    document: str  # the entity as GET /ngsi-ld/v1/entities/{id} answers it, indented


class EntityReader:
    """Reads one entity for the dashboard; knows nothing of HTML."""

    def __init__(self, entities: EntityService, terms: TermMap) -> None:
        self.entities = entities
        self.terms = terms
        self._overview = CityOverview(entities, terms)

    async def read(self, tenant: str, entity_id: str, lang: Language) -> EntityDetail:
        """The entity (ResourceNotFound when the tenant has none of that id)."""
        entity = await self.entities.retrieve(tenant, entity_id)
        rendered = render_entity(entity, self.terms, Representation())
        return EntityDetail(
            entity["id"],
            tuple((short_name(t, self.terms), t) for t in entity.get("type", ())),
            self._overview.label(entity, lang),
            tuple(self._rows(entity, lang)),
            orjson.dumps(rendered, option=orjson.OPT_INDENT_2).decode(),
        )

    def _rows(self, entity: Entity, lang: Language) -> list[AttributeRow]:
        rows = []
        for iri in sorted(entity, key=lambda k: short_name(k, self.terms).lower()):
            instances = entity[iri]
            if iri in NOT_ATTRIBUTES or not isinstance(instances, list):
                continue
            for instance in instances:
                if isinstance(instance, dict):
                    rows.append(self._row(iri, instance, lang))
        return rows

    def _row(self, iri: str, instance: dict[str, Any], lang: Language) -> AttributeRow:
        kind = str(instance.get("type", "Property"))
        target = instance.get("object") if kind == "Relationship" else None
        observed = instance.get("observedAt")
        dataset = instance.get("datasetId")
        value = shown_value(instance, lang)
        structured = instance.get("value", instance.get("json"))
        if not value and structured is not None:  # a geometry, a JSON object
            value = _clipped(orjson.dumps(structured).decode())
        return AttributeRow(
            short_name(iri, self.terms),
            iri,
            str(dataset) if dataset is not None else None,
            kind,
            value,
            target if isinstance(target, str) else None,
            local_time(observed) if isinstance(observed, str) else "",
        )


def _clipped(text: str, most: int = 160) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"

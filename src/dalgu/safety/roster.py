"""Who drives which vehicle, and what the safety service keeps of each driver, as NGSI-LD entities.

- A vehicle's driver is the `driver` Relationship of its `Vehicle` entity
  (`urn:ngsi-ld:Vehicle:<vehicle>`, the entity the gateway writes the telematics unit's
  measures to), set by whoever knows who sits at the wheel: a fleet app, a key-card reader.
- The driver's entity (a `Person`, say) may name their medical record, `fhirPatient` (a FHIR
  reference, `Patient/123`), and carry `medicalSummaryConsent` (true: a medical emergency's
  alert may carry a summary of that record).
- A driver's awake baseline (`DriverBaseline`) is kept as an entity of its own,
  `urn:ngsi-ld:DriverBaseline:<driver's id>`, with the levels as a JsonProperty `awakeLevels`,
  so it survives restarts and both stores keep it.

All of them are read and written in the tenant of the vehicle's devices: each firm has its own
roster and baselines. All names are the core context's (unknown terms in its default
vocabulary), as the alerts'.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from dalgu.broker.model import Entity, first_instance, now_iso
from dalgu.broker.parse import parse_entity
from dalgu.broker.service import EntityService
from dalgu.errors import AlreadyExists, ResourceNotFound
from dalgu.ldcontext.termmap import TermMap
from dalgu.safety.detectors.awake import DriverBaseline
from dalgu.safety.medical import Driver

log = logging.getLogger(__name__)

BASELINE_TYPE = "DriverBaseline"


def vehicle_id(vehicle: str) -> str:
    return f"urn:ngsi-ld:Vehicle:{vehicle}"


def baseline_id(driver: str) -> str:
    return f"urn:ngsi-ld:{BASELINE_TYPE}:{driver}"


class DriverRoster:
    def __init__(self, entities: EntityService, terms: TermMap) -> None:
        self.entities = entities
        self.terms = terms

    async def _entity(self, tenant: str, entity_id: str) -> Entity | None:
        try:
            return await self.entities.retrieve(tenant, entity_id)
        except ResourceNotFound:
            return None

    async def driver_of(self, tenant: str, vehicle: str) -> Driver | None:
        """The driver the vehicle's entity in `tenant` names, with their record and consent;
        None when it names none."""
        entity = await self._entity(tenant, vehicle_id(vehicle))
        driver = first_instance(entity, self.terms.expand("driver")) if entity is not None else None
        person = driver.get("object") if driver is not None else None
        if not isinstance(person, str):
            return None
        record = await self._entity(tenant, person)
        if record is None:
            return Driver(person)
        patient = _value(record, self.terms.expand("fhirPatient"))
        consent = _value(record, self.terms.expand("medicalSummaryConsent"))
        return Driver(
            person,
            patient if isinstance(patient, str) and patient else None,
            consent is True,
        )

    async def baseline(self, tenant: str, driver: str) -> DriverBaseline | None:
        """The driver's awake baseline stored in `tenant`; None when there is none or it
        cannot be read."""
        entity = await self._entity(tenant, baseline_id(driver))
        found = (
            first_instance(entity, self.terms.expand("awakeLevels")) if entity is not None else None
        )
        if found is None:
            return None
        try:
            return DriverBaseline.from_json({**(found.get("json") or {}), "driver": driver})
        except (ValueError, TypeError) as error:
            log.warning("stored baseline of %s unread: %s", driver, error)
            return None

    async def keep(self, tenant: str, baseline: DriverBaseline) -> None:
        """Store the driver's baseline in `tenant`, in place of the one kept before."""
        at = datetime.fromtimestamp(baseline.learnt_at, UTC).isoformat().replace("+00:00", "Z")
        doc: dict[str, Any] = {
            "id": baseline_id(baseline.driver),
            "type": BASELINE_TYPE,
            "driver": {"type": "Relationship", "object": baseline.driver},
            "awakeLevels": {"type": "JsonProperty", "json": baseline.to_json()},
            "learntAt": {"type": "Property", "value": at},
        }
        if baseline.vehicle is not None:
            doc["vehicle"] = {"type": "Relationship", "object": vehicle_id(baseline.vehicle)}
        entity = parse_entity(doc, self.terms, now_iso())
        try:
            await self.entities.create(tenant, entity)
        except AlreadyExists:
            with contextlib.suppress(ResourceNotFound):  # deleted meanwhile: then it is gone
                await self.entities.replace(tenant, entity)


def _value(entity: Entity, iri: str) -> Any:
    instance = first_instance(entity, iri)
    return instance.get("value") if instance is not None else None

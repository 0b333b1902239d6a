"""The medical information service, as the safety service sees it: a short summary of a patient.

The FHIR service implements `MedicalSummarySource`; the safety service asks it only for a
medical emergency, and only when the roster says the driver agreed (`Driver.consent`). That
flag is the fleet's word; the FHIR implementation answers only when the patient's own Consent
permits the safety service, and only with clinical items that name nobody (the summary goes
into an Alert entity every client of the tenant reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class MedicalSummarySource(Protocol):
    async def summary(self, patient: str) -> dict[str, Any] | None:
        """A short summary (conditions, medication, allergies…) of `patient`, if one exists."""


@dataclass(frozen=True, slots=True)
class Driver:
    """A driver as the safety service knows them: their entity, and a FHIR Patient if any."""

    id: str  # the NGSI-LD entity, e.g. urn:ngsi-ld:Person:driver-001
    patient: str | None = None  # a FHIR reference, e.g. Patient/123
    consent: bool = False  # the fleet asks for a medical summary on an emergency alert

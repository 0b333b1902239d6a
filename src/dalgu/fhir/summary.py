"""A patient's medical summary for an emergency, as the vehicle-safety service asks for it.

    summary = await medical_summary(fhir, "patient-123", requester="Device/vehicle-safety")
    summary = await wearable_summary(fhir, "urn:ngsi-ld:Wearable:w1", requester=...)

It reads as an emergency principal breaking the glass (purpose of use BTG) with the reason
"vehicle safety alert" unless another is given, through the same service calls the API uses:
consent is applied (a Consent naming the emergency role makes it a consented read), every
read is an AuditEvent, and the break-glass ones are listed by `AuditEvent?purpose=BTG`.

The vehicle safety service itself never breaks the glass (`SafetyMedicalSummaries`): it reads
only with the patient's own Consent permitting it, and passes on the clinical items alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from dalgu.errors import AccessDenied, ResourceGone, ResourceNotFound
from dalgu.fhir.model import BREAK_GLASS, Principal, Resource, Role
from dalgu.fhir.search import parse_search
from dalgu.fhir.service import FhirService
from dalgu.fhir.vitals import VITALS
from dalgu.fhir.wearables import link_system

VEHICLE_SAFETY_ALERT = "vehicle safety alert"


@dataclass(frozen=True, slots=True)
class Coded:
    """A coded finding (a condition, an allergy): its first coding and its text."""

    system: str | None
    code: str | None
    text: str


@dataclass(frozen=True, slots=True)
class VitalReading:
    """The latest Observation of one vital sign; `components` for the blood pressure panel
    as (LOINC code, value, unit)."""

    code: str
    text: str
    value: float | None
    unit: str | None
    at: str | None
    components: tuple[tuple[str, float | None, str | None], ...] = ()


@dataclass(frozen=True, slots=True)
class MedicalSummary:
    patient_id: str
    name: str | None
    birth_date: str | None
    gender: str | None
    conditions: tuple[Coded, ...]  # active Conditions
    allergies: tuple[Coded, ...]  # active AllergyIntolerances
    vitals: tuple[VitalReading, ...]  # the latest of each vital sign, newest first


def _coded(concept: object) -> Coded:
    concept = concept if isinstance(concept, dict) else {}
    coding = (concept.get("coding") or [{}])[0]
    text = concept.get("text") or coding.get("display") or coding.get("code") or ""
    return Coded(coding.get("system"), coding.get("code"), str(text))


def _name(patient: Resource) -> str | None:
    for name in patient.get("name") or []:
        if name.get("text"):
            return str(name["text"])
        parts = [*(name.get("given") or []), name.get("family") or ""]
        joined = " ".join(p for p in parts if p)
        if joined:
            return joined
    return None


def _reading(obs: Resource) -> VitalReading:
    code = _coded(obs.get("code"))
    quantity = obs.get("valueQuantity") or {}
    at = obs.get("effectiveDateTime") or (obs.get("effectivePeriod") or {}).get("end")
    components = tuple(
        (
            _coded(c.get("code")).code or "",
            (c.get("valueQuantity") or {}).get("value"),
            (c.get("valueQuantity") or {}).get("code"),
        )
        for c in obs.get("component") or []
    )
    return VitalReading(
        code.code or "", code.text, quantity.get("value"), quantity.get("code"), at, components
    )


async def medical_summary(
    fhir: FhirService,
    patient_id: str,
    *,
    requester: str,
    reason: str = VEHICLE_SAFETY_ALERT,
    break_glass: bool = True,
) -> MedicalSummary:
    """Active conditions, allergies and latest vitals of a patient, read by `requester`
    (a reference such as `Device/vehicle-safety`) as an emergency breaking the glass, or,
    with `break_glass=False`, only as the patient's Consent permits (AccessDenied without).
    Raises ResourceNotFound / ResourceGone for an unknown or deleted patient."""
    who = (
        Principal(requester, Role.EMERGENCY, purpose=BREAK_GLASS, reason=reason)
        if break_glass
        else Principal(requester, Role.EMERGENCY)
    )
    patient = orjson.loads((await fhir.read(who, "Patient", patient_id)).body or b"{}")

    async def search(type_name: str, items: list[tuple[str, str]]) -> list[Resource]:
        query = fhir.parse_search(type_name, [("patient", patient_id), *items])
        result = await fhir.search(who, query, text=f"{type_name}?patient={patient_id}")
        return [orjson.loads(m.body or b"{}") for m in result.matches]

    conditions = await search("Condition", [("clinical-status", "active")])
    allergies = await search("AllergyIntolerance", [("clinical-status", "active")])
    recent = await search(
        "Observation", [("category", "vital-signs"), ("_sort", "-date"), ("_count", "100")]
    )
    latest: dict[str, VitalReading] = {}
    known = {s.code for s in VITALS.values()} | {"85354-9"}
    for obs in recent:
        reading = _reading(obs)
        if reading.code in known and reading.code not in latest:
            latest[reading.code] = reading
    return MedicalSummary(
        patient_id,
        _name(patient),
        patient.get("birthDate"),
        patient.get("gender"),
        tuple(_coded(c.get("code")) for c in conditions),
        tuple(_coded(a.get("code")) for a in allergies),
        tuple(latest.values()),
    )


async def wearable_summary(
    fhir: FhirService,
    wearable_entity_id: str,
    *,
    requester: str,
    reason: str = VEHICLE_SAFETY_ALERT,
    tenant: str = "",
) -> MedicalSummary | None:
    """The summary of the patient a wearable (its NGSI-LD entity id in `tenant`) is linked
    to, or None when no FHIR Device links it to a patient."""
    system = link_system(tenant)
    query = parse_search("Device", [("identifier", f"{system}|{wearable_entity_id}")])
    found, _ = await fhir.store.fhir_search(query)
    patient = next((d.patient for d in found if d.patient), None)
    if patient is None:
        return None
    return await medical_summary(fhir, patient, requester=requester, reason=reason)


def alert_summary(summary: MedicalSummary) -> dict[str, Any]:
    """What of a summary goes into a safety Alert (an NGSI-LD entity every client of the
    tenant reads): the clinical items a responder acts on, and nothing that names the patient
    (no id, name, birth date or gender). Members are camelCase, as NGSI-LD's and SDM's."""

    def coded(item: Coded) -> dict[str, Any]:
        return {"system": item.system, "code": item.code, "text": item.text}

    def vital(reading: VitalReading) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": reading.code,
            "text": reading.text,
            "value": reading.value,
            "unit": reading.unit,
            "observedAt": reading.at,
        }
        if reading.components:
            out["components"] = [
                {"code": code, "value": value, "unit": unit}
                for code, value, unit in reading.components
            ]
        return out

    return {
        "conditions": [coded(c) for c in summary.conditions],
        "allergies": [coded(a) for a in summary.allergies],
        "vitals": [vital(v) for v in summary.vitals],
    }


class SafetyMedicalSummaries:
    """The vehicle safety service's `MedicalSummarySource` (`dalgu.safety.medical`): the
    summary it attaches to a medical-emergency alert of a consenting driver.

    It is read as the emergency principal `requester` *without* breaking the glass: only an
    active Consent of the patient that permits `requester` (by reference) or every emergency
    service (by role) lets it through; the read, allowed or refused, is audited. The NGSI-LD
    `medicalSummaryConsent` flag alone, which any client of a tenant can write, is not enough."""

    def __init__(self, fhir: FhirService, requester: str = "Device/vehicle-safety") -> None:
        self.fhir = fhir
        self.requester = requester

    async def summary(self, patient: str) -> dict[str, Any] | None:
        """`patient`: a reference (`Patient/123`) or an id; None when no such patient or no
        Consent of theirs permits the safety service."""
        patient_id = patient.removeprefix("Patient/")
        try:
            found = await medical_summary(
                self.fhir, patient_id, requester=self.requester, break_glass=False
            )
        except (ResourceNotFound, ResourceGone, AccessDenied):
            return None
        return alert_summary(found)

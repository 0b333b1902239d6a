"""A safety alert, and its NGSI-LD form: a Smart Data Models `Alert` entity.

`category`, `subCategory`, `severity`, `alertSource`, `dateIssued`, `validFrom`, `location`
and `description` are the data model's own attributes; `confidence`, `onset`, `evidence`,
`driver` and `medicalSummary` are Dalgu's additions, in the same entity. `medicalSummary`
holds clinical items only (`dalgu.fhir.summary.alert_summary`), nothing naming the patient.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from dalgu.safety.detectors.base import Finding, Severity

# `subCategory` is one of the data model's enum (its schema refuses anything else); the
# nearest for each kind: a cardiac event is `heartAttack`; a drowsy, hypoxaemic or
# incapacitated driver is a danger on the road the enum names no better than `hazardOnRoad`.
# Dalgu's own kind is `alertType`/`alertSubType`.
SUBCATEGORIES = {
    "drowsiness": ("traffic", "hazardOnRoad"),
    "cardiac": ("health", "heartAttack"),
    "hypoxaemia": ("health", "hazardOnRoad"),
    "incapacitation": ("health", "hazardOnRoad"),
}
DESCRIPTIONS = {
    "drowsiness": "The driver shows signs of drowsiness",
    "cardiac": "Cardiac event of the driver at the wheel",
    "hypoxaemia": "Low blood oxygen of the driver at the wheel",
    "incapacitation": "The driver is not steering while the car moves on",
}
MEDICAL = frozenset(("cardiac", "hypoxaemia", "incapacitation"))
# how much a medical finding tells a responder: a still wheel says least (why is unknown), a
# desaturation more, a heart event more, a stopped heart most (start CPR, bring a defibrillator).
# An `unconfirmed` heart finding (the rate jumped as the band was lost) says no more than a
# still wheel.
SPECIFICITY = {"incapacitation": 0, "hypoxaemia": 1, "cardiac": 2}


def specificity(type_: str, subtype: str) -> int:
    if type_ == "cardiac" and subtype == "asystole":
        return 3
    if type_ == "cardiac" and subtype == "unconfirmed":
        return 0
    return SPECIFICITY.get(type_, 0)


_SEVERITIES: tuple[Severity, ...] = ("informational", "low", "medium", "high", "critical")


@dataclass(frozen=True, slots=True)
class Alert:
    vehicle: str
    driver: str | None
    type: str
    subtype: str
    severity: Severity
    confidence: float
    onset: float  # s from the drive's start
    raised: float  # s from the drive's start: when the service knew
    evidence: dict[str, Any]
    location: tuple[float, float] | None  # latitude, longitude
    medical_summary: dict[str, Any] | None = None
    detectors: tuple[str, ...] = field(default=())
    # (type, subtype) the alert was raised as, when a more specific finding of its episode
    # has updated it since; its entity id stays the one it was raised with
    raised_as: tuple[str, str] | None = None

    @property
    def category(self) -> str:
        return "medical" if self.type in MEDICAL else self.type

    @classmethod
    def of(
        cls,
        finding: Finding,
        vehicle: str,
        driver: str | None,
        raised: float,
        location: tuple[float, float] | None,
    ) -> Alert:
        return cls(
            vehicle,
            driver,
            finding.type,
            finding.subtype,
            finding.severity,
            round(finding.confidence, 3),
            finding.onset,
            raised,
            finding.evidence,
            location,
        )

    def with_summary(self, summary: dict[str, Any]) -> Alert:
        return replace(self, medical_summary=summary)

    def specified(self, finding: Finding) -> Alert:
        """This alert told of a more specific finding of its episode: its kind, evidence and
        confidence are the finding's, its severity the higher of the two; its onset, the
        time it was raised and its entity id stay."""
        severity = max(self.severity, finding.severity, key=_SEVERITIES.index)
        return replace(
            self,
            type=finding.type,
            subtype=finding.subtype,
            severity=severity,
            confidence=round(finding.confidence, 3),
            evidence=finding.evidence,
            raised_as=self.raised_as or (self.type, self.subtype),
        )

    def entity_id(self, start: datetime) -> str:
        stamp = (start + timedelta(seconds=self.raised)).strftime("%Y%m%dT%H%M%S")
        kind = self.raised_as[0] if self.raised_as is not None else self.type
        return f"urn:ngsi-ld:Alert:{self.vehicle}:{kind}:{stamp}"

    def to_entity(self, start: datetime, vehicle_id: str, driver_id: str | None) -> dict[str, Any]:
        """The NGSI-LD entity (normalized form, short names of the Smart Data Models context)."""
        category, subcategory = SUBCATEGORIES[self.type]

        def when(seconds: float) -> str:
            return (start + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")

        entity: dict[str, Any] = {
            "id": self.entity_id(start),
            "type": "Alert",
            "category": {"type": "Property", "value": category},
            "subCategory": {"type": "Property", "value": subcategory},
            "severity": {"type": "Property", "value": self.severity},
            "description": {
                "type": "Property",
                "value": f"{DESCRIPTIONS[self.type]} ({self.subtype})",
            },
            "alertSource": {"type": "Relationship", "object": vehicle_id},
            "dateIssued": {"type": "Property", "value": when(self.raised)},
            "validFrom": {"type": "Property", "value": when(self.onset)},
            "confidence": {"type": "Property", "value": self.confidence},
            "onset": {"type": "Property", "value": when(self.onset)},
            "alertType": {"type": "Property", "value": self.type},
            "alertSubType": {"type": "Property", "value": self.subtype},
            "evidence": {"type": "Property", "value": self.evidence},
        }
        if driver_id is not None:
            entity["driver"] = {"type": "Relationship", "object": driver_id}
        if self.location is not None:
            lat, lon = self.location
            entity["location"] = {
                "type": "GeoProperty",
                "value": {"type": "Point", "coordinates": [lon, lat]},
            }
        if self.medical_summary is not None:
            entity["medicalSummary"] = {"type": "Property", "value": self.medical_summary}
        if self.raised_as is not None:
            first, sub = self.raised_as
            entity["raisedAs"] = {
                "type": "Property",
                "value": {"alertType": first, "alertSubType": sub},
            }
        return entity

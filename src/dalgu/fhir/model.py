"""What the FHIR service speaks in: resource types, principals and stored resources."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeAlias

Resource: TypeAlias = dict[str, Any]

#: the resource types this server keeps (and its CapabilityStatement lists)
RESOURCE_TYPES: tuple[str, ...] = (
    "Patient",
    "Practitioner",
    "Organization",
    "Device",
    "Observation",
    "Encounter",
    "Condition",
    "AllergyIntolerance",
    "MedicationStatement",
    "Consent",
    "AuditEvent",
)

#: types whose resources belong to one patient's compartment (consent applies to them)
PATIENT_COMPARTMENT: frozenset[str] = frozenset(
    {"Patient", "Device", "Observation", "Encounter", "Condition", "AllergyIntolerance"}
    | {"MedicationStatement", "Consent"}
)

#: compartment types whose resources linked to no patient are open to every role (a Device
#: not yet given to anyone holds nothing about a person)
OPEN_WHEN_UNLINKED: frozenset[str] = frozenset({"Device"})

#: HL7 purpose of use "break the glass" (v3-ActReason BTG)
BREAK_GLASS = "BTG"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"


class Role(StrEnum):
    """Who a principal acts as; consent and the role decide what it may do."""

    PATIENT = "patient"
    CLINICIAN = "clinician"
    EMERGENCY = "emergency"
    RESEARCHER = "researcher"
    DEVICE = "device"
    ADMIN = "admin"  # the platform's operators: registration, onboarding, audit review


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated party of a request, as the edge resolved it.

    `who` is a FHIR reference (`Practitioner/p1`, `Patient/123`, `Device/w1`) or another
    identifier of the caller; `patient` is the patient id a patient principal is. `purpose`
    is the purpose of use the request declares (`BTG` asks for break-glass access); `reason`
    is free text recorded with it.
    """

    who: str
    role: Role
    patient: str | None = None
    purpose: str | None = None
    reason: str | None = None

    @property
    def breaks_glass(self) -> bool:
        return self.purpose == BREAK_GLASS


#: what the server itself acts as (the wearable recorder, the vehicle-safety summary)
SYSTEM = Principal("Device/dalgu", Role.ADMIN)


#: the highest version a resource can reach: the stores keep versions as 32-bit integers
#: (PostgreSQL `integer`), so a larger number names no version and is never sent to them
MAX_VERSION = 2**31 - 1


def version_number(text: str) -> int | None:
    """The version a `_history/[vid]` segment names; None when it can name none (not ASCII
    digits, or beyond `MAX_VERSION`)."""
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if number <= MAX_VERSION else None


@dataclass(frozen=True, slots=True)
class StoredResource:
    """One version of a resource as stored: `body` is its JSON (meta included); None when
    this version is a deletion."""

    type: str
    id: str
    version: int
    last_updated: str
    deleted: bool
    body: bytes | None
    patient: str | None = None
    created: bool = False  # a write that made a new resource

    @property
    def reference(self) -> str:
        return f"{self.type}/{self.id}"

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'


def instant(moment: datetime | None = None) -> str:
    """A FHIR instant in UTC with milliseconds."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

"""The FHIR R4 service: resources, search, consent, audit, wearable vital signs, summaries."""

from dalgu.fhir.model import SYSTEM, Principal, Role, StoredResource
from dalgu.fhir.service import FhirService, SearchResult
from dalgu.fhir.summary import MedicalSummary, medical_summary, wearable_summary
from dalgu.fhir.wearables import WearableRecorder

__all__ = [
    "SYSTEM",
    "FhirService",
    "MedicalSummary",
    "Principal",
    "Role",
    "SearchResult",
    "StoredResource",
    "WearableRecorder",
    "medical_summary",
    "wearable_summary",
]

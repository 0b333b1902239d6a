"""Helpers of the FHIR tests: principals as headers, and resources to write."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

FHIR = {"Content-Type": "application/fhir+json"}
ADMIN = {"X-Dalgu-Role": "admin", **FHIR}
LOINC = "http://loinc.org"
VITAL = "http://terminology.hl7.org/CodeSystem/observation-category"


def as_(role: str, who: str, **extra: str) -> dict[str, str]:
    return {"X-Dalgu-Role": role, "X-Dalgu-Principal": who, **FHIR, **extra}


def patient(family: str = "Kim", **fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "name": [{"family": family, "given": ["Minji"]}],
        "gender": "female",
        "birthDate": "1980-05-01",
        **fields,
    }


def observation(
    patient_id: str, code: str = "8867-4", at: str = "2024-03-01T10:00:00Z", value: float = 72
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": VITAL, "code": "vital-signs"}]}],
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": at,
        "valueQuantity": {"value": value, "unit": "/min", "system": "http://unitsofmeasure.org"},
    }


def consent(patient_id: str, actor: dict[str, Any], **provision: Any) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": LOINC, "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{patient_id}"},
        "provision": {"type": "permit", "actor": [actor], **provision},
    }


def practitioner_actor(who: str) -> dict[str, Any]:
    return {
        "role": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                    "code": "PRCP",
                }
            ]
        },
        "reference": {"reference": who},
    }


def role_actor(role: str) -> dict[str, Any]:
    return {
        "role": {"coding": [{"system": "urn:dalgu:fhir:role", "code": role}]},
        "reference": {"display": f"any {role}"},
    }


def create(client: TestClient, resource: dict[str, Any], headers: dict[str, str] = ADMIN) -> str:
    response = client.post(f"/fhir/{resource['resourceType']}", json=resource, headers=headers)
    assert response.status_code == 201, response.text
    created: str = response.json()["id"]
    return created


def entries(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        e["resource"]
        for e in bundle.get("entry", [])
        if e.get("search", {}).get("mode") != "include"
    ]

"""The medical summary the vehicle-safety service reads in an emergency, by break-glass."""

from __future__ import annotations

import orjson
from starlette.testclient import TestClient

from dalgu.fhir import MedicalSummary, wearable_summary
from dalgu.fhir.summary import SafetyMedicalSummaries
from dalgu.fhir.wearables import link_system
from tests.fhir.conftest import (
    ADMIN,
    consent,
    create,
    entries,
    observation,
    patient,
    practitioner_actor,
    role_actor,
)

SNOMED = "http://snomed.info/sct"


def concept(code: str, text: str) -> dict[str, object]:
    return {"coding": [{"system": SNOMED, "code": code}], "text": text}


def active(kind: str) -> dict[str, object]:
    system = f"http://terminology.hl7.org/CodeSystem/{kind}-clinical"
    return {"coding": [{"system": system, "code": "active"}]}


def test_summary_has_active_conditions_allergies_and_latest_vitals(client: TestClient) -> None:
    pid = create(client, patient())
    ref = {"reference": f"Patient/{pid}"}
    create(
        client,
        {
            "resourceType": "Condition",
            "subject": ref,
            "code": concept("44054006", "Type 2 diabetes"),
            "clinicalStatus": active("condition"),
        },
    )
    create(
        client,
        {
            "resourceType": "Condition",
            "subject": ref,
            "code": concept("195967001", "Asthma"),
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        "code": "resolved",
                    }
                ]
            },
        },
    )
    create(
        client,
        {
            "resourceType": "AllergyIntolerance",
            "patient": ref,
            "code": concept("7980", "Penicillin"),
            "clinicalStatus": active("allergyintolerance"),
        },
    )
    create(client, observation(pid, at="2024-03-01T10:00:00Z", value=70))
    create(client, observation(pid, at="2024-03-01T10:05:00Z", value=118))
    device = {
        "resourceType": "Device",
        "identifier": [{"system": "urn:dalgu:ngsi-ld", "value": "urn:ngsi-ld:Wearable:driver"}],
        "patient": ref,
    }
    create(client, device)
    fhir = client.app.state.dalgu.fhir  # type: ignore[attr-defined]
    summary = client.portal.call(  # type: ignore[union-attr]
        lambda: wearable_summary(
            fhir, "urn:ngsi-ld:Wearable:driver", requester="Device/vehicle-safety"
        )
    )
    assert isinstance(summary, MedicalSummary)
    assert summary.patient_id == pid and summary.name == "Minji Kim"
    assert [c.text for c in summary.conditions] == ["Type 2 diabetes"]
    assert [a.text for a in summary.allergies] == ["Penicillin"]
    (heart,) = summary.vitals
    assert (heart.code, heart.value, heart.at) == ("8867-4", 118, "2024-03-01T10:05:00Z")
    reviews = entries(client.get("/fhir/AuditEvent?purpose=BTG&_count=50", headers=ADMIN).json())
    assert reviews and all(
        e["agent"][0]["who"] == {"reference": "Device/vehicle-safety"} for e in reviews
    )
    assert all(e["purposeOfEvent"][0]["text"] == "vehicle safety alert" for e in reviews)


def test_summary_of_an_unlinked_wearable_is_none(client: TestClient) -> None:
    fhir = client.app.state.dalgu.fhir  # type: ignore[attr-defined]
    found = client.portal.call(  # type: ignore[union-attr]
        lambda: wearable_summary(
            fhir, "urn:ngsi-ld:Wearable:nobody", requester="Device/vehicle-safety"
        )
    )
    assert found is None


def register_safety_service(client: TestClient) -> None:
    """The Device a Consent names the safety service by (references must resolve)."""
    device = {
        "resourceType": "Device",
        "id": "vehicle-safety",
        "deviceName": [{"name": "Dalgu vehicle safety service", "type": "user-friendly-name"}],
    }
    answer = client.put("/fhir/Device/vehicle-safety", json=device, headers=ADMIN)
    assert answer.status_code in (200, 201), answer.text


def _safety_summary(client: TestClient, pid: str) -> dict[str, object] | None:
    source = SafetyMedicalSummaries(client.app.state.dalgu.fhir)  # type: ignore[attr-defined]
    found: dict[str, object] | None = client.portal.call(  # type: ignore[union-attr]
        lambda: source.summary(f"Patient/{pid}")
    )
    return found


def _with_condition(client: TestClient) -> str:
    pid = create(client, patient())
    create(
        client,
        {
            "resourceType": "Condition",
            "subject": {"reference": f"Patient/{pid}"},
            "code": concept("49436004", "Atrial fibrillation"),
            "clinicalStatus": active("condition"),
        },
    )
    return pid


def test_the_safety_service_reads_the_summary_only_with_the_patients_consent(
    client: TestClient,
) -> None:
    """What the vehicle safety service attaches to a consented emergency alert."""
    pid = _with_condition(client)
    assert _safety_summary(client, pid) is None  # no Consent: no summary, and no break-glass
    assert entries(client.get("/fhir/AuditEvent?purpose=BTG", headers=ADMIN).json()) == []
    register_safety_service(client)
    create(client, consent(pid, practitioner_actor("Device/vehicle-safety")))
    found = _safety_summary(client, pid)
    assert found is not None
    assert found == {
        "conditions": [{"system": SNOMED, "code": "49436004", "text": "Atrial fibrillation"}],
        "allergies": [],
        "vitals": [],
    }
    orjson.dumps(found)  # it goes into the Alert entity as JSON
    assert entries(client.get("/fhir/AuditEvent?purpose=BTG", headers=ADMIN).json()) == []
    assert _safety_summary(client, "nobody") is None


def test_a_consent_for_another_party_does_not_let_the_safety_service_read(
    client: TestClient,
) -> None:
    pid = _with_condition(client)
    doctor = create(client, {"resourceType": "Practitioner", "name": [{"family": "Park"}]})
    create(client, consent(pid, practitioner_actor(f"Practitioner/{doctor}")))
    assert _safety_summary(client, pid) is None


def test_a_consent_for_every_emergency_service_lets_the_safety_service_read(
    client: TestClient,
) -> None:
    pid = _with_condition(client)
    create(client, consent(pid, role_actor("emergency")))
    found = _safety_summary(client, pid)
    assert found is not None and len(found["conditions"]) == 1  # type: ignore[arg-type]


def test_summary_of_a_wearable_is_that_of_its_tenants_link(client: TestClient) -> None:
    pid = create(client, patient())
    device = {
        "resourceType": "Device",
        "identifier": [{"system": link_system("health"), "value": "urn:ngsi-ld:Wearable:t1"}],
        "patient": {"reference": f"Patient/{pid}"},
    }
    create(client, device)
    fhir = client.app.state.dalgu.fhir  # type: ignore[attr-defined]

    def summary(tenant: str) -> MedicalSummary | None:
        found: MedicalSummary | None = client.portal.call(  # type: ignore[union-attr]
            lambda: wearable_summary(
                fhir, "urn:ngsi-ld:Wearable:t1", requester="Device/vehicle-safety", tenant=tenant
            )
        )
        return found

    found = summary("health")
    assert found is not None and found.patient_id == pid
    assert summary("") is None and summary("other") is None

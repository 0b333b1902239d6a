"""MedicationStatement, a clinical resource of the patient's compartment like the others, on
both stores: written, read and searched (patient, subject, status, code, effective,
medication) under consent."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.fhir.conftest import ADMIN, as_, consent, create, entries, patient, practitioner_actor

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
DOCTOR = as_("clinician", "Practitioner/dr-park")


def statement(patient_id: str, code: str = "1049502", **fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "status": "active",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": "2026-11-01",
        **fields,
    }


def _ids(client: TestClient, query: str, headers: dict[str, str] = ADMIN) -> list[str]:
    response = client.get(f"/fhir/MedicationStatement?{query}", headers=headers)
    assert response.status_code == 200, response.text
    return sorted(r["id"] for r in entries(response.json()))


@pytest.fixture
def kim(client: TestClient) -> str:
    return create(client, patient())


def test_a_medication_statement_is_created_and_read(client: TestClient, kim: str) -> None:
    made = create(client, statement(kim))
    found = client.get(f"/fhir/MedicationStatement/{made}", headers=ADMIN)
    assert found.status_code == 200, found.text
    assert found.json()["medicationCodeableConcept"]["coding"][0]["code"] == "1049502"


def test_medication_statements_are_searched_by_their_parameters(
    client: TestClient, kim: str
) -> None:
    lee = create(client, patient("Lee"))
    first = create(client, statement(kim))
    stopped = create(client, statement(kim, "197361", status="stopped"))
    other = create(client, statement(lee, effectiveDateTime="2025-01-01"))
    assert _ids(client, f"patient={kim}") == sorted([first, stopped])
    assert _ids(client, f"subject=Patient/{lee}") == [other]
    assert _ids(client, "status=stopped") == [stopped]
    assert _ids(client, f"code={RXNORM}|1049502") == sorted([first, other])
    assert _ids(client, "effective=lt2026-01-01") == [other]


def test_medication_statements_are_searched_by_medication(client: TestClient, kim: str) -> None:
    body = statement(kim)
    del body["medicationCodeableConcept"]
    body["medicationReference"] = {"reference": "Medication/aspirin"}
    made = create(client, body)
    create(client, statement(kim))
    assert _ids(client, "medication=Medication/aspirin") == [made]


def test_a_medication_statement_needs_the_patients_consent(client: TestClient, kim: str) -> None:
    made = create(client, statement(kim))
    body = {"resourceType": "Practitioner", "id": "dr-park"}
    assert client.put("/fhir/Practitioner/dr-park", json=body, headers=ADMIN).status_code == 201
    assert client.get(f"/fhir/MedicationStatement/{made}", headers=DOCTOR).status_code == 403
    create(client, consent(kim, practitioner_actor("Practitioner/dr-park")))
    assert client.get(f"/fhir/MedicationStatement/{made}", headers=DOCTOR).status_code == 200
    assert _ids(client, f"patient={kim}", DOCTOR) == [made]


def test_a_medication_statement_with_an_unknown_status_is_a_422(
    client: TestClient, kim: str
) -> None:
    response = client.post(
        "/fhir/MedicationStatement", json=statement(kim, status="taken"), headers=ADMIN
    )
    assert response.status_code == 422, response.text

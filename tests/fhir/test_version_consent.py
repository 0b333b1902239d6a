"""A resource's older versions are its patients' records as they were: a vread or a history
needs the Consent of the patient each version belonged to, and is audited under that patient
(report fhir #13: an Observation moved from Bob to Alice showed Bob's version to Alice's
clinician)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.fhir.conftest import ADMIN, as_, consent, entries, observation, patient
from tests.fhir.conftest import practitioner_actor as actor

DOCTOR = as_("clinician", "Practitioner/dr-alice")
ALICE = as_("patient", "Patient/alice")


@pytest.fixture
def moved(client: TestClient) -> str:
    """Observation `lab-1`: version 1 Bob's, deleted (2), then version 3 Alice's; Dr Alice
    consented to by Alice only."""
    for pid, family in (("alice", "Alice"), ("bob", "Bob")):
        body = patient(family, id=pid)
        assert client.put(f"/fhir/Patient/{pid}", json=body, headers=ADMIN).status_code == 201
    doctor = {"resourceType": "Practitioner", "id": "dr-alice"}
    assert client.put("/fhir/Practitioner/dr-alice", json=doctor, headers=ADMIN).status_code == 201
    grant = consent("alice", actor("Practitioner/dr-alice"))
    assert client.post("/fhir/Consent", json=grant, headers=ALICE).status_code == 201
    for subject in ("bob", "alice"):
        body = observation(subject) | {"id": "lab-1"}
        assert client.put("/fhir/Observation/lab-1", json=body, headers=ADMIN).status_code == 201
        if subject == "bob":
            assert client.delete("/fhir/Observation/lab-1", headers=ADMIN).status_code == 204
    return "Observation/lab-1"


def audits_of(client: TestClient, patient_id: str) -> list[dict[str, Any]]:
    found = client.get(f"/fhir/AuditEvent?patient={patient_id}&_count=200", headers=ADMIN)
    return entries(found.json())


def test_vread_of_another_patients_version_needs_their_consent(
    client: TestClient, moved: str
) -> None:
    assert client.get(f"/fhir/{moved}", headers=DOCTOR).status_code == 200
    assert client.get(f"/fhir/{moved}/_history/3", headers=DOCTOR).status_code == 200
    refused = client.get(f"/fhir/{moved}/_history/1", headers=DOCTOR)
    assert refused.status_code == 403, refused.text
    assert "Patient/bob" in refused.json()["issue"][0]["diagnostics"]
    assert client.get(f"/fhir/{moved}/_history/1", headers=ALICE).status_code == 403
    # the deletion belongs to the version it deleted: Bob's
    assert client.get(f"/fhir/{moved}/_history/2", headers=DOCTOR).status_code == 403
    bob = as_("patient", "Patient/bob")
    assert client.get(f"/fhir/{moved}/_history/1", headers=bob).status_code == 200
    assert client.get(f"/fhir/{moved}/_history/3", headers=bob).status_code == 403


def test_history_holding_another_patients_version_is_refused(
    client: TestClient, moved: str
) -> None:
    refused = client.get(f"/fhir/{moved}/_history", headers=DOCTOR)
    assert refused.status_code == 403, refused.text
    assert "Patient/bob" in refused.json()["issue"][0]["diagnostics"]
    # a page of Alice's versions only is hers
    page = client.get(f"/fhir/{moved}/_history?_count=1", headers=DOCTOR)
    assert page.status_code == 200, page.text
    assert [e["resource"]["subject"] for e in page.json()["entry"]] == [
        {"reference": "Patient/alice"}
    ]


def test_version_accesses_are_audited_under_the_versions_patient(
    client: TestClient, moved: str
) -> None:
    client.get(f"/fhir/{moved}/_history/1", headers=DOCTOR)
    client.get(f"/fhir/{moved}/_history", headers=DOCTOR)
    client.get(f"/fhir/{moved}/_history/1", headers=as_("patient", "Patient/bob"))
    client.get(f"/fhir/{moved}/_history", headers=ADMIN)
    bobs = {
        (e["agent"][0]["who"].get("reference"), e["subtype"][0]["code"], e["outcome"])
        for e in audits_of(client, "bob")
    }
    assert ("Practitioner/dr-alice", "vread", "4") in bobs
    assert ("Practitioner/dr-alice", "history-instance", "4") in bobs
    assert ("Patient/bob", "vread", "0") in bobs
    assert (None, "history-instance", "0") in bobs  # the admin's: the page held Bob's versions
    alices = {(e["subtype"][0]["code"], e["outcome"]) for e in audits_of(client, "alice")}
    assert ("vread", "0") not in alices and ("vread", "4") not in alices

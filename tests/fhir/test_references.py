"""Referential integrity on write (HAPI FHIR's default): a reference to a resource of this
server names one that exists, a `#id` reference a contained resource; on both stores."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.fhir.conftest import ADMIN, create, observation, patient


def diagnostics(response: Any) -> str:
    return " ".join(i["diagnostics"] for i in response.json()["issue"])


def test_a_reference_to_a_resource_that_does_not_exist_is_422_naming_the_element(
    client: TestClient,
) -> None:
    response = client.post("/fhir/Observation", json=observation("does-not-exist"), headers=ADMIN)
    assert response.status_code == 422
    assert "Observation.subject: Patient/does-not-exist" in diagnostics(response)
    assert client.get("/fhir/Observation", headers=ADMIN).json()["total"] == 0


def test_a_reference_to_a_deleted_or_absent_version_is_422(client: TestClient) -> None:
    kim = create(client, patient())
    versioned = observation(kim) | {"subject": {"reference": f"Patient/{kim}/_history/1"}}
    assert client.post("/fhir/Observation", json=versioned, headers=ADMIN).status_code == 201
    later = observation(kim) | {"subject": {"reference": f"Patient/{kim}/_history/9"}}
    assert client.post("/fhir/Observation", json=later, headers=ADMIN).status_code == 422
    assert client.delete(f"/fhir/Patient/{kim}", headers=ADMIN).status_code == 204
    response = client.post("/fhir/Observation", json=observation(kim), headers=ADMIN)
    assert response.status_code == 422


def test_an_absolute_url_of_this_server_is_checked_and_one_of_another_is_not(
    client: TestClient,
) -> None:
    here = observation("x") | {"subject": {"reference": "http://testserver/fhir/Patient/x"}}
    assert client.post("/fhir/Observation", json=here, headers=ADMIN).status_code == 422
    there = observation("x") | {"subject": {"reference": "https://other.example/fhir/Patient/x"}}
    assert client.post("/fhir/Observation", json=there, headers=ADMIN).status_code == 201


def test_identifier_references_and_types_this_server_does_not_keep_are_taken(
    client: TestClient,
) -> None:
    logical = observation("x") | {
        "subject": {"identifier": {"system": "urn:daegu:mrn", "value": "L-9"}},
        "basedOn": [{"reference": "ServiceRequest/sr-1"}],
    }
    assert client.post("/fhir/Observation", json=logical, headers=ADMIN).status_code == 201


def test_a_local_reference_names_a_contained_resource(client: TestClient) -> None:
    dangling = observation("x") | {"subject": {"reference": "#p1"}}
    response = client.post("/fhir/Observation", json=dangling, headers=ADMIN)
    assert response.status_code == 422
    assert "Observation.subject: #p1" in diagnostics(response)
    contained = dangling | {"contained": [{"resourceType": "Patient", "id": "p1"}]}
    assert client.post("/fhir/Observation", json=contained, headers=ADMIN).status_code == 201


def test_a_patch_that_makes_a_dangling_reference_is_422(client: TestClient) -> None:
    kim = create(client, patient())
    oid = create(client, observation(kim))
    response = client.patch(
        f"/fhir/Observation/{oid}",
        json=[{"op": "replace", "path": "/subject/reference", "value": "Patient/nobody"}],
        headers={**ADMIN, "Content-Type": "application/json-patch+json"},
    )
    assert response.status_code == 422
    assert client.get(f"/fhir/Observation/{oid}", headers=ADMIN).headers["etag"] == 'W/"1"'


def test_a_record_whose_patient_was_deleted_can_still_be_corrected(client: TestClient) -> None:
    """An update is checked for the references it adds, not those its current version
    already makes (fhir report #14: deleting the patient, which is allowed, left the
    Observation impossible to mark entered-in-error)."""
    kim = create(client, patient())
    doctor = {"resourceType": "Practitioner", "id": "gone"}
    assert client.put("/fhir/Practitioner/gone", json=doctor, headers=ADMIN).status_code == 201
    oid = create(client, observation(kim))
    assert client.delete(f"/fhir/Patient/{kim}", headers=ADMIN).status_code == 204
    assert client.delete("/fhir/Practitioner/gone", headers=ADMIN).status_code == 204
    json_patch = {**ADMIN, "Content-Type": "application/json-patch+json"}
    retract = [{"op": "replace", "path": "/status", "value": "entered-in-error"}]
    response = client.patch(f"/fhir/Observation/{oid}", json=retract, headers=json_patch)
    assert response.status_code == 200, response.text
    body = observation(kim) | {"id": oid, "status": "cancelled"}
    response = client.put(f"/fhir/Observation/{oid}", json=body, headers=ADMIN)
    assert response.status_code == 200, response.text
    # a reference the update adds is checked as ever
    added = body | {"performer": [{"reference": "Practitioner/gone"}]}
    response = client.put(f"/fhir/Observation/{oid}", json=added, headers=ADMIN)
    assert response.status_code == 422
    assert "Observation.performer[0]: Practitioner/gone" in diagnostics(response)


def test_a_transaction_refers_to_what_it_writes_but_not_to_what_it_deletes(
    client: TestClient,
) -> None:
    writes = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": observation("pt-t"), "request": {"method": "POST", "url": "Observation"}},
            {
                "resource": {**patient(), "id": "pt-t"},
                "request": {"method": "PUT", "url": "Patient/pt-t"},
            },
        ],
    }
    assert client.post("/fhir", json=writes, headers=ADMIN).status_code == 200
    deletes = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"request": {"method": "DELETE", "url": "Patient/pt-t"}},
            {"resource": observation("pt-t"), "request": {"method": "POST", "url": "Observation"}},
        ],
    }
    response = client.post("/fhir", json=deletes, headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["issue"][0]["diagnostics"].startswith("entry 1: Observation.subject")
    assert client.get("/fhir/Patient/pt-t", headers=ADMIN).status_code == 200


def test_a_batch_entry_with_a_dangling_reference_fails_alone(client: TestClient) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {
                "resource": observation("nobody"),
                "request": {"method": "POST", "url": "Observation"},
            },
            {"resource": patient(), "request": {"method": "POST", "url": "Patient"}},
        ],
    }
    result = client.post("/fhir", json=bundle, headers=ADMIN).json()
    statuses = [e["response"]["status"] for e in result["entry"]]
    assert statuses[0].startswith("422") and statuses[1] == "201 Created"

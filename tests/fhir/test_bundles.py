"""Batch and transaction Bundles, on both stores."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.fhir.conftest import ADMIN, create, observation, patient


def post(client: TestClient, bundle: dict[str, Any]) -> Any:
    return client.post("/fhir", json=bundle, headers=ADMIN)


def test_transaction_resolves_urn_uuid_references(client: TestClient) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:11111111-1111-1111-1111-111111111111",
                "resource": patient(),
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": observation("x")
                | {"subject": {"reference": "urn:uuid:11111111-1111-1111-1111-111111111111"}},
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    }
    response = post(client, bundle)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["type"] == "transaction-response"
    assert [e["response"]["status"] for e in result["entry"]] == ["201 Created", "201 Created"]
    patient_id = result["entry"][0]["resource"]["id"]
    assert result["entry"][1]["resource"]["subject"]["reference"] == f"Patient/{patient_id}"
    found = client.get(f"/fhir/Observation?patient={patient_id}", headers=ADMIN).json()
    assert found["total"] == 1


def test_a_bundle_posted_to_the_base_url_with_its_slash_is_processed(client: TestClient) -> None:
    """FHIR clients keep the base URL with a trailing slash (fhirclient posts a transaction
    to `urljoin(base, "")`, i.e. `/fhir/`)."""
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"resource": patient(), "request": {"method": "POST", "url": "Patient"}}],
    }
    response = client.post("/fhir/", json=bundle, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "batch-response"
    assert client.get("/fhir/Patient", headers=ADMIN).json()["total"] == 1


def test_transaction_is_all_or_nothing(client: TestClient) -> None:
    kim = create(client, patient())
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": observation(kim), "request": {"method": "POST", "url": "Observation"}},
            {
                "resource": {**patient("Lee"), "id": kim},
                "request": {"method": "PUT", "url": f"Patient/{kim}", "ifMatch": 'W/"7"'},
            },
        ],
    }
    response = post(client, bundle)
    assert response.status_code == 412
    assert "entry 1" in response.json()["issue"][0]["diagnostics"]
    assert client.get(f"/fhir/Observation?patient={kim}", headers=ADMIN).json()["total"] == 0
    assert client.get(f"/fhir/Patient/{kim}", headers=ADMIN).json()["name"][0]["family"] == "Kim"


def test_transaction_with_an_invalid_entry_stores_nothing(client: TestClient) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": patient("Good"), "request": {"method": "POST", "url": "Patient"}},
            {
                "resource": {**patient("Bad"), "birthDate": "x"},
                "request": {"method": "POST", "url": "Patient"},
            },
        ],
    }
    assert post(client, bundle).status_code == 422
    assert client.get("/fhir/Patient?name=good", headers=ADMIN).json()["total"] == 0


def test_batch_answers_each_entry_on_its_own(client: TestClient) -> None:
    kim = create(client, patient())
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"resource": observation(kim), "request": {"method": "POST", "url": "Observation"}},
            {"request": {"method": "GET", "url": "Patient/does-not-exist"}},
            {"request": {"method": "GET", "url": f"Observation?patient={kim}"}},
            {"request": {"method": "DELETE", "url": f"Patient/{kim}"}},
        ],
    }
    response = post(client, bundle)
    assert response.status_code == 200
    result = response.json()
    assert result["type"] == "batch-response"
    statuses = [e["response"]["status"] for e in result["entry"]]
    assert (
        statuses[0] == "201 Created"
        and statuses[1].startswith("404")
        and statuses[3].startswith("204")
    )
    assert result["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert result["entry"][2]["resource"]["total"] == 1


def test_bundle_of_the_wrong_type_is_400(client: TestClient) -> None:
    assert post(client, {"resourceType": "Bundle", "type": "collection"}).status_code == 400
    assert post(client, {"resourceType": "Patient"}).status_code == 400
    bad_entry = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"request": {"method": "PATCH", "url": "Patient/1"}}],
    }
    assert post(client, bad_entry).status_code == 400

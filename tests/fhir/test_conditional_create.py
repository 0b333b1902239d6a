"""Conditional create (FHIR R4 3.1.0.8.1): `If-None-Exist` on POST and `request.ifNoneExist`
in Bundles, on both stores."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.fhir.conftest import ADMIN, observation, patient

MRN = "urn:daegu:mrn"


def with_mrn(mrn: str, family: str = "Kim") -> dict[str, Any]:
    return patient(family, identifier=[{"system": MRN, "value": mrn}])


def conditional_post(client: TestClient, resource: dict[str, Any], condition: str) -> Any:
    headers = {**ADMIN, "If-None-Exist": condition}
    return client.post(f"/fhir/{resource['resourceType']}", json=resource, headers=headers)


def count(client: TestClient, query: str) -> int:
    found = client.get(f"/fhir/{query}&_summary=count", headers=ADMIN).json()
    total: int = found["total"]
    return total


def test_no_match_creates_with_201(client: TestClient) -> None:
    response = conditional_post(client, with_mrn("M-1"), f"identifier={MRN}|M-1")
    assert response.status_code == 201
    assert response.headers["location"].startswith("http")
    assert count(client, f"Patient?identifier={MRN}|M-1") == 1


def test_one_match_returns_it_with_200_and_creates_nothing(client: TestClient) -> None:
    first = conditional_post(client, with_mrn("M-1"), f"identifier={MRN}|M-1").json()
    again = conditional_post(client, with_mrn("M-1", "Lee"), f"identifier={MRN}|M-1")
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert again.json()["name"][0]["family"] == "Kim"  # the stored one, not the body sent
    assert again.headers["etag"] == 'W/"1"'
    assert count(client, f"Patient?identifier={MRN}|M-1") == 1


def test_several_matches_are_412_and_create_nothing(client: TestClient) -> None:
    for _ in range(2):
        client.post("/fhir/Patient", json=with_mrn("M-1"), headers=ADMIN)
    response = conditional_post(client, with_mrn("M-1"), f"identifier={MRN}|M-1")
    assert response.status_code == 412
    assert response.json()["resourceType"] == "OperationOutcome"
    assert count(client, f"Patient?identifier={MRN}|M-1") == 2


def test_unknown_condition_parameter_is_400(client: TestClient) -> None:
    response = conditional_post(client, with_mrn("M-1"), "nonsense=1")
    assert response.status_code == 400
    assert count(client, "Patient?gender=female") == 0


def transaction(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def patient_entry(mrn: str, full_url: str) -> dict[str, Any]:
    return {
        "fullUrl": full_url,
        "resource": with_mrn(mrn),
        "request": {"method": "POST", "url": "Patient", "ifNoneExist": f"identifier={MRN}|{mrn}"},
    }


def observation_of(full_url: str) -> dict[str, Any]:
    return {
        "resource": observation("x") | {"subject": {"reference": full_url}},
        "request": {"method": "POST", "url": "Observation"},
    }


def test_transaction_entry_that_matches_points_references_at_the_match(
    client: TestClient,
) -> None:
    existing = conditional_post(client, with_mrn("M-1"), f"identifier={MRN}|M-1").json()["id"]
    url = "urn:uuid:22222222-2222-2222-2222-222222222222"
    response = client.post(
        "/fhir", json=transaction(patient_entry("M-1", url), observation_of(url)), headers=ADMIN
    )
    assert response.status_code == 200, response.text
    matched, created = response.json()["entry"]
    assert matched["response"]["status"] == "200 OK"
    assert matched["resource"]["id"] == existing
    assert created["response"]["status"] == "201 Created"
    assert created["resource"]["subject"]["reference"] == f"Patient/{existing}"
    assert count(client, f"Patient?identifier={MRN}|M-1") == 1
    assert count(client, f"Observation?patient={existing}") == 1


def test_transaction_entry_without_match_is_created(client: TestClient) -> None:
    url = "urn:uuid:33333333-3333-3333-3333-333333333333"
    response = client.post(
        "/fhir", json=transaction(patient_entry("M-2", url), observation_of(url)), headers=ADMIN
    )
    assert response.status_code == 200, response.text
    made, observed = response.json()["entry"]
    assert made["response"]["status"] == "201 Created"
    assert observed["resource"]["subject"]["reference"] == f"Patient/{made['resource']['id']}"


def test_transaction_with_an_ambiguous_condition_is_412_and_stores_nothing(
    client: TestClient,
) -> None:
    for _ in range(2):
        client.post("/fhir/Patient", json=with_mrn("M-3"), headers=ADMIN)
    url = "urn:uuid:44444444-4444-4444-4444-444444444444"
    response = client.post(
        "/fhir", json=transaction(patient_entry("M-3", url), observation_of(url)), headers=ADMIN
    )
    assert response.status_code == 412
    assert "entry 0" in response.json()["issue"][0]["diagnostics"]
    assert count(client, "Observation?code=8867-4") == 0


def test_batch_entry_with_a_match_answers_200(client: TestClient) -> None:
    conditional_post(client, with_mrn("M-4"), f"identifier={MRN}|M-4")
    batch = {**transaction(patient_entry("M-4", "urn:uuid:x")), "type": "batch"}
    response = client.post("/fhir", json=batch, headers=ADMIN)
    assert response.json()["entry"][0]["response"]["status"] == "200 OK"
    assert count(client, f"Patient?identifier={MRN}|M-4") == 1


def test_capability_statement_says_conditional_create(client: TestClient) -> None:
    statement = client.get("/fhir/metadata", headers=ADMIN).json()
    kinds = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert kinds["Observation"]["conditionalCreate"] is True
    assert kinds["AuditEvent"]["conditionalCreate"] is False

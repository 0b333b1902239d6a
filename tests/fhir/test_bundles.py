"""Batch and transaction Bundles, on both stores."""

from __future__ import annotations

from typing import Any

import pytest
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


def _transaction(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def test_a_transaction_whose_read_fails_stores_nothing(client: TestClient) -> None:
    """R4 3.1.0.11.2: a transaction that fails is rolled back, its reads included: a client
    that retries after the error must not find the first attempt's writes."""
    put = {
        "resource": {**patient("Atom"), "id": "pt-atom"},
        "request": {"method": "PUT", "url": "Patient/pt-atom"},
    }
    created = {
        "resource": patient("Atom") | {"identifier": [{"system": "urn:mrn", "value": "A-1"}]},
        "request": {"method": "POST", "url": "Patient"},
    }
    for read, status in (
        ({"request": {"method": "GET", "url": "Patient?bogus=1"}}, 400),
        ({"request": {"method": "GET", "url": "Patient/does-not-exist"}}, 404),
    ):
        response = post(client, _transaction(put, created, read))
        assert response.status_code == status, response.text
        assert "entry 2" in response.json()["issue"][0]["diagnostics"]
    assert client.get("/fhir/Patient/pt-atom", headers=ADMIN).status_code == 404
    found = client.get("/fhir/Patient?identifier=urn:mrn|A-1", headers=ADMIN).json()
    assert found["total"] == 0


def test_a_transaction_reads_what_it_writes(client: TestClient) -> None:
    response = post(
        client,
        _transaction(
            {
                "resource": {**patient("Read"), "id": "pt-read"},
                "request": {"method": "PUT", "url": "Patient/pt-read"},
            },
            {"request": {"method": "GET", "url": "Patient/pt-read"}},
            {"request": {"method": "GET", "url": "Patient?family=read"}},
        ),
    )
    assert response.status_code == 200, response.text
    read, search = response.json()["entry"][1:]
    assert read["resource"]["name"][0]["family"] == "Read"
    assert search["resource"]["total"] == 1


def test_a_transaction_reading_what_it_deletes_fails(client: TestClient) -> None:
    kim = create(client, patient())
    response = post(
        client,
        _transaction(
            {"request": {"method": "DELETE", "url": f"Patient/{kim}"}},
            {"request": {"method": "GET", "url": f"Patient/{kim}"}},
        ),
    )
    assert response.status_code == 410
    assert client.get(f"/fhir/Patient/{kim}", headers=ADMIN).status_code == 200


def test_a_conditional_reference_is_resolved_to_the_one_match(client: TestClient) -> None:
    """R4 3.1.0.11.3: `Patient?identifier=...` in a transaction's resource becomes the
    reference of the one Patient the search finds."""
    lee = create(client, patient("Lee") | {"identifier": [{"system": "urn:mrn", "value": "L-9"}]})
    obs = observation("x") | {"subject": {"reference": "Patient?identifier=urn:mrn|L-9"}}
    response = post(
        client, _transaction({"resource": obs, "request": {"method": "POST", "url": "Observation"}})
    )
    assert response.status_code == 200, response.text
    assert response.json()["entry"][0]["resource"]["subject"]["reference"] == f"Patient/{lee}"
    assert client.get(f"/fhir/Observation?patient={lee}", headers=ADMIN).json()["total"] == 1


def test_a_conditional_reference_matching_none_or_several_fails(client: TestClient) -> None:
    for family in ("Twin", "Twin"):
        create(client, patient(family) | {"identifier": [{"system": "urn:mrn", "value": "T-2"}]})
    for condition, status in (("urn:mrn|nobody", 404), ("urn:mrn|T-2", 412)):
        obs = observation("x") | {"subject": {"reference": f"Patient?identifier={condition}"}}
        response = post(
            client,
            _transaction(
                {"resource": patient("Extra"), "request": {"method": "POST", "url": "Patient"}},
                {"resource": obs, "request": {"method": "POST", "url": "Observation"}},
            ),
        )
        assert response.status_code == status, response.text
        assert "entry 1" in response.json()["issue"][0]["diagnostics"]
    assert client.get("/fhir/Patient?family=extra", headers=ADMIN).json()["total"] == 0
    assert client.get("/fhir/Observation", headers=ADMIN).json()["total"] == 0


def test_an_invalid_entry_names_itself_in_every_issue(client: TestClient) -> None:
    bad = {k: v for k, v in observation("x").items() if k != "code"}
    response = post(
        client,
        _transaction(
            {"resource": patient(), "request": {"method": "POST", "url": "Patient"}},
            {"resource": bad, "request": {"method": "POST", "url": "Observation"}},
        ),
    )
    assert response.status_code == 422
    issues = response.json()["issue"]
    assert issues and all(i["diagnostics"].startswith("entry 1: ") for i in issues)


def test_a_transaction_put_with_if_none_match_star_on_an_existing_resource_fails(
    client: TestClient,
) -> None:
    client.put("/fhir/Patient/pt-star", json={**patient(), "id": "pt-star"}, headers=ADMIN)
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": patient("Park"), "request": {"method": "POST", "url": "Patient"}},
            {
                "resource": {**patient("Lee"), "id": "pt-star"},
                "request": {"method": "PUT", "url": "Patient/pt-star", "ifNoneMatch": "*"},
            },
        ],
    }
    response = post(client, bundle)
    assert response.status_code == 412
    assert response.json()["issue"][0]["diagnostics"].startswith("entry 1: ")
    assert client.get("/fhir/Patient?family=Park", headers=ADMIN).json()["total"] == 0
    assert client.get("/fhir/Patient/pt-star", headers=ADMIN).json()["name"][0]["family"] == "Kim"


def test_a_batch_reads_the_capability_statement_and_answers_head_without_a_body(
    client: TestClient,
) -> None:
    kim = create(client, patient())
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": "metadata"}},
            {"request": {"method": "HEAD", "url": f"Patient/{kim}"}},
            {"request": {"method": "HEAD", "url": "Patient/nobody"}},
        ],
    }
    response = post(client, bundle)
    assert response.status_code == 200, response.text
    first, head, missing = response.json()["entry"]
    assert first["response"]["status"] == "200 OK"
    assert first["resource"]["resourceType"] == "CapabilityStatement"
    assert head["response"] == {
        "status": "200 OK",
        "etag": 'W/"1"',
        "lastModified": head["response"]["lastModified"],
    }
    assert "resource" not in head
    assert missing["response"]["status"].startswith("404")


def test_a_transaction_takes_head_entries(client: TestClient) -> None:
    kim = create(client, patient())
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": patient("Park"), "request": {"method": "POST", "url": "Patient"}},
            {"request": {"method": "HEAD", "url": f"Patient/{kim}"}},
        ],
    }
    response = post(client, bundle)
    assert response.status_code == 200, response.text
    assert "resource" not in response.json()["entry"][1]


def test_if_none_match_on_a_read_entry_is_a_conditional_read(client: TestClient) -> None:
    """R4 Bundle.entry.request.ifNoneMatch: "If the ETag values match, return a 304 Not
    Modified status" (fhir report #10: it failed the whole transaction with 400)."""
    kim = create(client, patient())

    def read(etag: str) -> dict[str, Any]:
        return {"request": {"method": "GET", "url": f"Patient/{kim}", "ifNoneMatch": etag}}

    new = {"resource": patient("Keep"), "request": {"method": "POST", "url": "Patient"}}
    bundle = {"resourceType": "Bundle", "type": "transaction"}
    response = post(client, bundle | {"entry": [new, read('W/"1"'), read('W/"7"'), read("x")]})
    assert response.status_code == 200, response.text
    created, same, changed, foreign = response.json()["entry"]
    assert created["response"]["status"] == "201 Created"
    assert same == {
        "response": {
            "status": "304 Not Modified",
            "etag": 'W/"1"',
            "lastModified": same["response"]["lastModified"],
        }
    }
    assert changed["response"]["status"] == "200 OK" and changed["resource"]["id"] == kim
    assert foreign["response"]["status"] == "200 OK"  # another server's tag matches nothing
    assert client.get("/fhir/Patient?family=Keep", headers=ADMIN).json()["total"] == 1


def test_if_none_match_on_a_read_answers_304_when_it_names_the_version(
    client: TestClient,
) -> None:
    kim = create(client, patient())
    same = client.get(f"/fhir/Patient/{kim}", headers={**ADMIN, "If-None-Match": 'W/"1"'})
    assert same.status_code == 304 and same.headers["etag"] == 'W/"1"' and not same.content
    vread = client.get(f"/fhir/Patient/{kim}/_history/1", headers={**ADMIN, "If-None-Match": "*"})
    assert vread.status_code == 304
    for other in ('W/"2"', '"abc"'):
        response = client.get(f"/fhir/Patient/{kim}", headers={**ADMIN, "If-None-Match": other})
        assert response.status_code == 200 and response.json()["id"] == kim
    statement = client.get("/fhir/metadata").json()
    assert statement["rest"][0]["resource"][0]["conditionalRead"] == "not-match"


@pytest.mark.parametrize("kind", ["batch", "transaction"])
def test_an_empty_bundle_answers_a_response_without_an_entry_array(
    client: TestClient, kind: str
) -> None:
    """FHIR JSON has no empty arrays (json.html; fhir report #5)."""
    for bundle in ({"resourceType": "Bundle", "type": kind}, {"entry": []}):
        response = post(client, {"resourceType": "Bundle", "type": kind} | bundle)
        assert response.status_code == 200, response.text
        assert response.json() == {"resourceType": "Bundle", "type": f"{kind}-response"}

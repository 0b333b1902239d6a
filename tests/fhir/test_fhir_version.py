"""The `fhirVersion` media-type parameter (http.html): R4 (`4.0`) content only, on both
stores: another version asked for is a 406, sent a 415."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.fhir.conftest import ADMIN, create, patient


@pytest.mark.parametrize(
    "accept", ["application/fhir+json; fhirVersion=3.0", "application/fhir+json;fhirVersion=5.0"]
)
def test_another_fhir_version_in_accept_is_a_406(client: TestClient, accept: str) -> None:
    kim = create(client, patient())
    response = client.get(f"/fhir/Patient/{kim}", headers={**ADMIN, "Accept": accept})
    assert response.status_code == 406, response.text
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("version", ["4.0", "4.0.1"])
def test_r4_in_accept_and_content_type_is_served(client: TestClient, version: str) -> None:
    media = f"application/fhir+json; fhirVersion={version}"
    headers = {**ADMIN, "Accept": media, "Content-Type": media}
    response = client.post("/fhir/Patient", json=patient(), headers=headers)
    assert response.status_code == 201, response.text


def test_another_fhir_version_in_content_type_is_a_415_and_stores_nothing(
    client: TestClient,
) -> None:
    headers = {**ADMIN, "Content-Type": "application/fhir+json; fhirVersion=3.0"}
    response = client.post("/fhir/Patient", json=patient(), headers=headers)
    assert response.status_code == 415, response.text
    assert client.get("/fhir/Patient", headers=ADMIN).json()["total"] == 0


@pytest.mark.parametrize(
    ("accept", "status"),
    [
        ("application/fhir+json;q=0", 406),
        ("application/fhir+json;q=0, application/fhir+xml", 406),
        ("application/fhir+json; q=0, */*", 406),  # the media type refused, not the wildcard
        ("application/fhir+json;q=0.5, application/fhir+xml", 200),
        ("application/fhir+xml;q=0, application/fhir+json", 200),
        ("text/html;q=0, */*;q=0.1", 200),
    ],
)
def test_a_media_type_accepted_with_q_0_is_not_acceptable(
    client: TestClient, accept: str, status: int
) -> None:
    """RFC 9110 12.4.2: "a value of 0 means 'not acceptable'" (fhir report #8)."""
    kim = create(client, patient())
    response = client.get(f"/fhir/Patient/{kim}", headers={**ADMIN, "Accept": accept})
    assert response.status_code == status, response.text

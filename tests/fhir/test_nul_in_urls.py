"""A NUL (`%00`) in what a URL or header carries is refused as any bad value is, on both
stores alike (PostgreSQL's text cannot hold it: it was a 500 there)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.fhir.conftest import ADMIN, create, patient


@pytest.mark.parametrize(
    "query",
    [
        "Patient?name=%00",
        "Patient?family:exact=a%00b",
        "Patient?identifier=urn:x|%00",
        "Patient?_id=a%00",
        "Patient?gender=%00",
        "Observation?code=%00",
        "Patient?general-practitioner=Practitioner/%00",
    ],
)
def test_a_nul_in_a_search_value_is_a_400(client: TestClient, query: str) -> None:
    response = client.get(f"/fhir/{query}", headers=ADMIN)
    assert response.status_code == 400, response.text
    assert "NUL" in response.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    "path", ["Patient/a%00b", "Patient/a%00b/_history", "Patient/a%00b/_history/1"]
)
def test_a_nul_in_an_id_is_a_404(client: TestClient, path: str) -> None:
    create(client, patient())
    response = client.get(f"/fhir/{path}", headers=ADMIN)
    assert response.status_code == 404, response.text


def test_a_nul_in_a_deleted_id_is_a_404(client: TestClient) -> None:
    assert client.delete("/fhir/Patient/a%00b", headers=ADMIN).status_code == 404


def test_a_nul_in_if_none_exist_is_a_400_and_creates_nothing(client: TestClient) -> None:
    headers = {**ADMIN, "If-None-Exist": "identifier=a\x00b".replace("\x00", "%00")}
    response = client.post("/fhir/Patient", json=patient(), headers=headers)
    assert response.status_code == 400, response.text
    assert client.get("/fhir/Patient", headers=ADMIN).json()["total"] == 0


def test_the_refused_read_of_an_id_with_a_nul_is_audited(client: TestClient) -> None:
    client.get("/fhir/Patient/a%00b", headers=ADMIN)
    found = client.get("/fhir/AuditEvent?outcome=4&subtype=read", headers=ADMIN).json()
    assert found["total"] == 1

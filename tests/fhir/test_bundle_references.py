"""What a Bundle's fullUrls and `urn:uuid:` references may be, on both stores: unique
fullUrls (bdl-7), and no `urn:uuid:` reference stored that names no entry."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.fhir.conftest import ADMIN, observation, patient

URN = "urn:uuid:11111111-1111-1111-1111-111111111111"
NOWHERE = "urn:uuid:22222222-2222-2222-2222-222222222222"


def _stored(client: TestClient, type_name: str) -> int:
    total: int = client.get(f"/fhir/{type_name}", headers=ADMIN).json()["total"]
    return total


@pytest.mark.parametrize("kind", ["transaction", "batch"])
def test_two_entries_with_one_full_url_are_a_400(client: TestClient, kind: str) -> None:
    entry: dict[str, Any] = {
        "fullUrl": URN,
        "resource": patient(),
        "request": {"method": "POST", "url": "Patient"},
    }
    bundle = {"resourceType": "Bundle", "type": kind, "entry": [entry, dict(entry)]}
    response = client.post("/fhir", json=bundle, headers=ADMIN)
    assert response.status_code == 400, response.text
    assert "bdl-7" in response.json()["issue"][0]["diagnostics"]
    assert _stored(client, "Patient") == 0


def test_a_urn_uuid_reference_to_no_entry_fails_the_transaction(client: TestClient) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": URN,
                "resource": patient(),
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": observation("x") | {"subject": {"reference": NOWHERE}},
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    }
    response = client.post("/fhir", json=bundle, headers=ADMIN)
    assert response.status_code == 400, response.text
    diagnostics = response.json()["issue"][0]["diagnostics"]
    assert diagnostics.startswith(f"entry 1: Observation.subject: {NOWHERE}")
    assert _stored(client, "Patient") == 0


def test_a_create_with_a_urn_uuid_reference_is_a_400(client: TestClient) -> None:
    body = observation("x") | {"subject": {"reference": NOWHERE}}
    response = client.post("/fhir/Observation", json=body, headers=ADMIN)
    assert response.status_code == 400, response.text
    assert f"Observation.subject: {NOWHERE}" in response.json()["issue"][0]["diagnostics"]
    assert _stored(client, "Observation") == 0

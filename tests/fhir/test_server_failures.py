"""A failure inside the server (any error that is not a refusal) in a transaction, a batch
entry or a plain request, on both stores: a transaction stores nothing, a batch reports
that entry alone, and every such request leaves an AuditEvent with outcome 8."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from dalgu.store.postgres.fhir import PostgresFhir
from dalgu.store.sqlite.fhir import SqliteFhir
from tests.fhir.conftest import ADMIN, as_, patient

POST_PATIENT = {
    "fullUrl": "urn:uuid:7d3c1f5e-0000-4000-8000-000000000001",
    "resource": patient("AfterFailure"),
    "request": {"method": "POST", "url": "Patient"},
}
GET_OBSERVATIONS = {"request": {"method": "GET", "url": "Observation?code=8867-4"}}


@pytest.fixture
def observation_search_fails(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every search of Observations fails as an unexpected error of the store would."""
    for store in (SqliteFhir, PostgresFhir):
        original = store.fhir_search

        async def failing(self: Any, query: Any, original: Any = original) -> Any:
            if query.type == "Observation":
                raise RuntimeError("the store failed")
            return await original(self, query)

        monkeypatch.setattr(store, "fhir_search", failing)
    yield


def _patients(client: TestClient) -> int:
    found = client.get("/fhir/Patient?family:exact=AfterFailure", headers=ADMIN).json()
    total: int = found["total"]
    return total


def _audits(client: TestClient, query: str) -> list[dict[str, Any]]:
    found = client.get(f"/fhir/AuditEvent?{query}", headers=ADMIN).json()
    return [e["resource"] for e in found.get("entry", [])]


@pytest.mark.usefixtures("observation_search_fails")
def test_a_transaction_that_fails_in_the_server_stores_nothing(client: TestClient) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [POST_PATIENT, GET_OBSERVATIONS],
    }
    response = client.post("/fhir", json=bundle, headers=ADMIN)
    assert response.status_code == 500, response.text
    assert _patients(client) == 0
    events = _audits(client, "subtype=transaction")
    assert [e["outcome"] for e in events] == ["8"]


@pytest.mark.usefixtures("observation_search_fails")
def test_a_batch_entry_that_fails_in_the_server_fails_alone(client: TestClient) -> None:
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [POST_PATIENT, GET_OBSERVATIONS]}
    response = client.post("/fhir", json=bundle, headers=ADMIN)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["type"] == "batch-response"
    statuses = [e["response"]["status"] for e in result["entry"]]
    assert statuses == ["201 Created", "500 Internal error"]
    outcome = result["entry"][1]["response"]["outcome"]
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["severity"] == "fatal"
    assert _patients(client) == 1


@pytest.mark.usefixtures("observation_search_fails")
def test_a_request_that_fails_in_the_server_is_audited_with_outcome_8(client: TestClient) -> None:
    who = "Practitioner/audit-probe"
    response = client.get("/fhir/Observation?code=8867-4", headers=as_("clinician", who))
    assert response.status_code == 500, response.text
    events = _audits(client, f"agent={who}")
    assert [e["outcome"] for e in events] == ["8"]
    assert events[0]["outcomeDesc"] == "server failure: RuntimeError"

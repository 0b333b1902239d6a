"""`Prefer: return=` for the write entries of a batch or transaction (http.html#transaction),
on both stores; read entries carry their resources whatever it says."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.fhir.conftest import ADMIN, patient


def _post(client: TestClient, kind: str, prefer: str) -> list[dict[str, Any]]:
    bundle = {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {"resource": patient(), "request": {"method": "POST", "url": "Patient"}},
            {"request": {"method": "GET", "url": "Patient"}},
        ],
    }
    response = client.post("/fhir", json=bundle, headers={**ADMIN, "Prefer": prefer})
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entry"]
    return entries


@pytest.mark.parametrize("kind", ["transaction", "batch"])
def test_return_minimal_leaves_the_resources_of_written_entries_out(
    client: TestClient, kind: str
) -> None:
    written, read = _post(client, kind, "return=minimal")
    assert "resource" not in written
    assert written["response"]["status"] == "201 Created"
    assert written["response"]["location"].startswith("http")
    assert read["resource"]["resourceType"] == "Bundle"


@pytest.mark.parametrize("kind", ["transaction", "batch"])
def test_return_operation_outcome_gives_each_written_entry_an_outcome(
    client: TestClient, kind: str
) -> None:
    written, read = _post(client, kind, "return=OperationOutcome")
    assert "resource" not in written
    outcome = written["response"]["outcome"]
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["severity"] == "information"
    assert read["resource"]["resourceType"] == "Bundle"


def test_return_representation_is_the_default(client: TestClient) -> None:
    written, _ = _post(client, "transaction", "return=representation")
    assert written["resource"]["resourceType"] == "Patient"

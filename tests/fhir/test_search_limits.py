"""What one search may ask, and how long it may run, on both stores: no request can hold
the database (or SQLite's event loop) for long."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from dalgu.fhir.search import MAX_PARAMETERS, MAX_VALUES, TokenValue, parse_search
from tests.fhir.conftest import ADMIN, create, observation, patient


def test_a_search_with_more_parameters_than_the_limit_is_a_too_costly_400(
    client: TestClient,
) -> None:
    query = "&".join(["status=final"] * (MAX_PARAMETERS + 1))
    response = client.get(f"/fhir/Observation?{query}", headers=ADMIN)
    assert response.status_code == 400, response.text
    issue = response.json()["issue"][0]
    assert issue["code"] == "too-costly"
    assert f"at most {MAX_PARAMETERS}" in issue["diagnostics"]


def test_a_search_with_more_values_than_the_limit_is_a_too_costly_400(client: TestClient) -> None:
    codes = ",".join(f"c{n}" for n in range(MAX_VALUES + 1))
    response = client.get(f"/fhir/Observation?code={codes}", headers=ADMIN)
    assert response.status_code == 400, response.text
    issue = response.json()["issue"][0]
    assert issue["code"] == "too-costly"
    assert f"at most {MAX_VALUES}" in issue["diagnostics"]


@pytest.mark.parametrize("name", ["code", "_id", "date"])
def test_a_search_with_as_many_values_as_the_limit_is_answered(
    client: TestClient, name: str
) -> None:
    """SQLite refused an OR chain of 497 values ("Expression tree is too large"): a 500."""
    kim = create(client, patient())
    create(client, observation(kim, code="c999"))
    if name == "date":
        values = ",".join(f"ge{1000 + n}" for n in range(MAX_VALUES))
    else:
        values = ",".join(f"c{n}" for n in range(MAX_VALUES))
    response = client.post(
        "/fhir/Observation/_search",
        content=f"{name}={values}",
        headers={**ADMIN, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["total"] == (0 if name == "_id" else 1)


def test_a_search_running_past_its_time_is_stopped_with_a_too_costly_400(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    kim = create(client, patient())
    entries = [
        {
            "resource": observation(kim, code=f"c{n}"),
            "request": {"method": "POST", "url": "Observation"},
        }
        for n in range(300)
    ]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    assert client.post("/fhir", json=bundle, headers=ADMIN).status_code == 200
    monkeypatch.setattr("dalgu.store.sqlite.fhir.QUERY_SECONDS", 0.001)
    monkeypatch.setattr("dalgu.store.postgres.fhir.QUERY_SECONDS", 0.001)
    query = "&".join(f"code:not=x{n}" for n in range(MAX_PARAMETERS - 1))
    response = client.get(f"/fhir/Observation?{query}&_summary=count", headers=ADMIN)
    assert response.status_code == 400, response.text
    issue = response.json()["issue"][0]
    assert issue["code"] == "too-costly"
    assert "ran longer than" in issue["diagnostics"]
    monkeypatch.undo()  # the store serves the next search as usual
    assert client.get("/fhir/Patient", headers=ADMIN).json()["total"] == 1


def test_a_parameter_repeated_with_the_same_value_is_one_clause() -> None:
    query = parse_search("Observation", [("status", "final")] * 5 + [("status", "amended")])
    assert [c.values for c in query.clauses] == [
        (TokenValue(None, "final"),),
        (TokenValue(None, "amended"),),
    ]

"""Temporal query bounds finer than the microsecond, the precision instance times are kept
and compared at (clause 4.11: `after` takes the instances at or after `timeAt`): refused,
since no comparison at the microsecond answers them exactly; a bound at the microsecond
compares exactly with instances written finer."""

from __future__ import annotations

from starlette.testclient import TestClient

T = "/ngsi-ld/v1/temporal/entities"
ID = "urn:ngsi-ld:T:1"


def create(client: TestClient) -> None:
    body = {
        "id": ID,
        "type": "T",
        "v": [
            {"type": "Property", "value": 1, "observedAt": "2026-01-01T00:00:00.123456Z"},
            {"type": "Property", "value": 3, "observedAt": "2026-01-01T00:00:00.1234567Z"},
        ],
    }
    assert client.post(T, json=body).status_code == 201


def test_a_bound_finer_than_the_microsecond_is_refused(client: TestClient) -> None:
    create(client)
    for params in (
        {"timerel": "after", "timeAt": "2026-01-01T00:00:00.1234561Z"},
        {
            "timerel": "between",
            "timeAt": "2026-01-01T00:00:00Z",
            "endTimeAt": "2026-01-01T00:00:00.1234561Z",
        },
    ):
        response = client.get(f"{T}/{ID}", params={**params, "options": "temporalValues"})
        assert response.status_code == 400, response.text
        assert "microsecond" in response.json()["detail"]


def test_a_bound_at_the_microsecond_compares_exactly(client: TestClient) -> None:
    create(client)
    params = {"options": "temporalValues", "timerel": "after"}
    response = client.get(f"{T}/{ID}", params={**params, "timeAt": "2026-01-01T00:00:00.123457Z"})
    assert response.status_code == 200, response.text
    assert response.json().get("v") is None  # 00.1234567 is before 00.123457
    response = client.get(f"{T}/{ID}", params={**params, "timeAt": "2026-01-01T00:00:00.1234560Z"})
    assert [v[0] for v in response.json()["v"]["values"]] == [1, 3]

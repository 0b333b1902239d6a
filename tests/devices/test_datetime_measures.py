"""`DateTime` measures (and static attributes) are written in UTC, as NGSI-LD clause 4.6.3 asks
and the agents convert them; a `Date` is its day (outside tester iota-3)."""

from __future__ import annotations

from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
UL = {"Content-Type": "text/plain"}


def _provision(client: TestClient) -> None:
    group = {
        "apikey": "kdt",
        "resource": "/iot/d",
        "entity_type": "T3",
        "attributes": [
            {"object_id": "a", "name": "dt", "type": "DateTime"},
            {"object_id": "g", "name": "dd", "type": "Date"},
            {"object_id": "b", "name": "pct", "type": "Percentage"},
        ],
        "static_attributes": [
            {"name": "sdt", "type": "DateTime", "value": "2026-01-01T01:00:00+01:00"}
        ],
    }
    assert client.post("/iot/services", json={"services": [group]}).status_code == 201


def test_a_datetime_measure_with_an_offset_is_written_in_utc(client: TestClient) -> None:
    _provision(client)
    body = b"a|2026-12-01T10:00:00+02:00|g|2026-12-01|b|55"
    assert client.post("/iot/d?k=kdt&i=x1", content=body, headers=UL).status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:T3:x1").json()
    assert entity["dt"]["value"] == {"@type": "DateTime", "@value": "2026-12-01T08:00:00Z"}
    assert entity["dd"]["value"] == {"@type": "Date", "@value": "2026-12-01"}
    assert entity["sdt"]["value"] == {"@type": "DateTime", "@value": "2026-01-01T00:00:00Z"}
    assert entity["pct"]["value"] == 55


def test_a_datetime_as_epoch_milliseconds_and_a_date_of_a_datetime(client: TestClient) -> None:
    _provision(client)
    body = b"a|1764583200000|g|2026-12-01T23:30:00-02:00"
    assert client.post("/iot/d?k=kdt&i=x2", content=body, headers=UL).status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:T3:x2").json()
    assert entity["dt"]["value"]["@value"] == "2025-12-01T10:00:00Z"
    assert entity["dd"]["value"]["@value"] == "2026-12-02"


def test_a_datetime_measure_that_is_no_time_is_left_out(client: TestClient) -> None:
    _provision(client)
    assert client.post("/iot/d?k=kdt&i=x3", content=b"a|soon|b|5", headers=UL).status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:T3:x3").json()
    assert "dt" not in entity and entity["pct"]["value"] == 5

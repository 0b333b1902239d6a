"""A run checks that the watched config group writes what the profile says: entity type,
attribute names, types and units (the data the city gets, not only the payload)."""

from __future__ import annotations

import time

from starlette.testclient import TestClient

from dalgu.testbed.groupcheck import mapping_check
from dalgu.testbed.profile import parse_profile

AIR = parse_profile(
    """
name: acme-air
entity_type: AirQualityObserved
interval: 0.2
jitter: 0.9
measures:
  - {object_id: p10, name: pm10, type: Number, unit: GQ, min: 0, max: 1000}
  - {object_id: p25, name: pm25, type: Number, unit: GQ, min: 0, max: 1000}
  - {object_id: t, name: temperature, type: Number, unit: CEL, min: -30, max: 50}
"""
)
WRONG = {
    "apikey": "k-mis",
    "resource": "/iot/d",
    "entity_type": "AirQuality",
    "attributes": [
        {"object_id": "p10", "name": "dust", "type": "Text"},
        {
            "object_id": "p25",
            "name": "pm25",
            "type": "Number",
            "metadata": {"unitCode": {"type": "Text", "value": "KGM"}},
        },
        {"object_id": "t", "name": "temp", "type": "Number"},
    ],
}


def test_a_group_that_contradicts_the_profile_fails_the_mapping_check() -> None:
    """docs/testbed.md: a profile says "its entity type, … each measure's `object_id`,
    attribute `name`, `type`, `unit`", and "gives the config group that maps its measures"."""
    check = mapping_check(AIR, [WRONG])
    assert check.verdict == "fail"
    assert check.figures["problems"] == 7  # type; dust, Text, no unit; KGM; temp, no unit
    assert any("entity_type 'AirQuality'" in p for p in check.examples)


def test_the_profile_s_own_group_passes() -> None:
    own = AIR.to_group("k-air")
    assert mapping_check(AIR, [own]).verdict == "pass"


def test_a_run_with_a_group_that_contradicts_the_profile_fails(client: TestClient) -> None:
    firm = {"fiware-service": "acmesense"}
    assert client.post("/iot/services", json={"services": [WRONG]}, headers=firm).status_code == 201
    started = client.post(
        "/testbed/runs",
        json={"profile": AIR.model_dump(mode="json"), "apikey": "k-mis", "duration": 1.2},
        headers=firm,
    )
    assert started.status_code == 201, started.text
    for _ in range(5):
        client.post("/iot/d?k=k-mis&i=aq-mis", content=b"p10|31|p25|10|t|14")
        time.sleep(0.2)
    run = f"/testbed/runs/{started.json()['id']}"
    deadline = time.monotonic() + 10
    while (doc := client.get(run, headers=firm).json())["status"] != "finished":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    checks = {c["name"]: c["verdict"] for c in doc["report"]["checks"]}
    assert checks["mapping"] == "fail" and doc["verdict"] == "fail"

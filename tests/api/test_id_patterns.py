"""`idPattern` (and `q` `~=`) find what Python's `re.search` finds, on entities and their
history, however much of the pattern the store reads as a prefix or a literal first."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
T = "/ngsi-ld/v1/temporal/entities"
IDS = [
    *(f"urn:ngsi-ld:Car:{n:03d}" for n in range(0, 130, 7)),
    "urn:ngsi-ld:Car:0a1",
    "urn:ngsi-ld:car:005",
    "urn:ngsi-ld:Carriage:005",
    "urn:x:Car:005",
    "urn:ngsi-ld:Car:00:5",
]
PATTERNS = [
    "^urn:ngsi-ld:Car:0",  # a prefix: the id index's range
    r"\Aurn:ngsi-ld:Car:1",
    "^urn:ngsi-ld:Car:0[0-4]",
    "^urn:ngsi-ld:Car:00|^urn:ngsi-ld:Car:01",  # alternatives that begin alike
    "^urn:ngsi-ld:Car:00|urn:x",
    ".*Car:0.*5$",  # a literal inside
    "Car:00",
    ":005",
    "(?i)^URN:NGSI-LD:CAR:00",  # no literal read
    "Car:(0|1)1",
    "[0-9]a",
    "^urn:ngsi-ld:Car:$",  # matches nothing
]


@pytest.fixture
def cars(client: TestClient) -> None:
    for entity_id in IDS:
        body = {
            "id": entity_id,
            "type": "Car",
            "name": f"car {entity_id[-3:]}",
            "speed": {"value": 1, "observedAt": "2026-12-06T00:00:00Z"},
        }
        assert client.post(E, json=body).status_code == 201


@pytest.mark.usefixtures("cars")
@pytest.mark.parametrize("pattern", PATTERNS)
def test_id_pattern_finds_what_re_search_finds(client: TestClient, pattern: str) -> None:
    expected = sorted(i for i in IDS if re.search(pattern, i))
    found = client.get(E, params={"type": "Car", "idPattern": pattern, "limit": "100"})
    assert found.status_code == 200, found.text
    assert [e["id"] for e in found.json()] == expected
    counted = client.get(
        E, params={"type": "Car", "idPattern": pattern, "count": "true", "limit": "0"}
    )
    assert counted.headers["NGSILD-Results-Count"] == str(len(expected))
    history = client.get(
        T,
        params={
            "type": "Car",
            "idPattern": pattern,
            "timerel": "after",
            "timeAt": "2026-12-05T00:00:00Z",
            "limit": "100",
        },
    )
    assert history.status_code == 200, history.text
    assert [e["id"] for e in history.json()] == expected


@pytest.mark.usefixtures("cars")
@pytest.mark.parametrize("pattern", ["^car 0", "car 0.*5", ":5$", "(?i)CAR 01", "a1$"])
def test_q_pattern_finds_what_re_search_finds(client: TestClient, pattern: str) -> None:
    expected = sorted(i for i in IDS if re.search(pattern, f"car {i[-3:]}"))
    found = client.get(E, params={"type": "Car", "q": f'name~="{pattern}"', "limit": "100"})
    assert found.status_code == 200, found.text
    assert [e["id"] for e in found.json()] == expected


@pytest.mark.usefixtures("cars")
@pytest.mark.parametrize("pattern", ["^car 0", "car 0.*5", "a1$"])
def test_q_pattern_not_matched_finds_the_others(client: TestClient, pattern: str) -> None:
    expected = sorted(i for i in IDS if not re.search(pattern, f"car {i[-3:]}"))
    found = client.get(E, params={"type": "Car", "q": f'name!~="{pattern}"', "limit": "100"})
    assert found.status_code == 200, found.text
    assert [e["id"] for e in found.json()] == expected

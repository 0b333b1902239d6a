"""Two real Dalgu servers federating each other through registrations: reads cross, writes
follow redirect registrations, and registrations in both directions do not loop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.ports import free_port
from tests.server import kill_server, start_server

BUS = "urn:ngsi-ld:Bus:B1"


@pytest.fixture
def brokers(tmp_path: Path) -> Iterator[tuple[str, str]]:
    ports = free_port(), free_port()
    servers = [
        start_server(tmp_path / f"{n}.db", p, environment={"DALGU_NOTIFIER": "inline"})
        for n, p in zip("ab", ports, strict=True)
    ]
    try:
        yield f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}"
    finally:
        for server in servers:
            kill_server(server)


def register(broker: str, endpoint: str, **extra: object) -> None:
    body = {
        "type": "ContextSourceRegistration",
        "information": [{"entities": [{"type": "Bus"}]}],
        "endpoint": endpoint,
        **extra,
    }
    created = httpx.post(f"{broker}/ngsi-ld/v1/csourceRegistrations", json=body)
    assert created.status_code == 201, created.text


def test_a_broker_answers_with_the_other_s_entities_without_looping(
    brokers: tuple[str, str],
) -> None:
    a, b = brokers
    bus = {"id": BUS, "type": "Bus", "line": {"type": "Property", "value": "410"}}
    assert httpx.post(f"{b}/ngsi-ld/v1/entities", json=bus).status_code == 201
    register(a, b)
    register(b, a)  # both ways: a request that passed one broker is not sent back to it
    for broker in (a, b):
        found = httpx.get(
            f"{broker}/ngsi-ld/v1/entities",
            params={"type": "Bus", "options": "keyValues"},
            timeout=10,
        )
        assert found.status_code == 200
        assert found.json() == [{"id": BUS, "type": "Bus", "line": "410"}]
    got = httpx.get(f"{a}/ngsi-ld/v1/entities/{BUS}", params={"options": "keyValues"})
    assert got.status_code == 200 and got.json()["line"] == "410"
    assert httpx.get(f"{a}/ngsi-ld/v1/entities/{BUS}", params={"local": "true"}).status_code == 404


def test_a_redirect_registration_sends_writes_to_the_other_broker(
    brokers: tuple[str, str],
) -> None:
    a, b = brokers
    register(a, b, mode="redirect", operations=["redirectionOps"])
    bus = {"id": BUS, "type": "Bus", "line": {"type": "Property", "value": "410"}}
    assert httpx.post(f"{a}/ngsi-ld/v1/entities", json=bus).status_code == 201
    held = httpx.get(f"{b}/ngsi-ld/v1/entities/{BUS}", params={"options": "keyValues"})
    assert held.json() == {"id": BUS, "type": "Bus", "line": "410"}
    patch = {"line": {"type": "Property", "value": "410-1"}}
    assert httpx.patch(f"{a}/ngsi-ld/v1/entities/{BUS}/attrs", json=patch).status_code == 204
    held = httpx.get(f"{b}/ngsi-ld/v1/entities/{BUS}", params={"options": "keyValues"})
    assert held.json()["line"] == "410-1"
    assert httpx.delete(f"{a}/ngsi-ld/v1/entities/{BUS}").status_code == 204
    assert httpx.get(f"{b}/ngsi-ld/v1/entities/{BUS}").status_code == 404


def test_a_query_reaches_past_the_other_s_first_page_and_counts_all(
    brokers: tuple[str, str],
) -> None:
    """A query took the other broker's first 20 entities only, and counted 20 of 30."""
    a, b = brokers
    buses = [{"id": f"urn:ngsi-ld:Bus:{i:03d}", "type": "Bus"} for i in range(30)]
    created = httpx.post(f"{b}/ngsi-ld/v1/entityOperations/create", json=buses)
    assert created.status_code == 201
    register(a, b)
    query = f"{a}/ngsi-ld/v1/entities"
    every = httpx.get(query, params={"type": "Bus", "limit": "100", "count": "true"}, timeout=10)
    assert len(every.json()) == 30 and every.headers["NGSILD-Results-Count"] == "30"
    last = httpx.get(query, params={"type": "Bus", "limit": "10", "offset": "25"}, timeout=10)
    assert [e["id"] for e in last.json()] == [f"urn:ngsi-ld:Bus:{i:03d}" for i in range(25, 30)]
    first = httpx.get(query, params={"type": "Bus", "count": "true"}, timeout=10)
    assert len(first.json()) == 20 and first.headers["NGSILD-Results-Count"] == "30"
    assert 'rel="next"' in first.headers["Link"]


def test_each_tenant_of_a_broker_is_a_source_of_its_own(brokers: tuple[str, str]) -> None:
    """Clause 4.3.6.4: a chain that comes back to a broker in another tenant is no loop; it
    was cut, the way back to the first broker taken for one."""
    a, b = brokers
    ambulance = {"id": "urn:ngsi-ld:Ambulance:A1", "type": "Ambulance"}
    fleet, er, t2 = ({"NGSILD-Tenant": t} for t in ("fleet", "er", "t2"))
    assert httpx.post(f"{a}/ngsi-ld/v1/entities", json=ambulance, headers=fleet).is_success
    for broker, endpoint, tenant, headers in (
        (b, a, "fleet", er),
        (a, b, "er", {}),
        (a, a, "fleet", t2),
    ):
        body = {
            "type": "ContextSourceRegistration",
            "information": [{"entities": [{"type": "Ambulance"}]}],
            "endpoint": endpoint,
            "tenant": tenant,
        }
        created = httpx.post(
            f"{broker}/ngsi-ld/v1/csourceRegistrations", json=body, headers=headers
        )
        assert created.status_code == 201, created.text
    for headers in ({}, t2):  # a -> b/er -> a/fleet, and a/t2 -> a/fleet
        found = httpx.get(
            f"{a}/ngsi-ld/v1/entities", params={"type": "Ambulance"}, headers=headers, timeout=10
        )
        assert [e["id"] for e in found.json()] == ["urn:ngsi-ld:Ambulance:A1"], headers
    # the same broker and tenant again is still a loop
    alias = httpx.get(f"{a}/ngsi-ld/v1/info/sourceIdentity").json()["contextSourceAlias"]
    looped = httpx.get(
        f"{a}/ngsi-ld/v1/entities",
        params={"type": "Ambulance"},
        headers={**t2, "Via": f"1.1 {alias} (tenant t2)"},
    )
    assert looped.status_code == 508

"""A config group's `defaultEntityNameConjunction` joins the entity type and the device id in
the default entity name, as the agents compose it (outside tester iota-6)."""

from __future__ import annotations

from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"


def test_an_autoprovisioned_device_is_named_with_its_groups_conjunction(
    client: TestClient,
) -> None:
    group = {
        "apikey": "kconj",
        "resource": "/iot/d",
        "entity_type": "K",
        "defaultEntityNameConjunction": "-",
    }
    assert client.post("/iot/services", json={"services": [group]}).status_code == 201
    assert client.post("/iot/d?k=kconj&i=c1", content=b"a|1").status_code == 200
    assert client.get(f"{E}/urn:ngsi-ld:K-c1").json()["a"]["value"] == 1
    assert client.get(f"{E}/urn:ngsi-ld:K:c1").status_code == 404
    assert client.get("/iot/devices/c1").json()["entity_name"] == "urn:ngsi-ld:K-c1"


def test_without_a_conjunction_the_name_joins_with_a_colon(client: TestClient) -> None:
    group = {"apikey": "kconj2", "resource": "/iot/d", "entity_type": "K"}
    assert client.post("/iot/services", json={"services": [group]}).status_code == 201
    assert client.post("/iot/d?k=kconj2&i=c2", content=b"a|1").status_code == 200
    assert client.get("/iot/devices/c2").json()["entity_name"] == "urn:ngsi-ld:K:c2"

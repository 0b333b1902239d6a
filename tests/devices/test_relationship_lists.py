"""A static (or measured) `Relationship` with several targets is written with `"object": [...]`,
as the agents write it and NGSI-LD allows (outside tester iota-16)."""

from __future__ import annotations

from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
OWNERS = ["urn:ngsi-ld:P:1", "urn:ngsi-ld:P:2"]


def test_a_static_relationship_with_several_targets_is_written(client: TestClient) -> None:
    group = {
        "apikey": "krel",
        "resource": "/iot/d",
        "entity_type": "R13",
        "attributes": [{"object_id": "r", "name": "refs", "type": "Relationship"}],
        "static_attributes": [{"name": "owners", "type": "Relationship", "value": OWNERS}],
    }
    assert client.post("/iot/services", json={"services": [group]}).status_code == 201
    sent = client.post("/iot/d?k=krel&i=r1", content=b"r|urn:ngsi-ld:X:9")
    assert sent.status_code == 200, sent.text
    entity = client.get(f"{E}/urn:ngsi-ld:R13:r1").json()
    assert entity["owners"]["type"] == "Relationship"
    assert entity["owners"]["object"] == OWNERS
    assert entity["refs"]["object"] == "urn:ngsi-ld:X:9"


def test_a_relationship_in_an_attributes_metadata_is_a_relationship(client: TestClient) -> None:
    """Outside tester iota-9: metadata of type `Relationship` is a sub-relationship."""
    source = {"type": "Relationship", "value": "urn:ngsi-ld:Dev:1"}
    accuracy = {"type": "Number", "value": 0.5}
    mapping = {
        "object_id": "t",
        "name": "temperature",
        "type": "Number",
        "metadata": {"accuracy": accuracy, "source": source},
    }
    group = {"apikey": "kmeta", "resource": "/iot/d", "entity_type": "T7", "attributes": [mapping]}
    assert client.post("/iot/services", json={"services": [group]}).status_code == 201
    assert client.post("/iot/d?k=kmeta&i=md1", content=b"t|21").status_code == 200
    temperature = client.get(f"{E}/urn:ngsi-ld:T7:md1").json()["temperature"]
    assert temperature["value"] == 21
    assert temperature["source"] == {"type": "Relationship", "object": "urn:ngsi-ld:Dev:1"}
    assert temperature["accuracy"] == {"type": "Property", "value": 0.5}

"""An autoprovisioned device keeps the entity it was provisioned with when its config group's
`entity_type` changes later, as the agents fill its `entity_name` and `entity_type` in once;
devices provisioned after the change take the new type (outside tester iota-18)."""

from __future__ import annotations

from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
UL = {"Content-Type": "text/plain"}


def test_a_group_type_change_leaves_autoprovisioned_devices_on_their_entities(
    client: TestClient,
) -> None:
    group = {
        "apikey": "kmove",
        "resource": "/iot/d",
        "entity_type": "T6",
        "attributes": [{"object_id": "t", "name": "temperature", "type": "Number"}],
    }
    assert client.post("/iot/services", json={"services": [group]}).status_code == 201
    assert client.post("/iot/d?k=kmove&i=me1", content=b"t|1", headers=UL).status_code == 200
    changed = client.put("/iot/services?resource=/iot/d&apikey=kmove", json={"entity_type": "T6b"})
    assert changed.status_code == 204, changed.text
    assert client.post("/iot/d?k=kmove&i=me1", content=b"t|77", headers=UL).status_code == 200
    shown = client.get("/iot/devices/me1").json()
    assert (shown["entity_name"], shown["entity_type"]) == ("urn:ngsi-ld:T6:me1", "T6")
    assert client.get(f"{E}/urn:ngsi-ld:T6:me1").json()["temperature"]["value"] == 77
    assert client.get(f"{E}/urn:ngsi-ld:T6b:me1").status_code == 404
    assert client.post("/iot/d?k=kmove&i=me2", content=b"t|5", headers=UL).status_code == 200
    assert client.get(f"{E}/urn:ngsi-ld:T6b:me2").json()["temperature"]["value"] == 5

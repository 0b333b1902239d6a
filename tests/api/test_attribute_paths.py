"""Attribute names that are IRIs, percent-encoded in request paths (an outside test with the
FIWARE IoT Agent: a command attribute outside the client's @context could not be patched or
deleted by its path, a 404 naming an entity `urn:…/attrs/https:/…`)."""

from __future__ import annotations

from urllib.parse import quote

from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
T = "/ngsi-ld/v1/temporal/entities"
IRI = "https://example.org/ns/on"
ENCODED = quote(IRI, safe="")


def _lamp(entity_id: str) -> dict[str, object]:
    return {
        "id": entity_id,
        "type": "Lamp",
        IRI: {"type": "Property", "value": "off", "observedAt": "2026-12-01T00:00:00Z"},
        "brightness": {"type": "Property", "value": 1},
    }


def test_an_attribute_iri_in_the_path_is_patched_replaced_and_deleted(client: TestClient) -> None:
    assert client.post(E, json=_lamp("urn:ngsi-ld:Lamp:1")).status_code == 201
    url = f"{E}/urn:ngsi-ld:Lamp:1/attrs/{ENCODED}"
    assert client.patch(url, json={"value": "on"}).status_code == 204
    assert client.get(f"{E}/urn:ngsi-ld:Lamp:1").json()[IRI]["value"] == "on"
    replaced = {"type": "Property", "value": "dim", "observedAt": "2026-12-01T00:01:00Z"}
    assert client.put(url, json=replaced).status_code == 204
    assert client.get(f"{E}/urn:ngsi-ld:Lamp:1").json()[IRI]["value"] == "dim"
    assert client.delete(url).status_code == 204
    left = client.get(f"{E}/urn:ngsi-ld:Lamp:1").json()
    assert IRI not in left and left["brightness"]["value"] == 1
    # an attribute the entity does not have is still a 404 of that attribute
    missing = client.delete(url)
    assert missing.status_code == 404
    assert "Lamp:1/attrs" not in missing.json().get("detail", "")


def test_an_entity_id_with_slashes_and_an_attribute_iri_both_encoded(client: TestClient) -> None:
    entity_id = "https://example.org/lamps/2"
    assert client.post(E, json=_lamp(entity_id)).status_code == 201
    url = f"{E}/{quote(entity_id, safe='')}/attrs/{ENCODED}"
    assert client.patch(url, json={"value": "on"}).status_code == 204
    assert client.get(f"{E}/{quote(entity_id, safe='')}").json()[IRI]["value"] == "on"
    # a plain name after an encoded entity id, as before
    plain = f"{E}/{quote(entity_id, safe='')}/attrs/brightness"
    assert client.patch(plain, json={"value": 5}).status_code == 204


def test_an_attribute_iri_in_a_temporal_path(client: TestClient) -> None:
    assert client.post(E, json=_lamp("urn:ngsi-ld:Lamp:3")).status_code == 201
    history = client.get(f"{T}/urn:ngsi-ld:Lamp:3").json()
    [instance] = history[IRI]
    one = f"{T}/urn:ngsi-ld:Lamp:3/attrs/{ENCODED}/{instance['instanceId']}"
    changed = {"type": "Property", "value": "was off", "observedAt": "2026-12-01T00:00:00Z"}
    assert client.patch(one, json={IRI: changed}).status_code == 204
    assert client.get(f"{T}/urn:ngsi-ld:Lamp:3").json()[IRI][0]["value"] == "was off"
    assert client.delete(one).status_code == 204
    assert client.delete(f"{T}/urn:ngsi-ld:Lamp:3/attrs/{ENCODED}").status_code in (204, 404)
    assert IRI not in client.get(f"{T}/urn:ngsi-ld:Lamp:3").json()

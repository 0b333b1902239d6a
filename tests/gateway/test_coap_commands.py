"""Command traffic over CoAP reads as over HTTP: a polling device's result (`dev@cmd|result`
where measures go, or on `/iot/d/commands`, `/iot/json/commands`) closes its command; a POST
asking for commands (`getCmd=1`) is refused, since commands are not fetched over CoAP."""

from __future__ import annotations

import aiocoap
import orjson
from starlette.testclient import TestClient

from tests.devices.conftest import provision_lamp, wait_for
from tests.gateway.test_coap_conformance import coap_gateway, exchange, post, stored

__all__ = ["coap_gateway"]

E = "/ngsi-ld/v1/entities"


def _sent(client: TestClient, entity_id: str) -> None:
    patched = client.patch(f"{E}/{entity_id}/attrs/switch", json={"value": "on"})
    assert patched.status_code == 204
    wait_for(client, f"{E}/{entity_id}", lambda e: e["switch_status"]["value"] == "PENDING")


def test_a_command_result_where_measures_go_closes_the_command(
    coap_gateway: tuple[TestClient, int, str],
) -> None:
    client, port, apikey = coap_gateway
    entity_id = provision_lamp(client, apikey)
    _sent(client, entity_id)
    uri = f"coap://127.0.0.1:{port}/iot/d?k={apikey}&i=lamp1"
    assert exchange(post(uri, b"lamp1@switch|is on")).code == aiocoap.CHANGED
    entity = client.get(f"{E}/{entity_id}").json()
    assert entity["switch_status"]["value"] == "OK"
    assert entity["switch_info"]["value"] == "is on"
    assert "lamp1@switch" not in entity  # not a measure attribute


def test_a_result_with_measures_closes_the_command_and_stores_the_measures(
    coap_gateway: tuple[TestClient, int, str],
) -> None:
    client, port, apikey = coap_gateway
    entity_id = provision_lamp(client, apikey)
    _sent(client, entity_id)
    uri = f"coap://127.0.0.1:{port}/iot/d?k={apikey}&i=lamp1"
    assert exchange(post(uri, b"l|7#lamp1@switch|done")).code == aiocoap.CHANGED
    entity = client.get(f"{E}/{entity_id}?options=keyValues").json()
    assert entity["switch_status"] == "OK" and entity["l"] == 7


def test_a_result_for_a_command_the_device_has_not_is_refused_and_not_stored(
    coap_gateway: tuple[TestClient, int, str],
) -> None:
    client, port, apikey = coap_gateway
    uri = f"coap://127.0.0.1:{port}/iot/d?k={apikey}&i=plain"
    assert exchange(post(uri, b"e|1")).code == aiocoap.CHANGED
    answer = exchange(post(uri, b"plain@switch|x"))
    assert answer.code in (aiocoap.BAD_REQUEST, aiocoap.NOT_FOUND)
    assert "plain@switch" not in client.get(f"{E}/urn:ngsi-ld:Meter:plain").json()


def test_command_results_are_taken_on_the_commands_resources(
    coap_gateway: tuple[TestClient, int, str],
) -> None:
    client, port, apikey = coap_gateway
    entity_id = provision_lamp(client, apikey)
    _sent(client, entity_id)
    uri = f"coap://127.0.0.1:{port}/iot/d/commands?k={apikey}&i=lamp1"
    assert exchange(post(uri, b"lamp1@switch|ul done")).code == aiocoap.CHANGED
    assert client.get(f"{E}/{entity_id}").json()["switch_info"]["value"] == "ul done"


def test_json_command_results_are_taken_on_their_commands_resource(
    coap_gateway: tuple[TestClient, int, str],
) -> None:
    client, port, apikey = coap_gateway
    entity_id = provision_lamp(client, f"{apikey}j", protocol="IoTA-JSON")
    _sent(client, entity_id)
    uri = f"coap://127.0.0.1:{port}/iot/json/commands?k={apikey}j&i=lamp1"
    answer = exchange(post(uri, b'{"switch": "json done"}', content_format=50))
    assert answer.code == aiocoap.CHANGED
    assert client.get(f"{E}/{entity_id}").json()["switch_info"]["value"] == "json done"


def test_a_post_asking_for_commands_is_refused_and_nothing_stored(
    coap_gateway: tuple[TestClient, int, str],
) -> None:
    client, port, apikey = coap_gateway
    uri = f"coap://127.0.0.1:{port}/iot/d?k={apikey}&i=poll1&getCmd=1"
    answer = exchange(post(uri, b"e|1"))
    assert answer.code == aiocoap.BAD_REQUEST
    assert "not fetched over CoAP" in orjson.loads(answer.payload)["detail"]
    assert not stored(client, "poll1")

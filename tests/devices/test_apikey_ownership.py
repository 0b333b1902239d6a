"""An API key belongs to one service: another service may not provision config groups or
devices with it (a sandbox's key above all), and a message sent with it is looked up in the
service of its config group, so another service's device of the same id never takes its
measures nor sends its commands to the key owner's devices."""

from __future__ import annotations

import asyncio
import queue
import socket
import time
import uuid
from typing import Any

import aiocoap
from starlette.testclient import TestClient

from dalgu.settings import Settings
from dalgu.store.base import DeviceRecord
from tests.devices.conftest import FirstMessage, publish
from tests.ports import free_port, serving

E = "/ngsi-ld/v1/entities"
SB = "/testbed/sandboxes"
LUM = [{"object_id": "l", "name": "lum", "type": "Number"}]


def service(name: str) -> dict[str, str]:
    return {"fiware-service": name}


def sandbox_with_group(client: TestClient, name: str) -> str:
    """A sandbox whose config group (Lamp, command switch) has its first key; the key."""
    created = client.post(SB, json={"name": name})
    assert created.status_code == 201, created.text
    key = str(created.json()["apiKeys"][0]["key"])
    group = {"apikey": key, "entity_type": "Lamp", "attributes": LUM}
    group["commands"] = [{"name": "switch"}]
    made = client.post("/iot/services", json={"services": [group]}, headers=service(name))
    assert made.status_code == 201, made.text
    return key


def lamp(device_id: str, apikey: str, **fields: Any) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "entity_name": f"urn:ngsi-ld:Lamp:{device_id}",
        "entity_type": "Lamp",
        "apikey": apikey,
        "attributes": LUM,
        **fields,
    }


def lamps(client: TestClient, tenant: str) -> dict[str, Any]:
    """The tenant's Lamp entities by id, as key-values."""
    answer = client.get(
        E, params={"type": "Lamp", "options": "keyValues"}, headers={"NGSILD-Tenant": tenant}
    )
    assert answer.status_code == 200, answer.text
    return {e["id"]: e for e in answer.json()}


def provisioned_before(client: TestClient, tenant: str, device: dict[str, Any]) -> None:
    """A device another service provisioned with the key before such keys were refused: put
    in the store as provisioning then stored it."""
    registry = client.app.state.dalgu.devices.registry  # type: ignore[attr-defined]
    record = DeviceRecord(tenant, "/", device["apikey"], device["device_id"], device)
    client.portal.call(registry.put_device, record)  # type: ignore[union-attr]


def test_a_sandbox_key_is_refused_in_every_other_service(client: TestClient) -> None:
    key = sandbox_with_group(client, "firma")
    evil = service("evil")  # a plain service, not a sandbox
    device = client.post("/iot/devices", json={"devices": [lamp("lamp2", key)]}, headers=evil)
    assert device.status_code == 400, device.text
    assert device.json()["name"] == "BAD_REQUEST"
    assert "another sandbox" in device.json()["detail"]
    for resource in ("/iot/d", "/iot/json"):  # the same resource, and another one
        group = {"apikey": key, "resource": resource, "entity_type": "X"}
        answer = client.post("/iot/services", json={"services": [group]}, headers=evil)
        assert answer.status_code == 400, answer.text
    # a key the sandbox has issued and not provisioned yet is its own as well
    spare = client.post(f"{SB}/firma/keys").json()["key"]
    unused = client.post("/iot/services", json={"services": [{"apikey": spare}]}, headers=evil)
    assert unused.status_code == 400, unused.text
    assert client.get("/iot/services", headers=evil).json()["services"] == []
    assert client.get("/iot/devices", headers=evil).json()["count"] == 0
    # with no group of the key, another service cannot watch the sandbox's devices either
    run = {"profile": "air-quality", "apikey": key, "duration": 8}
    assert client.post("/testbed/runs", json=run, headers=evil).status_code == 404
    # the firm's device's measures land in the firm
    assert client.post(f"/iot/d?k={key}&i=lamp2", content=b"l|22").status_code == 200
    assert lamps(client, "firma")["urn:ngsi-ld:Lamp:lamp2"]["lum"] == 22
    assert lamps(client, "evil") == {}


def test_an_apikey_of_one_service_is_refused_in_another(client: TestClient) -> None:
    ka = f"k{uuid.uuid4().hex[:10]}"
    group = {"apikey": ka, "entity_type": "Lamp", "attributes": LUM}
    made = client.post("/iot/services", json={"services": [group]}, headers=service("sa"))
    assert made.status_code == 201, made.text
    sb = service("sb")
    for resource in ("/iot/d", "/iot/json"):
        taken = {**group, "resource": resource}
        answer = client.post("/iot/services", json={"services": [taken]}, headers=sb)
        assert answer.status_code == 409, answer.text
        assert answer.json()["name"] == "DUPLICATE_GROUP"
    device = client.post("/iot/devices", json={"devices": [lamp("d3", ka)]}, headers=sb)
    assert device.status_code == 400, device.text
    assert device.json()["name"] == "BAD_REQUEST" and "another service" in device.json()["detail"]
    assert client.get("/iot/devices", headers=sb).json()["count"] == 0
    # the key's own service may use it again, on another resource or service path
    own = {**group, "resource": "/iot/json"}
    other_path = {**service("sa"), "fiware-servicepath": "/north"}
    answer = client.post("/iot/services", json={"services": [own]}, headers=service("sa"))
    assert answer.status_code == 201, answer.text
    answer = client.post("/iot/devices", json={"devices": [lamp("d3", ka)]}, headers=other_path)
    assert answer.status_code == 201, answer.text
    # a key only a device of one service has (no group) is that service's too
    kd = f"k{uuid.uuid4().hex[:10]}"
    alone = client.post("/iot/devices", json={"devices": [lamp("d4", kd)]}, headers=service("sa"))
    assert alone.status_code == 201, alone.text
    late = client.post("/iot/services", json={"services": [{"apikey": kd}]}, headers=sb)
    assert late.status_code == 409, late.text
    late = client.post("/iot/devices", json={"devices": [lamp("d4", kd)]}, headers=sb)
    assert late.status_code == 400, late.text
    assert client.get("/iot/devices", headers=sb).json()["count"] == 0
    assert client.post(f"/iot/d?k={ka}&i=d3", content=b"l|6").status_code == 200
    assert lamps(client, "sa")["urn:ngsi-ld:Lamp:d3"]["lum"] == 6
    assert lamps(client, "sb") == {}


def wait_for_lamp(client: TestClient, tenant: str, entity_id: str, lum: int) -> None:
    deadline = time.monotonic() + 10
    while lamps(client, tenant).get(entity_id, {}).get("lum") != lum:
        assert time.monotonic() < deadline, f"{entity_id} never had lum {lum} in {tenant}"
        time.sleep(0.05)


def test_measures_with_a_key_land_in_its_service_over_http_and_mqtt(
    gateway: tuple[TestClient, int],
) -> None:
    client, port = gateway
    key = sandbox_with_group(client, "firma")
    provisioned_before(client, "evil", lamp("lamp2", key))
    lamp2 = "urn:ngsi-ld:Lamp:lamp2"
    assert client.post(f"/iot/d?k={key}&i=lamp2", content=b"l|22").status_code == 200
    wait_for_lamp(client, "firma", lamp2, 22)
    publish(port, f"/{key}/lamp2/attrs", b'{"l": 23}')
    wait_for_lamp(client, "firma", lamp2, 23)
    assert lamps(client, "evil") == {}
    # the firm's device was provisioned in the firm from its group, with its first message
    firm_devices = client.get("/iot/devices", headers=service("firma")).json()["devices"]
    assert [d["device_id"] for d in firm_devices] == ["lamp2"]


def test_commands_of_another_service_never_reach_the_key_owners_devices(
    gateway: tuple[TestClient, int],
) -> None:
    client, port = gateway
    key = sandbox_with_group(client, "firma")
    firm, evil = service("firma"), {"NGSILD-Tenant": "evil"}
    switch = {"commands": [{"name": "switch", "type": "command"}]}
    polled, pushed = lamp("lamp3", key, transport="HTTP", **switch), lamp("lamp4", key, **switch)
    pushed["transport"] = "MQTT"
    refused = client.post("/iot/devices", json={"devices": [polled]}, headers=service("evil"))
    assert refused.status_code == 400, refused.text
    for device in (polled, pushed):
        made = client.post("/iot/devices", json={"devices": [device]}, headers=firm)
        assert made.status_code == 201, made.text
        provisioned_before(client, "evil", device)
        entity = {"id": device["entity_name"], "type": "Lamp"}
        entity["switch"] = {"type": "Property", "value": ""}
        assert client.post(E, json=entity, headers=evil).status_code == 201
    received = FirstMessage(port, f"/{key}/lamp4/cmd", f"lamp4-{uuid.uuid4().hex[:6]}")
    for device_id, value in (("lamp3", "on"), ("lamp4", "off")):
        url = f"{E}/urn:ngsi-ld:Lamp:{device_id}/attrs/switch"
        assert client.patch(url, json={"value": value}, headers=evil).status_code == 204
    assert client.get(f"/iot/d?k={key}&i=lamp3&getCmd=1").text == ""
    # the firm's own command is the first its MQTT lamp hears
    firm_tenant = {"NGSILD-Tenant": "firma"}
    url = f"{E}/urn:ngsi-ld:Lamp:lamp4/attrs/switch"
    assert client.patch(url, json={"value": "on"}, headers=firm_tenant).status_code == 204
    try:
        assert received.get() == b"lamp4@switch|on"
    except queue.Empty:
        raise AssertionError("the firm's command never reached its lamp") from None
    url = f"{E}/urn:ngsi-ld:Lamp:lamp3/attrs/switch"
    assert client.patch(url, json={"value": "dim"}, headers=firm_tenant).status_code == 204
    assert client.get(f"/iot/d?k={key}&i=lamp3&getCmd=1").text == "lamp3@switch|dim"
    # and the lamp's result is the firm's command's
    done = client.post(f"/iot/d/commands?k={key}&i=lamp3", content=b"lamp3@switch|dimmed")
    assert done.status_code == 200, done.text
    firm_lamp = lamps(client, "firma")["urn:ngsi-ld:Lamp:lamp3"]
    assert (firm_lamp["switch_status"], firm_lamp["switch_info"]) == ("OK", "dimmed")
    assert "switch_status" not in lamps(client, "evil")["urn:ngsi-ld:Lamp:lamp3"]


def test_a_run_never_watches_a_key_another_service_also_has_a_group_of(
    client: TestClient,
) -> None:
    key = sandbox_with_group(client, "firmq")
    registry = client.app.state.dalgu.devices.registry  # type: ignore[attr-defined]
    group = {"apikey": key, "resource": "/iot/json", "entity_type": "X"}
    record = DeviceRecord("evil", "/", key, "/iot/json", group)  # stored before the refusal
    client.portal.call(registry.put_group, record)  # type: ignore[union-attr]
    run = {"profile": "air-quality", "apikey": key, "duration": 8}
    refused = client.post("/testbed/runs", json=run, headers=service("evil"))
    assert refused.status_code == 404, refused.text
    assert "another service" in refused.json()["detail"]
    assert client.get("/testbed/runs", headers=service("evil")).json() == []


def test_provisioning_listings_hide_a_sandbox_key(client: TestClient) -> None:
    key = sandbox_with_group(client, "firma")
    firm = service("firma")
    made = client.post("/iot/devices", json={"devices": [lamp("lamp1", key)]}, headers=firm)
    assert made.status_code == 201, made.text
    for url in ("/iot/services", "/iot/groups", "/iot/devices", "/iot/devices/lamp1"):
        answer = client.get(url, headers=firm)
        assert answer.status_code == 200 and key not in answer.text, answer.text
        assert f'"apikey":"{key[:4]}…"' in answer.text
    # the firm, which holds its key, still names its group by it
    params = {"apikey": key}
    changed = client.put("/iot/services", params=params, json={"entity_type": "Lamp"}, headers=firm)
    assert changed.status_code == 204, changed.text
    # another service's key is shown as given, as the IoT Agents do
    plain = f"k{uuid.uuid4().hex[:10]}"
    city = service("city")
    made = client.post("/iot/services", json={"services": [{"apikey": plain}]}, headers=city)
    assert made.status_code == 201, made.text
    assert client.get("/iot/services", headers=city).json()["services"][0]["apikey"] == plain


def test_a_device_under_another_services_key_binds_nothing_and_provisions_nothing(
    client: TestClient,
) -> None:
    """The dashboard lists a service's devices by their bindings: one stored under another
    service's key (by an earlier version) has none, and asking does not provision the
    device in the key's service."""
    key = sandbox_with_group(client, "firma")
    device = lamp("lamp9", key)
    provisioned_before(client, "evil", device)
    devices = client.app.state.dalgu.devices  # type: ignore[attr-defined]
    record = DeviceRecord("evil", "/", key, "lamp9", device)
    assert client.portal.call(devices.binding_of, record) is None  # type: ignore[union-attr]
    assert client.get("/iot/devices", headers=service("firma")).json()["count"] == 0


def test_measures_with_a_key_land_in_its_service_over_coap(settings: Settings) -> None:
    def ports() -> dict[str, int]:
        return {"coap_port": free_port(socket.SOCK_DGRAM)}

    async def send(uri: str, payload: bytes) -> aiocoap.Message:
        context = await aiocoap.Context.create_client_context()
        try:
            request = aiocoap.Message(code=aiocoap.POST, uri=uri, payload=payload)
            answer: aiocoap.Message = await asyncio.wait_for(context.request(request).response, 10)
            return answer
        finally:
            await context.shutdown()

    with serving(settings, ports) as (client, configured):
        key = sandbox_with_group(client, "firmq")
        provisioned_before(client, "evil", lamp("aqx", key))
        uri = f"coap://127.0.0.1:{configured.coap_port}/iot/d?k={key}&i=aqx"
        assert asyncio.run(send(uri, b"l|77")).code == aiocoap.CHANGED
        assert lamps(client, "firmq")["urn:ngsi-ld:Lamp:aqx"]["lum"] == 77
        assert lamps(client, "evil") == {}

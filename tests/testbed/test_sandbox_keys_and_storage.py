"""Sandboxes: self-registration with API keys (hashed, rotated, revoked) that devices must use,
a storage quota, and a reset that also forgets the temporal history."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import time
import uuid
from contextlib import closing
from typing import Any

import aiomqtt
import orjson
from starlette.testclient import TestClient

from dalgu.settings import Settings

SB = "/testbed/sandboxes"
T = "/ngsi-ld/v1/temporal/entities"


def register(client: TestClient, name: str, **quotas: int) -> str:
    created = client.post(SB, json={"name": name, "quotas": quotas})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["tenant"] == name
    (key,) = body["apiKeys"]
    assert key["id"] == "key1" and len(key["key"]) > 30
    tenant = {"fiware-service": name}
    group = {"services": [{"apikey": key["key"], "entity_type": "Meter"}]}
    assert client.post("/iot/services", json=group, headers=tenant).status_code == 201
    return str(key["key"])


def test_devices_authenticate_with_the_sandbox_keys(client: TestClient, settings: Settings) -> None:
    key = register(client, "firm1")
    assert client.post(f"/iot/d?k={key}&i=m1", content=b"e|1").status_code == 200
    # the key is shown once: listings name it, never show it
    listed = client.get(f"{SB}/firm1/keys").json()
    assert listed == [{"id": "key1", "created": listed[0]["created"]}]
    assert key not in client.get(f"{SB}/firm1").text
    if settings.store == "sqlite":  # the sandbox's key list holds its digest, not the key
        assert settings.sqlite_path is not None
        with closing(sqlite3.connect(settings.sqlite_path)) as db:
            rows = db.execute("SELECT * FROM sandbox_keys WHERE tenant = 'firm1'").fetchall()
        assert len(rows) == 1 and hashlib.sha256(key.encode()).hexdigest() in rows[0]
        assert key not in repr(rows)

    # another API key is refused when provisioned in the sandbox, which accepts only its own
    other = {"services": [{"apikey": "k-homemade", "entity_type": "Meter"}]}
    homemade = client.post("/iot/services", json=other, headers={"fiware-service": "firm1"})
    assert homemade.status_code == 400, homemade.text
    assert "accepts only its own API keys" in homemade.json()["detail"]
    device = {"devices": [{"device_id": "h1", "apikey": "k-homemade"}]}
    devices = client.post("/iot/devices", json=device, headers={"fiware-service": "firm1"})
    assert devices.status_code == 400, devices.text
    assert client.post("/iot/d?k=k-homemade&i=m1", content=b"e|1").status_code == 404
    assert client.get("/iot/devices/h1", headers={"fiware-service": "firm1"}).status_code == 404

    # rotation: a new key, the old one revoked at once (in this process)
    rotated = client.post(f"{SB}/firm1/keys/key1/rotate")
    assert rotated.status_code == 201 and rotated.json()["id"] == "key2"
    new_key = rotated.json()["key"]
    assert client.post(f"/iot/d?k={key}&i=m1", content=b"e|2").status_code == 401
    assert (
        client.post(
            "/iot/services",
            json={"services": [{"apikey": new_key}]},
            headers={"fiware-service": "firm1"},
        ).status_code
        == 201
    )
    assert client.post(f"/iot/d?k={new_key}&i=m2", content=b"e|3").status_code == 200
    states = {k["id"]: "revoked" in k for k in client.get(f"{SB}/firm1/keys").json()}
    assert states == {"key1": True, "key2": False}
    assert client.delete(f"{SB}/firm1/keys/key2").status_code == 204
    assert client.post(f"/iot/d?k={new_key}&i=m2", content=b"e|4").status_code == 401
    assert client.delete(f"{SB}/firm1/keys/key2").status_code == 404
    assert client.post(f"{SB}/nobody/keys").status_code == 404
    # refusals are counted with the device's other refusals
    traffic = client.app.state.dalgu.devices.traffic  # type: ignore[attr-defined]
    assert traffic.of(key)["m1"]["Unauthorized"] == 1

    # API keys of tenants that are not keyed sandboxes work as with an IoT Agent
    plain = {"services": [{"apikey": "k-plain", "entity_type": "Meter"}]}
    assert client.post("/iot/services", json=plain, headers={"fiware-service": "city"}).status_code
    assert client.post("/iot/d?k=k-plain&i=p1", content=b"e|1").status_code == 200


def test_storage_quota_refuses_messages_past_it(client: TestClient) -> None:
    key = register(client, "firm2", storage=6)
    answers = []
    for n in range(12):
        answers.append(client.post(f"/iot/d?k={key}&i=m1", content=f"e|{n}".encode()))
        time.sleep(0.01)
    codes = [a.status_code for a in answers]
    # one entity and an instance per message: the quota is reached after a few messages
    assert codes[:4] == [200] * 4 and codes[-1] == 429
    last = answers[-1].json()
    assert last["type"] == "urn:dalgu:errors:QuotaExceeded" and "storage quota" in last["detail"]
    # raising the quota lets messages in again
    assert client.patch(f"{SB}/firm2", json={"quotas": {"storage": 1000}}).status_code == 200
    assert client.post(f"/iot/d?k={key}&i=m1", content=b"e|99").status_code == 200


def test_reset_forgets_the_temporal_history(client: TestClient) -> None:
    key = register(client, "firm3")
    for n in range(3):
        assert client.post(f"/iot/d?k={key}&i=m1", content=f"e|{n}".encode()).status_code == 200
    tenant = {"NGSILD-Tenant": "firm3"}
    params = {"type": "Meter", "timeproperty": "modifiedAt", "lastN": "100"}
    history = client.get(T, params=params, headers=tenant).json()
    assert len(history) == 1 and len(history[0]["e"]) == 3
    # another tenant's history stays
    plain = {"services": [{"apikey": f"k{uuid.uuid4().hex[:6]}", "entity_type": "Meter"}]}
    client.post("/iot/services", json=plain, headers={"fiware-service": "city"})
    apikey = plain["services"][0]["apikey"]
    assert client.post(f"/iot/d?k={apikey}&i=c1", content=b"e|7").status_code == 200

    assert client.post(f"{SB}/firm3/reset").status_code == 204
    assert client.get(T, params=params, headers=tenant).json() == []
    kept = client.get(T, params=params, headers={"NGSILD-Tenant": "city"}).json()
    assert len(kept) == 1
    # the keys survive a reset; deleting the sandbox removes them
    assert [k["id"] for k in client.get(f"{SB}/firm3/keys").json()] == ["key1"]
    assert client.delete(f"{SB}/firm3").status_code == 204
    assert client.get(f"{SB}/firm3/keys").status_code == 404


def test_mqtt_devices_learn_of_refusals_on_their_error_topic(
    gateway: tuple[TestClient, int],
) -> None:
    client, port = gateway
    name = f"firm{uuid.uuid4().hex[:6]}"
    key = register(client, name, storage=2)
    revoked = client.post(f"{SB}/{name}/keys").json()["key"]
    client.post(
        "/iot/services", json={"services": [{"apikey": revoked}]}, headers={"fiware-service": name}
    )
    assert client.delete(f"{SB}/{name}/keys/key2").status_code == 204

    async def exchange() -> list[dict[str, Any]]:
        problems: list[dict[str, Any]] = []
        async with aiomqtt.Client("127.0.0.1", port, identifier=f"m-{uuid.uuid4().hex[:6]}") as c:
            await c.subscribe(f"/{revoked}/m1/errors", qos=1)
            await c.subscribe(f"/{key}/m1/errors", qos=1)
            await c.publish(f"/{revoked}/m1/attrs", b"e|1", qos=1)
            for n in range(6):  # storage for an entity and an instance, then refused
                await c.publish(f"/{key}/m1/attrs", f"e|{n}".encode(), qos=1)
                await asyncio.sleep(0.3)
            async with asyncio.timeout(10):
                async for message in c.messages:
                    assert isinstance(message.payload, bytes)
                    problems.append(orjson.loads(message.payload))
                    if len(problems) == 2:
                        return problems
        return problems

    kinds = {p["type"] for p in asyncio.run(exchange())}
    assert kinds == {"urn:dalgu:errors:Unauthorized", "urn:dalgu:errors:QuotaExceeded"}

"""Sandboxes: a firm's tenant with quotas, reset and deletion, isolated from the others."""

from __future__ import annotations

import logging

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
SB = "/testbed/sandboxes"
FIRM = {"fiware-service": "firm1"}


def group(client: TestClient, tenant: dict[str, str], apikey: str) -> None:
    body = {"services": [{"apikey": apikey, "entity_type": "Meter"}]}
    assert client.post("/iot/services", json=body, headers=tenant).status_code == 201


def test_sandbox_lifecycle_and_quotas(client: TestClient) -> None:
    created = client.post(
        SB, json={"name": "firm1", "quotas": {"devices": 2, "messages_per_second": 5}}
    )
    assert created.status_code == 201, created.text
    assert created.json()["quotas"] == {"devices": 2, "messages_per_second": 5}
    key = created.json()["apiKeys"][0]["key"]  # the group's apikey: the sandbox's own key
    assert client.post(SB, json={"name": "firm1"}).status_code == 409
    assert client.post(SB, json={"name": "Bad Name!"}).status_code == 400
    assert client.post(SB, json={"name": "x", "quotas": {"cpu": 1}}).status_code == 400
    assert [s["name"] for s in client.get(SB).json()] == ["firm1"]

    group(client, FIRM, key)
    devices = {"devices": [{"device_id": f"m{n}", "apikey": key} for n in range(3)]}
    over = client.post("/iot/devices", json=devices, headers=FIRM)
    assert over.status_code == 429 and over.json()["type"] == "urn:dalgu:errors:QuotaExceeded"
    two = {"devices": devices["devices"][:2]}
    assert client.post("/iot/devices", json=two, headers=FIRM).status_code == 201
    # a third device may not appear by autoprovisioning either
    assert client.post(f"/iot/d?k={key}&i=m9", content=b"e|1").status_code == 429

    answers = [client.post(f"/iot/d?k={key}&i=m0", content=b"e|1").status_code for _ in range(20)]
    assert answers[:5] == [200] * 5 and 429 in answers  # a burst of one second, then refused

    # another firm, no sandbox: no quota, and the first firm's data stays apart
    group(client, {"fiware-service": "firm2"}, "k-other")
    other = [client.post("/iot/d?k=k-other&i=o1", content=b"e|2").status_code for _ in range(20)]
    assert set(other) == {200}

    quotas = {"devices": 10, "messages_per_second": None}  # merged: a null lifts one
    raised = client.patch(f"{SB}/firm1", json={"quotas": quotas})
    assert raised.status_code == 200 and raised.json()["quotas"] == {"devices": 10}
    assert client.post(f"/iot/d?k={key}&i=m9", content=b"e|1").status_code == 200

    tenant = {"NGSILD-Tenant": "firm1"}
    assert client.get(E, params={"type": "Meter"}, headers=tenant).json() != []
    assert client.post(f"{SB}/firm1/reset").status_code == 204
    assert client.get(E, params={"type": "Meter"}, headers=tenant).json() == []
    assert client.get("/iot/devices", headers=FIRM).json()["count"] == 0
    assert client.get("/iot/services", headers=FIRM).json()["count"] == 0
    assert client.get(f"{SB}/firm1").status_code == 200
    assert client.get(E, params={"type": "Meter"}, headers={"NGSILD-Tenant": "firm2"}).json()

    assert client.delete(f"{SB}/firm1").status_code == 204
    assert client.get(f"{SB}/firm1").status_code == 404
    assert client.delete(f"{SB}/firm1").status_code == 404


def test_a_sandbox_over_a_tenant_holding_data_or_groups_is_refused_and_erases_nothing(
    client: TestClient,
) -> None:
    victim = {"fiware-service": "victim"}
    body = {
        "services": [
            {
                "apikey": "kv",
                "entity_type": "Meter",
                "resource": "/iot/d",
                "attributes": [{"object_id": "e", "name": "energy", "type": "Number"}],
            }
        ]
    }
    assert client.post("/iot/services", json=body, headers=victim).status_code == 201
    assert client.post(SB, json={"name": "victim"}).status_code == 409  # groups alone
    assert client.post("/iot/d?k=kv&i=m1", content=b"e|5").status_code == 200
    tenant = {"NGSILD-Tenant": "victim"}
    hall = {"id": "urn:ngsi-ld:Building:b1", "type": "Building", "name": "city hall"}
    assert client.post(E, json=hall, headers=tenant).status_code == 201

    refused = client.post(SB, json={"name": "victim"})
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["type"].endswith("AlreadyExists") and "victim" in problem["detail"]
    assert client.get(f"{SB}/victim").status_code == 404
    assert client.delete(f"{SB}/victim").status_code == 404
    assert client.post(f"{SB}/victim/reset").status_code == 404
    # the tenant's devices still send, and nothing of it was erased
    assert client.post("/iot/d?k=kv&i=m1", content=b"e|6").status_code == 200
    found = client.get(E, params={"type": "Meter,Building"}, headers=tenant).json()
    assert {e["id"] for e in found} == {"urn:ngsi-ld:Meter:m1", "urn:ngsi-ld:Building:b1"}
    assert client.get("/iot/services", headers=victim).json()["count"] == 1


def test_a_sandbox_over_a_tenant_holding_only_a_subscription_is_refused(
    client: TestClient,
) -> None:
    subscription = {
        "type": "Subscription",
        "entities": [{"type": "Meter"}],
        "notification": {"endpoint": {"uri": "http://127.0.0.1:9/n"}},
    }
    made = client.post(
        "/ngsi-ld/v1/subscriptions", json=subscription, headers={"NGSILD-Tenant": "watched"}
    )
    assert made.status_code == 201, made.text
    refused = client.post(SB, json={"name": "watched"})
    assert refused.status_code == 409 and "subscriptions" in refused.json()["detail"]
    assert client.post(SB, json={"name": "fresh"}).status_code == 201


def test_a_sandbox_key_is_not_written_to_the_log(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """From an outside test: every refused message logged the sandbox's key in clear, a key
    that is "shown once, stored hashed"."""
    created = client.post(SB, json={"name": "firm3"})
    key = created.json()["apiKeys"][0]["key"]
    group(client, {"fiware-service": "firm3"}, key)
    with caplog.at_level(logging.DEBUG, logger="dalgu"):
        refused = client.post(f"/iot/d?k={key}&i=m1", content=b"e|1|e")  # not key|value pairs
        assert refused.status_code == 400, refused.text
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refusals, "the refusal is still logged"
    assert any(key[:4] in line for line in refusals)
    assert not [r.getMessage() for r in caplog.records if key in r.getMessage()]

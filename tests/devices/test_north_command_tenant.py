"""A command PATCH on the provisioning port takes its tenant from `NGSILD-Tenant` first, then
`fiware-service`, as the IoT Agent library's NGSI-LD context server reads it and as a broker
forwarding a command sends it (outside tester iota-1)."""

from __future__ import annotations

import httpx

from dalgu.settings import Settings
from tests.ports import free_port, serving

E = "/ngsi-ld/v1/entities"
LAMP = "urn:ngsi-ld:Lamp:L2"


def _provision(north: str) -> None:
    device = {
        "device_id": "mq2",
        "entity_name": LAMP,
        "entity_type": "Lamp",
        "apikey": "k-lamp2",
        "transport": "HTTP",  # no endpoint: a polling device, whose commands wait
        "commands": [{"name": "dim", "type": "command"}],
    }
    fiware = {"fiware-service": "lampco", "fiware-servicepath": "/"}
    created = httpx.post(f"{north}/iot/devices", json={"devices": [device]}, headers=fiware)
    assert created.status_code == 201, created.text


def test_a_command_patch_with_ngsild_tenant_reaches_the_device(settings: Settings) -> None:
    with serving(settings, lambda: {"iot_north_port": free_port()}) as (client, configured):
        north = f"http://127.0.0.1:{configured.iot_north_port}"
        _provision(north)
        url = f"{north}/ngsi-ld/v1/entities/{LAMP}/attrs/dim"
        body = {"type": "Property", "value": {"level": 31}}
        sent = httpx.patch(url, json=body, headers={"NGSILD-Tenant": "lampco"})
        assert sent.status_code == 204, sent.text
        entity = client.get(f"{E}/{LAMP}", headers={"NGSILD-Tenant": "lampco"}).json()
        assert entity["dim_status"]["value"] == "PENDING"
        # NGSILD-Tenant is read before fiware-service; two tenants named are refused
        both = {"NGSILD-Tenant": "lampco", "fiware-service": "other"}
        refused = httpx.patch(url, json=body, headers=both)
        assert refused.status_code == 400 and "two tenants" in refused.text

"""A trailing slash on the gateway's own ports is no slash, as the IoT Agents' Express routing
takes it: the FIWARE tutorial's `DELETE /iot/services/?resource=…&apikey=…` deletes the group
(it was a 307 that a client without -L took for done; tutorials report #2)."""

from __future__ import annotations

import uuid

import httpx

from dalgu.settings import Settings
from tests.ports import free_port, serving

HEADERS = {"fiware-service": "openiot", "fiware-servicepath": "/"}


def test_provisioning_and_southbound_paths_take_a_trailing_slash(settings: Settings) -> None:
    def ports() -> dict[str, int]:
        return {"iot_north_port": free_port(), "iot_south_port": free_port()}

    apikey = f"k{uuid.uuid4().hex[:8]}"
    with serving(settings, ports) as (_, configured):
        north = f"http://127.0.0.1:{configured.iot_north_port}"
        south = f"http://127.0.0.1:{configured.iot_south_port}"
        group = {"apikey": apikey, "resource": "/iot/d", "entity_type": "Device"}
        created = httpx.post(f"{north}/iot/services/", json={"services": [group]}, headers=HEADERS)
        assert created.status_code == 201, created.text
        sent = httpx.post(f"{south}/iot/d/?k={apikey}&i=water002", content=b"s|1")
        assert sent.status_code == 200, sent.text
        listed = httpx.get(f"{north}/iot/devices/", headers=HEADERS)
        assert listed.status_code == 200 and listed.json()["count"] == 1
        one = httpx.get(f"{north}/iot/devices/water002/", headers=HEADERS)
        assert one.status_code == 200 and one.json()["device_id"] == "water002"
        params = {"resource": "/iot/d", "apikey": apikey}
        deleted = httpx.delete(f"{north}/iot/services/", params=params, headers=HEADERS)
        assert deleted.status_code == 204, deleted.text
        assert httpx.get(f"{north}/iot/services", headers=HEADERS).json()["count"] == 0


def test_the_iot_agent_paths_on_the_api_port_take_a_trailing_slash(settings: Settings) -> None:
    """The NGSI-LD port serves the provisioning API too: `DELETE /iot/services/` was a 307."""
    apikey = f"k{uuid.uuid4().hex[:8]}"
    with serving(settings, lambda: {}) as (client, _):
        group = {"apikey": apikey, "resource": "/iot/d", "entity_type": "Device"}
        created = client.post(
            "/iot/services/", json={"services": [group]}, headers=HEADERS, follow_redirects=False
        )
        assert created.status_code == 201, created.text
        params = {"resource": "/iot/d", "apikey": apikey}
        deleted = client.delete(
            "/iot/services/", params=params, headers=HEADERS, follow_redirects=False
        )
        assert deleted.status_code == 204, deleted.text
        assert client.get("/iot/services", headers=HEADERS).json()["count"] == 0

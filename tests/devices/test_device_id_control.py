"""A device id with a control character (NUL, say) is refused with a 400 naming `i`, on both
stores: it is no URI character (RFC 3986 2) and PostgreSQL text cannot hold NUL."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from dalgu.devices.provisioning import is_device_id

FIRM = {"fiware-service": "firm1"}


@pytest.mark.parametrize("device_id", ["\x00abc", "nul\x00lamp", "tab\there", "del\x7f"])
def test_a_control_character_is_no_device_id(device_id: str) -> None:
    assert not is_device_id(device_id)


def test_a_measure_from_a_device_id_holding_nul_is_a_400(client: TestClient) -> None:
    """docs/testbed.md: bad input "is refused (HTTP 400 …)"; it was a 500 on PostgreSQL and
    an entity whose id held U+0000 on SQLite."""
    group = {
        "apikey": "k-nul",
        "resource": "/iot/d",
        "entity_type": "AirQualityObserved",
        "attributes": [{"object_id": "p10", "name": "pm10", "type": "Number"}],
    }
    assert client.post("/iot/services", json={"services": [group]}, headers=FIRM).status_code == 201
    sent = client.post("/iot/d?k=k-nul&i=%00abc", content=b"p10|1")
    assert sent.status_code == 400, sent.text
    assert "device_id" in sent.json()["detail"]
    assert client.get("/iot/devices", headers=FIRM).json()["count"] == 0
    polled = client.get("/iot/d?k=k-nul&i=%00abc&getCmd=1")
    assert polled.status_code == 400, polled.text


def test_a_command_result_from_a_device_id_holding_nul_is_a_400(client: TestClient) -> None:
    answered = client.post("/iot/d/commands?k=k-nul&i=a%00b", content=b"a\x00b@ring|ok")
    assert answered.status_code == 400, answered.text

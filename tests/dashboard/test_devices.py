"""The dashboard's devices: what the gateway provisioned in the tenant, the entity each
writes, its messages stored and refused, and when its entity last changed."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.dashboard.html import parse
from tests.dashboard.test_dashboard import page, section
from tests.devices.test_gateway_http import provision_group


def test_the_gateways_devices_with_their_messages(client: TestClient) -> None:
    # a config group of FIWARE service `acme` (the tenant), mapping `t` to `temperature`
    provision_group(client, apikey="plant-key", resource="/iot/json", entity_type="Thermometer")
    for body in (b'{"t": 21.5}', b'{"t": 22.0, "TimeInstant": "2026-12-05T10:00:00Z"}'):
        sent = client.post("/iot/json?k=plant-key&i=thermo-1", content=body)
        assert sent.status_code == 200, sent.text
    refused = client.post("/iot/json?k=plant-key&i=thermo-1", content=b'{"t": ')
    assert refused.status_code == 400
    assert client.post("/iot/json?k=plant-key&i=thermo-2", content=b'{"t": 19}').status_code == 200

    doc = page(client, "?lang=en&tenant=acme")
    rows = {row[0]: row for row in section(doc, "devices-heading").first("table").rows()}
    assert set(rows) == {"thermo-1", "thermo-2"}
    one = rows["thermo-1"]
    assert one[1:3] == ["urn:ngsi-ld:Thermometer:thermo-1", "Thermometer"]
    assert one[4:6] == ["2", "1"]  # stored, refused
    assert one[6].endswith(" KST")
    assert rows["thermo-2"][4:6] == ["1", "0"]
    caption = section(doc, "devices-heading").first("caption").text
    assert "(2 of 2)" in caption
    # another tenant has no devices, and no section
    other = parse(client.get("/dashboard?lang=en&tenant=elsewhere").text)
    assert not [
        s for s in other.iter("section") if s.attrs.get("aria-labelledby") == "devices-heading"
    ]

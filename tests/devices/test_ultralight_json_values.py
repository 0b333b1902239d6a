"""UltraLight values are read as JSON where they parse, as iotagent-ul reads them since 3.0.0
(`JSON.parse`, falling back to the text): `t|2.15` is the number 2.15, so `t + 1` is 3.15, not
"2.151"; unmapped numbers, booleans and objects are stored as such (outside tester iota-19)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from dalgu.gateway.ultralight import parse_command_result, parse_measures
from tests.devices.conftest import provision_lamp

E = "/ngsi-ld/v1/entities"
UL = {"Content-Type": "text/plain"}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2.15", 2.15),
        ("5", 5),
        ("-3", -3),
        ("1e3", 1000.0),
        ("true", True),
        ("false", False),
        ("null", None),
        ('{"k":"v"}', {"k": "v"}),
        ("[1,2]", [1, 2]),
        ('"a b"', "a b"),
        ("abc", "abc"),
        ("007", "007"),  # JSON has no leading zeros: text, as JSON.parse throws
        ("0x10", "0x10"),
        ("1.2,3.4", "1.2,3.4"),
        ("NaN", "NaN"),
        ("1e400", "1e400"),
        ("2026-12-01T10:00:00Z", "2026-12-01T10:00:00Z"),
    ],
)
def test_an_ultralight_value_is_its_json_where_it_parses_else_its_text(
    text: str, value: Any
) -> None:
    assert parse_measures(f"m|{text}")[0].values == {"m": value}


def test_a_command_result_is_read_as_json_where_it_parses() -> None:
    assert parse_command_result('am1@ping|{"ok":1}').result == {"ok": 1}
    assert parse_command_result("am1@ping|pong").result == "pong"


def test_expressions_and_unmapped_measures_see_ultralight_values_as_json(
    client: TestClient,
) -> None:
    group = {
        "apikey": "kux",
        "resource": "/iot/d",
        "entity_type": "UX",
        "attributes": [
            {"object_id": "t", "name": "plus", "type": "Number", "expression": "t + 1"},
            {"name": "times", "type": "Number", "expression": "t * 10"},
            {"name": "typ", "type": "Text", "expression": "t|typeof"},
            {"name": "ot", "type": "Text", "expression": "o.k"},
            {"name": "yes", "type": "Boolean", "expression": "b == true"},
        ],
    }
    assert client.post("/iot/services", json={"services": [group]}).status_code == 201
    sent = client.post("/iot/d?k=kux&i=u1", content=b't|2.15|b|true|o|{"k":"v"}|n|5', headers=UL)
    assert sent.status_code == 200, sent.text
    entity = client.get(f"{E}/urn:ngsi-ld:UX:u1").json()
    assert entity["plus"]["value"] == 3.15
    assert entity["times"]["value"] == 21.5
    assert entity["typ"]["value"] == "number"
    assert entity["ot"]["value"] == "v"
    assert entity["yes"]["value"] is True
    assert entity["b"]["value"] is True
    assert entity["o"]["value"] == {"k": "v"}
    assert entity["n"]["value"] == 5


def test_a_polled_commands_result_is_stored_as_its_json(client: TestClient) -> None:
    entity_id = provision_lamp(client, "kuxr")
    assert client.patch(f"{E}/{entity_id}/attrs/switch", json={"value": "on"}).status_code == 204
    assert client.get("/iot/d?k=kuxr&i=lamp1&getCmd=1").status_code == 200
    answered = client.post("/iot/d/commands?k=kuxr&i=lamp1", content=b'lamp1@switch|{"ok":1}')
    assert answered.status_code == 200, answered.text
    entity = client.get(f"{E}/{entity_id}").json()
    assert entity["switch_status"]["value"] == "OK"
    assert entity["switch_info"]["value"] == {"ok": 1}


def test_an_ultralight_geojson_or_coordinate_array_is_a_geoproperty(client: TestClient) -> None:
    """Outside tester iota-12: a `geo:json` measure carrying a GeoJSON geometry, or an array
    `[lon, lat]`, as iotagent-ul writes it."""
    group = {
        "apikey": "kgj",
        "resource": "/iot/d",
        "entity_type": "G12",
        "attributes": [{"object_id": "j", "name": "gj", "type": "geo:json"}],
    }
    assert client.post("/iot/services", json={"services": [group]}).status_code == 201
    point = b'j|{"type":"Point","coordinates":[1,2]}'
    assert client.post("/iot/d?k=kgj&i=g3", content=point, headers=UL).status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:G12:g3").json()
    assert entity["gj"]["type"] == "GeoProperty"
    assert entity["gj"]["value"] == {"type": "Point", "coordinates": [1, 2]}
    assert client.post("/iot/d?k=kgj&i=g4", content=b"j|[3,4]", headers=UL).status_code == 200
    assert client.get(f"{E}/urn:ngsi-ld:G12:g4").json()["gj"]["value"]["coordinates"] == [3, 4]

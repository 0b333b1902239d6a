"""Provisioning (IoT Agent field names) and the measure → NGSI-LD entity mapping."""

from __future__ import annotations

from typing import Any

import pytest

from dalgu.broker.parse import parse_entity
from dalgu.devices.mapping import attribute, bind, measures_to_entity
from dalgu.devices.provisioning import parse_devices, parse_groups
from dalgu.errors import BadRequestData, PayloadError
from dalgu.gateway.ultralight import parse_measures
from dalgu.ldcontext import ContextResolver

GROUP = {
    "services": [
        {
            "apikey": "4jggokgpepnvsb2uv4s40d59ov",
            "cbroker": "http://orion:1026",  # as FIWARE's tutorials write it: kept, not used
            "entity_type": "Thing",
            "resource": "/iot/d",
            "attributes": [{"object_id": "t", "name": "temperature", "type": "Number"}],
            "static_attributes": [{"name": "category", "type": "Text", "value": "sensor"}],
        }
    ]
}
DEVICE: dict[str, Any] = {
    "devices": [
        {
            "device_id": "motion001",
            "entity_name": "urn:ngsi-ld:Motion:001",
            "entity_type": "Motion",
            "transport": "HTTP",
            "attributes": [
                {"object_id": "c", "name": "count", "type": "Integer"},
                {"object_id": "gps", "name": "location", "type": "geo:point"},
                {"object_id": "on", "name": "active", "type": "Boolean"},
                {
                    "object_id": "t",
                    "name": "temperature",
                    "type": "Number",
                    "metadata": {"unitCode": {"type": "Text", "value": "CEL"}},
                },
            ],
            "static_attributes": [
                {"name": "refStore", "type": "Relationship", "value": "urn:ngsi-ld:Store:001"}
            ],
        }
    ]
}


def group() -> Any:
    return parse_groups(GROUP)[0]


def test_unknown_provisioning_fields_are_refused_with_their_path() -> None:
    with pytest.raises(BadRequestData, match=r"services\[0\]\.colour"):
        parse_groups({"services": [{**GROUP["services"][0], "colour": "red"}]})
    with pytest.raises(BadRequestData, match=r"devices\[0\]\.device_id"):
        parse_devices({"devices": [{"device_id": "a/b"}]})
    with pytest.raises(BadRequestData, match="non-empty 'devices'"):
        parse_devices({"devices": []})


def test_device_measures_become_a_typed_ngsi_ld_entity() -> None:
    device = parse_devices(DEVICE)[0]
    binding = bind(group(), device, "motion001")
    (measures,) = parse_measures("c|3|gps|128.6,35.87|on|1|t|21.5|x|raw")
    entity = measures_to_entity(binding, measures.values, observed_at="2026-11-25T08:00:00Z")
    stamp = {"observedAt": "2026-11-25T08:00:00Z"}
    assert entity == {
        "id": "urn:ngsi-ld:Motion:001",
        "type": "Motion",
        "count": {"type": "Property", "value": 3, **stamp},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [128.6, 35.87]},
            **stamp,
        },
        "active": {"type": "Property", "value": True, **stamp},
        "temperature": {"type": "Property", "value": 21.5, "unitCode": "CEL", **stamp},
        "x": {"type": "Property", "value": "raw", **stamp},
        "category": {"type": "Property", "value": "sensor"},
        "refStore": {"type": "Relationship", "object": "urn:ngsi-ld:Store:001"},
    }
    resolver = ContextResolver()
    parsed = parse_entity(entity, resolver.core, "2026-11-25T08:00:01Z")  # the broker accepts it
    assert parsed["id"] == "urn:ngsi-ld:Motion:001"


def test_autoprovisioned_device_takes_the_group_template() -> None:
    binding = bind(group(), None, "sensor7")
    assert binding.entity_id == "urn:ngsi-ld:Thing:sensor7"
    entity = measures_to_entity(binding, {"t": "19", "id": "7"})
    assert entity["temperature"] == {"type": "Property", "value": 19.0}
    assert entity["measure_id"] == {"type": "Property", "value": "7"}


def test_explicit_attrs_drops_unmapped_measures() -> None:
    body = {"services": [{**GROUP["services"][0], "explicitAttrs": True}]}
    binding = bind(parse_groups(body)[0], None, "s1")
    entity = measures_to_entity(binding, {"t": 1, "noise": 3}, with_static=False)
    assert set(entity) == {"id", "type", "temperature"}


@pytest.mark.parametrize(
    ("measures", "message"),
    [
        ({"c": "three"}, "not a number"),
        ({"c": "2.5"}, "not an integer"),
        ({"on": "maybe"}, "not a boolean"),
        ({"gps": "north"}, 'not "lon,lat"'),
        ({"gps": "0,91"}, 'not "lon,lat"'),
        ({"gps": "35.87,128.6"}, 'not "lon,lat"'),  # latitude first: off the globe
        ({"t": "nan"}, "not a number"),
    ],
)
def test_values_that_do_not_fit_their_type_are_payload_errors(
    measures: dict[str, str], message: str
) -> None:
    binding = bind(group(), parse_devices(DEVICE)[0], "motion001")
    with pytest.raises(PayloadError, match=message):
        measures_to_entity(binding, measures)


def test_the_agents_documented_fields_are_accepted_and_kept() -> None:
    fields = {"storeLastMeasure": True, "useCBflowControl": False, "cmdMode": "notification"}
    internal = {"lorawan": {"application_server": {"host": "127.0.0.1"}}}
    group = parse_groups(
        {"services": [{"apikey": "k1", **fields, "internal_attributes": internal}]}
    )[0]
    assert group.model_dump(include=set(fields)) == fields
    assert group.internal_attributes == internal
    device = parse_devices(
        {"devices": [{"device_id": "d1", **fields, "lastMeasure": {}, "internal_attributes": [1]}]}
    )[0]
    assert device.cmdMode == "notification" and device.lastMeasure == {}
    with pytest.raises(BadRequestData, match="cmdMode"):
        parse_groups({"services": [{"apikey": "k1", "cmdMode": "shout"}]})


@pytest.mark.parametrize(
    ("field", "group", "position"),
    [
        (
            "attributes[1].expression",
            {"attributes": [{"name": "a"}, {"object_id": "t", "name": "t", "expression": "t*"}]},
            "end of input at position 2",
        ),
        (
            "attributes[0].metadata.unit.expression",
            {"attributes": [{"name": "a", "metadata": {"unit": {"expression": "(1"}}}]},
            "end of input at position 2",
        ),
        ("entityNameExp", {"entityNameExp": '"urn:ngsi-ld:Room:" + room)'}, "')' at position 26"),
        ("explicitAttrs", {"explicitAttrs": "['temperature'"}, "end of input at position 14"),
        (
            "explicitAttrs",
            {"explicitAttrs": "a|nosuch"},
            "unknown transform 'nosuch' at position 2",
        ),
    ],
)
def test_invalid_jexl_is_refused_naming_the_field_and_position(
    field: str, group: dict[str, Any], position: str
) -> None:
    with pytest.raises(BadRequestData) as refused:
        parse_groups({"services": [{"apikey": "k1", **group}]})
    detail = refused.value.detail
    assert detail.startswith(f"services[0].{field} is not a valid JEXL expression: ")
    assert position in detail


def test_valid_jexl_fields_are_accepted() -> None:
    group = {
        "apikey": "k1",
        "entityNameExp": '"urn:ngsi-ld:Room:" + room',
        "explicitAttrs": "['temperature', {object_id: 't'}]",
        "attributes": [{"object_id": "t", "name": "temperature", "expression": "t * 10"}],
    }
    assert parse_groups({"services": [group]})[0].entityNameExp == '"urn:ngsi-ld:Room:" + room'
    device = {"device_id": "d1", "attributes": [{"name": "a", "expression": "a|trim"}]}
    assert parse_devices({"devices": [device]})[0].attributes[0].expression == "a|trim"


@pytest.mark.parametrize("kind", ["commands", "lazy"])
def test_expressions_of_commands_and_lazy_attributes_are_refused_by_name(kind: str) -> None:
    body = {"devices": [{"device_id": "d1", kind: [{"name": "a", "expression": "a*2"}]}]}
    with pytest.raises(BadRequestData) as refused:
        parse_devices(body)
    detail = refused.value.detail
    assert detail.startswith(f"devices[0].{kind}[0].expression: ")
    assert "active attributes only" in detail


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("geo:point", "13.3505, 52.5144"),
        ("GeoProperty", [13.3505, 52.5144]),
        ("Point", ["13.3505", "52.5144"]),
        ("geo:json", [["13.3505, 52.5144"]]),
    ],
)
def test_a_point_is_read_from_text_or_an_array_longitude_first(kind: str, value: object) -> None:
    assert attribute(kind, value, "location") == {
        "type": "GeoProperty",
        "value": {"type": "Point", "coordinates": [13.3505, 52.5144]},
    }


@pytest.mark.parametrize("value", [[1.0], [1, 2, 3], [True, 1], ["a", "b"], 7, None])
def test_an_array_that_makes_no_point_is_a_payload_error(value: object) -> None:
    with pytest.raises(PayloadError, match='not "lon,lat"'):
        attribute("GeoProperty", value, "location")

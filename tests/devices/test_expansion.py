"""Device measures written straight to the expanded form equal what the general path gives."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from dalgu.broker.parse import parse_entity
from dalgu.devices.expansion import ExpandedBinding
from dalgu.devices.mapping import DeviceBinding, bind, measures_to_entity
from dalgu.devices.provisioning import parse_devices, parse_groups
from dalgu.errors import DalguError
from dalgu.ldcontext import ContextResolver

NOW = "2026-12-03T20:00:00.000Z"
TERMS = ContextResolver().core
GROUP: dict[str, Any] = {
    "apikey": "k1",
    "entity_type": "AirQualityObserved",
    "attributes": [
        {
            "object_id": "t",
            "name": "temperature",
            "type": "Number",
            "metadata": {"unitCode": {"type": "Text", "value": "CEL"}},
        },
        {"object_id": "c", "name": "count", "type": "Integer"},
        {"object_id": "on", "name": "active", "type": "Boolean"},
        {"object_id": "s", "name": "status", "type": "Text"},
        {"object_id": "p", "name": "occupancy", "type": "Percentage"},
        {"object_id": "d", "name": "description"},  # the default type
        {
            "object_id": "no2",
            "name": "NO2",
            "type": "Number",
            "metadata": {
                "accuracy": {"type": "Number", "value": 0.5},
                "unitCode": "GQ",
                "observedAt": {"type": "DateTime", "value": "2020-01-01T00:00:00Z"},
                "https://example.org/method": "chemiluminescence",
            },
        },
        {"object_id": "lvl", "name": "level", "type": "Integer", "skipValue": "-1"},
        {"object_id": "gps", "name": "location", "type": "geo:point"},
        {"object_id": "r", "name": "refStation", "type": "Relationship"},
        {"object_id": "at", "name": "calibratedAt", "type": "DateTime"},
        {"object_id": "words", "name": "label", "type": "LanguageProperty"},
        {"object_id": "bad", "name": "bad name", "type": "Number"},
        {"object_id": "m", "name": "meta", "type": "Text", "metadata": {"datasetId": "x"}},
    ],
    "static_attributes": [{"name": "category", "type": "Text", "value": "air"}],
    "lazy": [{"object_id": "fw", "name": "firmware", "type": "Text"}],
}


def binding(**changes: Any) -> DeviceBinding:
    return bind(parse_groups({"services": [{**GROUP, **changes}]})[0], None, "station1")


def general(bound: DeviceBinding, values: dict[str, Any], observed: str | None) -> Any:
    try:
        fragment = measures_to_entity(bound, values, observed_at=observed, with_static=False)
        return parse_entity(fragment, TERMS, NOW)
    except DalguError as error:
        return error


def expanded(bound: DeviceBinding, values: dict[str, Any], observed: str | None) -> Any:
    try:
        return ExpandedBinding(bound, TERMS).entity(values, observed, NOW)
    except DalguError as error:
        return error


OBSERVED = "2026-12-03T19:59:58.120Z"
# measures the expanded form takes itself
DIRECT = [
    ({"t": "21.5"}, None),
    ({"t": "21.5", "c": "3", "on": "1", "s": "ok"}, OBSERVED),
    ({"t": 21, "c": 3.0, "on": False, "s": 7}, OBSERVED),  # JSON payload values
    ({"on": "false", "p": "40", "d": "north gate"}, "2026-12-03T21:00:00+09:00"),
    ({"no2": "41.2"}, OBSERVED),  # unit code and sub-attributes, in their provisioned order
    ({"lvl": "-1", "t": "2"}, None),  # skipValue
    ({"lvl": "4"}, OBSERVED),
    ({"noise": "52", "id": "7", "type": "x"}, OBSERVED),  # unmapped: kept as sent, renamed
    ({"fw": "1.2", "t": "3"}, None),  # a lazy attribute is not stored
    ({}, None),
]
# measures left to the general path
GENERAL = [
    ({"gps": "128.6,35.87", "t": "1"}, OBSERVED),
    ({"gps": "north"}, None),
    ({"r": "urn:ngsi-ld:Station:1"}, None),
    ({"at": "2026-12-01T00:00:00Z"}, None),
    ({"words": {"en": "clean"}}, None),
    ({"bad": "1"}, None),
    ({"m": "x"}, None),
    ({"s": None}, None),
    ({"s": {"nested": [1, 2]}}, None),
    ({"s": [1, 2]}, None),
    ({"t": "1"}, "yesterday"),
    ({"location": "1"}, None),  # an unmapped measure on a GeoProperty name
    ({"bad name": "1"}, None),
    ({"c": "2.5"}, None),  # values that do not fit: the general path leaves them out
    ({"t": "nan"}, None),
    ({"on": "maybe"}, None),
    ({"t": True}, None),
]


@pytest.mark.parametrize(("values", "observed"), DIRECT)
def test_expanded_measures_equal_the_general_path(
    values: dict[str, Any], observed: str | None
) -> None:
    bound = binding()
    fast, slow = expanded(bound, values, observed), general(bound, values, observed)
    assert fast is not None, "expected to be written without the general path"
    if isinstance(slow, DalguError):
        assert type(fast) is type(slow) and str(fast) == str(slow)
    else:  # the same entity, members in the same order
        assert orjson.dumps(fast) == orjson.dumps(slow)


@pytest.mark.parametrize(("values", "observed"), GENERAL)
def test_measures_the_expanded_form_does_not_take_go_the_general_way(
    values: dict[str, Any], observed: str | None
) -> None:
    assert expanded(binding(), values, observed) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"explicitAttrs": True},
        {"explicitAttrs": ["temperature", "noise"]},
        {"entity_type": "Thing", "timestamp": True},
    ],
)
def test_explicit_attrs_select_the_same_measures(changes: dict[str, Any]) -> None:
    bound = binding(**changes)
    values = {"t": "20", "c": "1", "noise": "40", "other": "x"}
    fast = expanded(bound, values, OBSERVED)
    assert fast is not None
    assert orjson.dumps(fast) == orjson.dumps(general(bound, values, OBSERVED))


def test_a_device_provisioning_overrides_its_group_the_same_way() -> None:
    device = parse_devices(
        {
            "devices": [
                {
                    "device_id": "station1",
                    "entity_name": "urn:ngsi-ld:AirQualityObserved:Daegu-1",
                    "attributes": [
                        {
                            "object_id": "t",
                            "name": "airTemperature",
                            "type": "Integer",
                            "metadata": {"unitCode": "CEL"},
                        }
                    ],
                    "static_attributes": [{"name": "district", "value": "Jung-gu"}],
                }
            ]
        }
    )[0]
    bound = bind(parse_groups({"services": [GROUP]})[0], device, "station1")
    values = {"t": "21", "c": "4"}
    fast = expanded(bound, values, OBSERVED)
    assert fast is not None and fast["id"] == "urn:ngsi-ld:AirQualityObserved:Daegu-1"
    assert orjson.dumps(fast) == orjson.dumps(general(bound, values, OBSERVED))


def test_an_entity_id_the_parser_refuses_goes_the_general_way() -> None:
    device = parse_devices({"devices": [{"device_id": "s2", "entity_name": "not a uri"}]})[0]
    bound = bind(parse_groups({"services": [GROUP]})[0], device, "s2")
    assert expanded(bound, {"t": "1"}, None) is None
    assert isinstance(general(bound, {"t": "1"}, None), DalguError)

"""Measure transformation: a binding's JEXL expressions applied to a measure group, with the
results iotagent-node-lib's functional test cases (test/functional/testCases.js) expect of an
NGSI-LD agent."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from dalgu.devices.mapping import DeviceBinding, bind, measures_to_entity
from dalgu.devices.provisioning import parse_devices, parse_groups
from dalgu.devices.transformation import MeasureTransformation


def binding(device: dict[str, Any] | None = None, **group: Any) -> DeviceBinding:
    template = parse_groups({"services": [{"apikey": "k1", "entity_type": "TestType", **group}]})
    owned = parse_devices({"devices": [device]})[0] if device is not None else None
    return bind(template[0], owned, "TestDevice", service="smartgondor", service_path="/gardens")


def mapped(bound: DeviceBinding, values: dict[str, Any]) -> dict[str, Any]:
    """The entity fragment the measures give, attribute values only."""
    transformation = MeasureTransformation.of(bound)
    assert transformation is not None
    out, target = transformation.apply(values)
    entity = measures_to_entity(target, out)
    return {k: v.get("value", v) if isinstance(v, dict) else v for k, v in entity.items()}


def one(expression: str, kind: str = "Text") -> DeviceBinding:
    return binding(
        attributes=[{"object_id": "a", "name": "attr_a", "type": kind, "expression": expression}]
    )


@pytest.mark.parametrize(
    ("expression", "kind", "measures", "expected"),
    [
        # 0100: !a
        ("!a", "Boolean", {"a": False}, True),
        ("!a", "Boolean", {"a": 3}, False),
        ("!a", "Boolean", {"a": "abcd"}, False),
        ("!a", "Boolean", {"b": 1}, True),
        # 0110: a+3
        ("a+3", "Number", {"a": True}, 4),
        ("a+3", "Number", {"a": False}, 3),
        ("a+3", "Number", {"a": -7}, -4),
        ("a+3", "Text", {"a": "abcd"}, "abcd3"),
        # 0120: a*3
        ("a*3", "Number", {"a": 10}, 30),
        ("a*3", "Number", {"a": "5"}, 15),
        # 0130: a|substr(0,3)
        ("a|substr(0,3)", "Text", {"a": True}, "tru"),
        ("a|substr(0,3)", "Text", {"a": "abcd"}, "abc"),
        ("a|substr(0,3)", "Text", {"b": 1}, "und"),
        # 0140
        (
            'a | trim | replacestr("hello","hi")',
            "Text",
            {"a": " Say hello and smile "},
            "Say hi and smile",
        ),
    ],
)
def test_an_attribute_expression_gives_the_agents_value(
    expression: str, kind: str, measures: dict[str, Any], expected: Any
) -> None:
    got = mapped(one(expression, kind), measures)
    assert got["attr_a"] == expected and type(got["attr_a"]) is type(expected)


@pytest.mark.parametrize(
    ("expression", "measures"),
    [
        ("a+3", {"b": 1}),  # NaN: 0110 E
        ("a*3", {"b": 1}),  # 0120 E
        ("nothing", {"a": 1}),  # undefined
        ("a[0]", {"b": 1}),  # fails: a member of undefined
        ("a|split(',')", {"a": 5}),  # fails: a number has no split
    ],
)
def test_an_expression_without_a_value_leaves_its_attribute_out(
    expression: str, measures: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "dalgu.devices.transformation"):
        got = mapped(one(expression, "Number"), {**measures, "c": 1})
    assert "attr_a" not in got and got["c"] == 1  # the message's other measures are stored
    assert "attr_a" in caplog.text


def test_a_failure_is_logged_once_per_binding(caplog: pytest.LogCaptureFixture) -> None:
    transformation = MeasureTransformation.of(one("a|split(',')", "Text"))
    assert transformation is not None
    with caplog.at_level(logging.WARNING, "dalgu.devices.transformation"):
        for _ in range(3):
            out, _ = transformation.apply({"a": 5})
            assert "a" not in out
    records = [r for r in caplog.records if r.name == "dalgu.devices.transformation"]
    assert len(records) == 1
    assert records[0].device == "TestDevice" and records[0].field == "attribute 'attr_a'"  # type: ignore[attr-defined]


def test_a_value_that_does_not_fit_the_type_leaves_the_attribute_out() -> None:
    got = mapped(one("a+3", "Number"), {"a": "abcd"})  # "abcd3" is no Number
    assert "attr_a" not in got


def test_expressions_read_earlier_results_in_provisioning_order() -> None:
    bound = binding(
        attributes=[
            {"object_id": "a", "name": "attr_a", "type": "Number", "expression": "a*10"},
            {"object_id": "b", "name": "attr_b", "type": "Number", "expression": "attr_a*10"},
        ]
    )
    assert mapped(bound, {"a": 3}) == {
        "id": "urn:ngsi-ld:TestType:TestDevice",
        "type": "TestType",
        "attr_a": 30,
        "attr_b": 300,
    }


def test_expressions_read_static_attributes_and_the_device_context() -> None:
    bound = binding(
        attributes=[
            {"object_id": "a", "name": "attr_a", "type": "Number", "expression": "a*coef"},
            {
                "object_id": "c",
                "name": "attr_c",
                "type": "Text",
                "expression": 'c+":"+service+subservice+id+type',
            },
            {"name": "where", "type": "Text", "expression": "entity_name"},
        ],
        static_attributes=[{"name": "coef", "type": "Number", "value": 1.5}],
    )
    got = mapped(bound, {"a": 6, "c": "text"})
    assert got["attr_a"] == 9  # 0160
    assert got["attr_c"] == "text:smartgondor/gardensTestDeviceTestType"  # 0170
    assert got["where"] == "urn:ngsi-ld:TestType:TestDevice"
    assert got["coef"] == 1.5


def test_multiple_expressions_at_once() -> None:
    """0180."""
    bound = binding(
        attributes=[
            {"object_id": "a", "name": "attr_a", "type": "Boolean", "expression": "!a"},
            {"object_id": "b", "name": "attr_b", "type": "Integer", "expression": "b+1"},
            {"object_id": "d", "name": "attr_d", "type": "Float", "expression": "d/2+attr_b"},
            {
                "object_id": "e",
                "name": "attr_e",
                "type": "Array",
                "expression": "e|concatarr([3,4])",
            },
            {
                "object_id": "f",
                "name": "attr_f",
                "type": "Object",
                "expression": '{coordinates: [f.a,f.b], type: "Point"}',
            },
        ]
    )
    got = mapped(bound, {"a": False, "b": 10, "d": 10.5, "e": [1, 2], "f": {"a": 1, "b": 2}})
    assert got["attr_a"] is True and got["attr_b"] == 11 and got["attr_d"] == 16.25
    assert got["attr_e"] == [1, 2, 3, 4]
    assert got["attr_f"] == {"coordinates": [1, 2], "type": "Point"}


def test_expressions_address_structured_static_values_and_metadata() -> None:
    """0175, 0190, 0191."""
    bound = binding(
        attributes=[
            {
                "object_id": "a",
                "name": "attr_a",
                "type": "Number",
                "expression": "a*st_attr*metadata.st_attr.coef",
                "metadata": {"unit": {"type": "Text", "expression": '"hola" + "adios"'}},
            },
            {
                "object_id": "b",
                "name": "attr_b",
                "type": "Number",
                "expression": "b?threshold[90|tostring].max:0",
            },
        ],
        static_attributes=[
            {
                "name": "st_attr",
                "type": "Number",
                "value": 1.5,
                "metadata": {"coef": {"value": 0.8, "type": "Float"}},
            },
            {"name": "threshold", "type": "Object", "value": {"90": {"max": 10, "min": 1}}},
        ],
    )
    transformation = MeasureTransformation.of(bound)
    assert transformation is not None
    out, target = transformation.apply({"a": 33, "b": True})
    entity = measures_to_entity(target, out)
    assert entity["attr_a"]["value"] == pytest.approx(39.6)
    assert entity["attr_a"]["unit"] == {"type": "Property", "value": "holaadios"}
    assert entity["attr_b"]["value"] == 10


def test_entity_name_expression_names_the_entity_written() -> None:
    bound = binding(
        entityNameExp="id + '__' + sn",
        attributes=[{"object_id": "sn", "name": "serialNumber", "type": "Text"}],
    )
    got = mapped(bound, {"sn": "ABCDEF", "t": 1})
    assert got["id"] == "urn:ngsi-ld:TestType:TestDevice__ABCDEF"
    urn = binding(entityNameExp="'urn:ngsi-ld:Room:' + room")
    assert mapped(urn, {"room": "r1"})["id"] == "urn:ngsi-ld:Room:r1"
    # undefined is text when added to text, as in the agents
    assert mapped(urn, {"t": 1})["id"] == "urn:ngsi-ld:Room:undefined"
    # an expression that fails or gives nothing keeps the device's own entity
    failing = binding(entityNameExp="room[0]")
    assert mapped(failing, {"t": 1})["id"] == "urn:ngsi-ld:TestType:TestDevice"
    not_a_uri = binding(entityNameExp="'a b'")
    assert mapped(not_a_uri, {"t": 1})["id"] == "urn:ngsi-ld:TestType:TestDevice"


@pytest.mark.parametrize(
    ("explicit", "expected"),
    [
        ("['attr_a','static_a']", {"attr_a", "static_a"}),  # 0530
        ("[ ]", set()),  # 0531
        ("['attr_a', {object_id: 'b'}]", {"attr_a", "attr_b"}),
        ("a > 5", {"attr_a", "attr_b", "static_a"}),  # true: mapped measures only
        ("a > 50", {"attr_a", "attr_b", "static_a", "free"}),  # false: every measure
        ("a.b.c[0]", {"attr_a", "attr_b", "static_a", "free"}),  # fails: false, as the agents
    ],
)
def test_explicit_attrs_as_an_expression(explicit: str, expected: set[str]) -> None:
    bound = binding(
        explicitAttrs=explicit,
        attributes=[
            {"object_id": "a", "name": "attr_a", "type": "Number"},
            {"object_id": "b", "name": "attr_b", "type": "Number"},
        ],
        static_attributes=[{"name": "static_a", "type": "Number", "value": 1}],
    )
    transformation = MeasureTransformation.of(bound)
    assert transformation is not None
    out, target = transformation.apply({"a": 10, "b": 2, "free": 3})
    measures = set(measures_to_entity(target, out, with_static=False)) - {"id", "type"}
    chosen = target.explicit
    statics = {
        s.name for s in target.static if not isinstance(chosen, frozenset) or s.name in chosen
    }
    assert measures | statics == expected


def test_a_binding_without_expressions_has_no_transformation() -> None:
    assert MeasureTransformation.of(binding(attributes=[{"object_id": "t", "name": "t"}])) is None
    assert MeasureTransformation.of(binding(explicitAttrs="true")) is None


def test_a_device_expression_overrides_its_groups() -> None:
    device = {
        "device_id": "TestDevice",
        "attributes": [{"object_id": "a", "name": "attr_a", "expression": "a*2"}],
    }
    bound = binding(device, attributes=[{"object_id": "a", "name": "attr_a", "expression": "a*3"}])
    assert mapped(bound, {"a": 5})["attr_a"] == 10


@pytest.mark.parametrize(
    ("measures", "expected"),
    [
        ({"a": 1, "b": 2, "c": 3, "d": 4}, {"attr_a", "attr_b"}),  # 0550 A
        ({"a": 1, "c": 3, "d": 4}, {"attr_a", "static_b"}),  # B
        ({"b": 2, "c": 3, "d": 4}, {"attr_b"}),  # C: 'c' names no attribute
        ({"c": 3, "d": 4}, {"static_a", "static_b"}),  # D: unmapped 'd' is dropped, listed or not
    ],
)
def test_explicit_attrs_expression_picking_by_case(
    measures: dict[str, Any], expected: set[str]
) -> None:
    """0550: the list is evaluated per message; only provisioned attributes are written."""
    bound = binding(
        explicitAttrs="(a&&b)?['attr_a','attr_b']:a?['attr_a','static_b']:b?[{object_id:'b'},'c']"
        ":['static_a','static_b','d','c']",
        attributes=[
            {"name": "attr_a", "object_id": "a", "type": "Number"},
            {"name": "attr_b", "object_id": "b", "type": "Number"},
        ],
        static_attributes=[
            {"name": "static_a", "type": "Number", "value": 3},
            {"name": "static_b", "type": "Number", "value": 4},
        ],
    )
    transformation = MeasureTransformation.of(bound)
    assert transformation is not None
    out, target = transformation.apply(measures)
    written = set(measures_to_entity(target, out, with_static=False)) - {"id", "type"}
    assert isinstance(target.explicit, frozenset)
    statics = {s.name for s in target.static if s.name in target.explicit}
    assert written | statics == expected


def test_entity_name_expression_reads_measures_and_static_attributes() -> None:
    """0700: `type+":"+(t*2*static_a)`, amended to a URN as the NGSI-LD agent does."""
    bound = binding(
        entityNameExp='type+":"+(t*2*static_a)',
        attributes=[{"object_id": "t", "name": "temperature", "type": "Number"}],
        static_attributes=[{"name": "static_a", "type": "Number", "value": 3}],
    )
    got = mapped(bound, {"s": False, "t": 10})
    assert got["id"] == "urn:ngsi-ld:TestType:TestType:60"
    assert got["temperature"] == 10


@pytest.mark.parametrize(
    ("measures", "expected"),
    [
        ({"a": 3, "b": 10}, {"attr_a": 3, "attr_b": 13}),
        ({"a": 3, "b": -10}, {"attr_a": 3}),  # the expression gives the skipValue
        ({"b": -10}, {}),
    ],
)
def test_skip_value_applies_to_an_expression_result(
    measures: dict[str, Any], expected: dict[str, Any]
) -> None:
    """0700 skipValue."""
    bound = binding(
        attributes=[
            {"object_id": "a", "name": "attr_a", "type": "Number"},
            {
                "object_id": "b",
                "name": "attr_b",
                "type": "Number",
                "skipValue": "skip",
                "expression": '(b+static_a)>0?(b+static_a):"skip"',
            },
        ],
        static_attributes=[{"name": "static_a", "type": "Number", "value": 3}],
    )
    transformation = MeasureTransformation.of(bound)
    assert transformation is not None
    out, target = transformation.apply(measures)
    entity = measures_to_entity(target, out, with_static=False)
    assert {k: v["value"] for k, v in entity.items() if k not in ("id", "type")} == expected


def test_value_pickers_over_measures() -> None:
    """0900 (written as lists: an NGSI-LD agent drops a list typed Number, as Dalgu does)."""
    bound = binding(
        explicitAttrs=True,
        attributes=[
            {
                "object_id": "single",
                "name": "single",
                "type": "Property",
                "expression": "{alarm1:alarm1,alarm2:alarm2,alarm3:alarm3}|valuePicker(true)",
            },
            {
                "object_id": "multi",
                "name": "multi",
                "type": "Property",
                "expression": "a|valuePickerMulti([true,1,'on','nok'])",
            },
        ],
    )
    a = {"n1": True, "n2": 1, "n3": "on", "n4": "nok", "n5": "ok", "n6": True, "n7": False, "n8": 0}
    got = mapped(bound, {"a": a, "alarm1": True, "alarm2": False, "alarm3": True})
    assert got["single"] == ["alarm1", "alarm3"]
    assert got["multi"] == ["n1", "n2", "n3", "n4", "n6"]


@pytest.mark.parametrize(
    ("group", "detail"),
    [
        ({"entityNameExp": 5}, "services[0].entityNameExp: a JEXL expression is a string"),
        (
            {"attributes": [{"name": "a", "metadata": {"unit": {"expression": ["x"]}}}]},
            "services[0].attributes[0].metadata.unit.expression: a JEXL expression is a string",
        ),
        (
            {"static_attributes": [{"name": "s", "value": 1, "expression": "s*2"}]},
            "services[0].static_attributes[0].expression: Dalgu evaluates JEXL expressions of "
            "active attributes only",
        ),
    ],
)
def test_expression_fields_that_cannot_be_expressions_are_refused_by_name(
    group: dict[str, Any], detail: str
) -> None:
    from dalgu.errors import BadRequestData

    with pytest.raises(BadRequestData) as refused:
        parse_groups({"services": [{"apikey": "k1", **group}]})
    assert refused.value.detail.startswith(detail)


def test_blank_expressions_are_none_as_the_agents_skip_them() -> None:
    bound = binding(
        entityNameExp="",
        explicitAttrs=" ",
        attributes=[
            {"object_id": "t", "name": "temperature", "type": "Number", "expression": ""},
            {"object_id": "h", "name": "humidity", "metadata": {"unit": {"expression": " "}}},
        ],
    )
    assert MeasureTransformation.of(bound) is None
    entity = measures_to_entity(bound, {"t": 5, "noise": 1})
    assert entity["id"] == "urn:ngsi-ld:TestType:TestDevice"
    assert entity["temperature"]["value"] == 5 and entity["noise"]["value"] == 1

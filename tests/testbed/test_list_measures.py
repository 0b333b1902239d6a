"""ListProperty measures in device profiles: a heart sensor's beat intervals, as the
`vehicle-telematics` profile sends them (`CabinSensor.RRIntervals`, `CabinSensor.Seat.*`)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from dalgu.devices.provisioning import parse_groups
from dalgu.devices.traffic import MessageEvent
from dalgu.errors import BadRequestData
from dalgu.testbed.conformance import evaluate
from dalgu.testbed.profile import load_profile, parse_profile
from dalgu.testbed.simulator import VirtualDevice

BEATS = parse_profile(
    """
name: beats
entity_type: Vehicle
payload: json
interval: 1
jitter: 0.2
measures:
  - {object_id: q, name: quality, type: Number, min: 0, max: 1}
  - {object_id: rr, name: intervals, type: ListProperty, min: 250, max: 2500, required: false}
"""
)
T0 = 1_800_000_000.0


def event(at: float, values: dict[str, Any]) -> MessageEvent:
    stamp = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")
    return MessageEvent(
        "k", "d1", "mqtt", at + 0.01, at + 0.02, ((values, stamp.replace("+00:00", "Z")),)
    )


def verdicts(last: dict[str, Any]) -> dict[str, str]:
    good = [event(T0 + n, {"q": 0.8, "rr": [812.0, 830]}) for n in range(10)]
    report = evaluate(BEATS, "k", [*good, event(T0 + 10, last)], T0, T0 + 11)
    return {check.name: check.verdict for check in report.checks}


def test_a_list_of_numbers_in_range_passes() -> None:
    checks = verdicts({"q": 0.8, "rr": [790.0]})
    assert checks["types"] == checks["ranges"] == "pass"


@pytest.mark.parametrize("wrong", ["812", [812, "830"], [812, True], 812.0])
def test_anything_but_a_list_of_numbers_fails_the_types_check(wrong: object) -> None:
    assert verdicts({"q": 0.8, "rr": wrong})["types"] == "fail"


def test_a_number_of_the_list_out_of_range_fails_the_ranges_check() -> None:
    assert verdicts({"q": 0.8, "rr": [812.0, 4000.0]})["ranges"] == "fail"


def test_a_list_measure_needs_the_json_payload() -> None:
    with pytest.raises(BadRequestData, match="json payload"):
        parse_profile(
            "name: x\nentity_type: T\npayload: ul\n"
            "measures: [{object_id: rr, name: rr, type: ListProperty}]"
        )


def test_the_vehicle_telematics_profile_maps_the_heart_sensors_intervals_as_lists() -> None:
    profile = load_profile("vehicle-telematics")
    (group,) = parse_groups({"services": [profile.to_group("k")]})
    kinds = {m.object_id: m.type for m in profile.measures}
    assert (
        kinds["CabinSensor.RRIntervals"]
        == kinds["CabinSensor.Seat.RRIntervals"]
        == ("ListProperty")
    )
    assert len(group.attributes) == len(profile.measures)


def test_a_virtual_telematics_unit_sends_its_intervals_as_lists_now_and_then() -> None:
    profile = load_profile("vehicle-telematics")
    one = VirtualDevice("car", profile, random.Random(3), skew=0)
    two = VirtualDevice("car", profile, random.Random(3), skew=0)
    sent = []
    for _ in range(300):
        values = one.values()
        assert values == two.values()  # the seed gives the same messages
        sent.append(values.get("CabinSensor.RRIntervals"))
    lists = [x for x in sent if x is not None]
    assert 0 < len(lists) < len(sent)  # only when the sensor measured some
    assert all(isinstance(x, list) and 1 <= len(x) <= 2 for x in lists)
    assert all(250 <= v <= 2500 for x in lists for v in x)

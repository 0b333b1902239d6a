"""The telemetry window: a second of 10 Hz samples in one measure group, read back sample by
sample with each sample's own time."""

from __future__ import annotations

import pytest

from dalgu.errors import BadRequestData
from dalgu.safety import signals as vss
from dalgu.safety.fleet import on_the_wire
from dalgu.safety.generator import generate_scenario
from dalgu.safety.telemetry_window import SAMPLES, window_group, window_samples


def test_a_window_carries_the_newest_values_on_top_and_every_sample_with_its_time() -> None:
    samples = [
        (100.0 + k / 10, {vss.SPEED: 70.0 + k, vss.STEERING: -0.5 * k, vss.LANE_WARNING: k == 9})
        for k in range(10)
    ]
    group = window_group(samples)
    assert group[vss.SPEED] == 79.0 and group[vss.LANE_WARNING] is True
    assert group["t"] == pytest.approx(100.9)
    assert group[SAMPLES]["t"] == [-900, -800, -700, -600, -500, -400, -300, -200, -100, 0]
    values = {k: v for k, v in group.items() if k != "t"}
    back = window_samples(values, 100.9)
    assert back is not None
    assert [round(t, 3) for t, _ in back] == [round(t, 3) for t, _ in samples]
    assert [s for _, s in back] == [s for _, s in samples]


def test_a_sample_lacking_a_signal_has_null_in_its_column_and_lacks_it_when_read() -> None:
    group = window_group(
        [(1.0, {vss.SPEED: 50.0, vss.EYES_ON_ROAD: True}), (1.1, {vss.SPEED: 51.0})]
    )
    assert group[SAMPLES][vss.EYES_ON_ROAD] == [True, None]
    back = window_samples(group, 1.1)
    assert back is not None and back[1][1] == {vss.SPEED: 51.0}


def test_a_group_without_a_window_is_none_and_a_malformed_window_is_refused() -> None:
    assert window_samples({vss.SPEED: 50.0}, 1.0) is None
    for bad in (
        [1, 2],
        {"t": []},
        {"t": [0, 100], vss.SPEED: [1.0]},
        {"t": ["0"], vss.SPEED: [1.0]},
        {"t": [True], vss.SPEED: [1.0]},
    ):
        with pytest.raises(BadRequestData):
            window_samples({SAMPLES: bad}, 1.0)


def test_a_drive_on_the_wire_as_windows_sends_one_telemetry_group_a_second() -> None:
    scenario = generate_scenario(7, duration=900)
    plain = on_the_wire("car", scenario)
    windowed = on_the_wire("car", scenario, windows=True)
    assert [len(car) for car, _ in windowed.seconds[1:20]] == [1] * 19
    for (car, band), (window, band_again) in zip(plain.seconds, windowed.seconds, strict=True):
        assert band == band_again
        if not car:
            assert window == []
            continue
        [group] = window
        read = window_samples(group, group["t"])
        assert read is not None
        assert [round(t, 3) for t, _ in read] == [round(g["t"], 3) for g in car]
        assert [s for _, s in read] == [{k: v for k, v in g.items() if k != "t"} for g in car]

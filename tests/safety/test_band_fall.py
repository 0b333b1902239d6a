"""A desaturation the band saw begin before it lost its SpO2 (round 13): its last good readings
at least 4 points under its level of 15-30 s before, down to 92 % or under, raised when the
band goes quiet rather than left to the camera.

Each test that expects nothing also runs the same drive with the fall the rule is for and
expects it found, so none passes without the rule."""

from __future__ import annotations

from dalgu.safety import signals as vss
from dalgu.safety.detectors.hypoxaemia import BandFall
from dalgu.safety.history import History
from dalgu.safety.scenario import Sample
from tests.safety.crafted import EVENT, Signals, Wearable, run, steady_vehicle, steady_wearable

END = EVENT + 60
LOST = EVENT  # the band goes quiet at the labelled onset


def band(*, level: float = 97.0, last: float = 90.0, rate: float = 0.5) -> Wearable:
    """The steady band at SpO2 `level`, falling at `rate` %/s to reach `last` as it is taken
    off at `LOST` (its last three readings' median is then `last` + 1, rounded)."""
    fall_from = LOST - (level - last) / rate

    def wearable(t: float) -> Signals | None:
        if t >= LOST:
            return {vss.IS_WORN: False, vss.SIGNAL_QUALITY: 0.0}
        signals: Signals = dict(steady_wearable(t))
        signals[vss.SPO2] = float(round(max(last, level - max(0.0, rate * (t - fall_from)))))
        return signals

    return wearable


FALLING = band()  # 97 % to 90 % in the 14 s before the band is taken off


def hypoxaemia(alerts: list) -> list:  # type: ignore[type-arg]
    return [a for a in alerts if a.type == "hypoxaemia"]


def test_a_fall_seen_before_the_band_is_lost_is_a_desaturation_at_once() -> None:
    found = hypoxaemia(run(END, steady_vehicle, FALLING))
    assert len(found) == 1
    # the band's 5-s window needs four good readings: it is known lost within 2-3 s
    assert LOST <= found[0].raised <= LOST + 4
    assert found[0].evidence["sensor"] == "band"
    assert found[0].evidence["spo2Before"] - found[0].evidence["spo2"] >= 4


def test_a_band_lost_at_the_drivers_level_is_no_desaturation() -> None:
    assert hypoxaemia(run(END, steady_vehicle, FALLING))
    assert not hypoxaemia(run(END, steady_vehicle, band(last=97.0)))


def test_a_fall_of_three_points_is_not_enough() -> None:
    """A driver whose level is 95 %: to 91 % is four points, to 92 % three."""
    assert hypoxaemia(run(END, steady_vehicle, band(level=95.0, last=90.5)))
    assert not hypoxaemia(run(END, steady_vehicle, band(level=95.0, last=91.5)))


def test_a_fall_still_above_92_percent_is_not_enough() -> None:
    """A driver whose level is 99 %: six points down is 93 %, a fall under way but not yet
    near the 90 % of a desaturation's onset."""
    assert hypoxaemia(run(END, steady_vehicle, band(level=99.0, last=91.5)))
    assert not hypoxaemia(run(END, steady_vehicle, band(level=99.0, last=92.5)))


def test_low_readings_of_a_loose_band_are_not_a_fall() -> None:
    """A band going loose sends low SpO2 at poor quality before it is lost: not believed."""

    def loosening(t: float) -> Signals | None:
        if EVENT - 6 <= t < LOST:
            return {
                vss.IS_WORN: True,
                vss.SIGNAL_QUALITY: 0.3,
                vss.HEART_RATE: 70.0,
                vss.RR_INTERVALS: [],
                vss.SPO2: 82.0,
            }
        return band(last=97.0)(t)

    assert hypoxaemia(run(END, steady_vehicle, FALLING))
    assert not hypoxaemia(run(END, steady_vehicle, loosening))


def test_the_rule_reads_each_loss_once() -> None:
    rule = BandFall()
    history = History()
    fired = []
    for k in range(60):
        t = k + 0.5
        spo2 = 97.0 - max(0.0, 0.5 * (k - 25))
        if k < 40:
            signals: Signals = {vss.IS_WORN: True, vss.SIGNAL_QUALITY: 0.9, vss.SPO2: spo2}
        else:
            signals = {vss.IS_WORN: False, vss.SIGNAL_QUALITY: 0.0}
        history.add(Sample(t, "wearable", signals))
        history.close()
        if rule.step(history, band_reads=k < 40):
            fired.append(history.now)
    assert len(fired) == 1 and 40 <= fired[0] <= 42

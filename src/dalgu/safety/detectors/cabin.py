"""The car's own heart-rate sensor as a second heart source, for when the band cannot be read.

The in-cabin sensor (`Vehicle.Driver.HeartRate`, a steering-wheel ECG or seat sensor) reports
a rate averaged over about 5 s once a second, with its own quality index
(`CabinSensor.SignalQuality`, 0 without contact). It is noisier than the band and has no beat
timing, so it is used only when the band is lost or poor, and only for what a smoothed rate can
show:

- Tachycardia: `TACHY_READINGS` consecutive seconds of good-contact readings all above the
  limit. A contact that comes and goes breaks the run: a lost contact is never a finding,
  and the garbage rates of a spoiled contact come with a low quality index and are not read.
- Bradycardia: `BRADY_READINGS` consecutive good readings all below the limit. Missed R peaks
  can make a 5-s window's rate too slow, and every reading whose window holds them repeats
  the error: on the tuning drives 1000-1319 (generator of this round), outside any
  emergency, at most three consecutive good readings were under 40 bpm (one drive).
- Asystole: a rate that stops while the contact stays good (a flat ECG under both hands): a
  good reading with a rate, then `FLAT` seconds in good contact with no rate. A sensor that
  regains contact reports no rate while its window fills, so the run must start right after
  a rate, contact unbroken; and missed or ectopic peaks can leave a window without a rate
  now and then (on the same drives, at most three such seconds in a row, two drives).
- Arrhythmia cannot be told from a 5-s mean rate (it needs the beats) and hypoxaemia is not
  measured (no SpO2): neither is attempted.
"""

from __future__ import annotations

from collections.abc import Callable

from dalgu.safety.detectors.base import Finding
from dalgu.safety.history import History, Second

GOOD = 0.5  # the sensor's quality index from which its reading is believed
TACHY_READINGS = 3  # consecutive good readings above the limit for tachycardia
BRADY_READINGS = 5  # ... below the limit for bradycardia
FLAT = 4  # s of good contact without a rate, right after a rate, for asystole


def good(second: Second) -> bool:
    """Whether the car's sensor was in good contact in that second."""
    return second.cabin_quality is not None and second.cabin_quality >= GOOD


def cabin_finding(history: History, brady: float, tachy: float) -> Finding | None:
    """A cardiac finding from the car's sensor alone, or None."""
    recent = history.last(max(TACHY_READINGS, BRADY_READINGS, FLAT + 1))
    return (
        _asystole(history, recent)
        or _rate(history, recent, TACHY_READINGS, "tachycardia", lambda r: r > tachy)
        or _rate(history, recent, BRADY_READINGS, "bradycardia", lambda r: r < brady)
    )


def _rate(
    history: History,
    recent: list[Second],
    needed: int,
    kind: str,
    beyond: Callable[[float], bool],
) -> Finding | None:
    run = recent[-needed:]
    rates = [s.cabin_heart_rate for s in run if good(s) and s.cabin_heart_rate is not None]
    if len(rates) < needed or not all(beyond(r) for r in rates):
        return None
    return Finding(
        "cardiac",
        kind,
        "critical",
        0.8,
        history.now - len(run),
        {"heartRate": rates[-1], "source": "vehicle", "readings": len(run)},
    )


def _asystole(history: History, recent: list[Second]) -> Finding | None:
    if len(recent) < FLAT + 1:
        return None
    before, flat = recent[-FLAT - 1], recent[-FLAT:]
    if not (good(before) and before.cabin_heart_rate is not None):
        return None
    if not all(good(s) and s.cabin_heart_rate is None for s in flat):
        return None
    return Finding(
        "cardiac",
        "asystole",
        "critical",
        0.8,
        history.now - FLAT,
        {
            "secondsWithoutBeat": FLAT,
            "heartRateBefore": before.cabin_heart_rate,
            "source": "vehicle",
        },
    )

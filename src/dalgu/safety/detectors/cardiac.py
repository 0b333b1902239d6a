"""Cardiac events from the wearable's beats: asystole, severe brady- and tachycardia, arrhythmia.

Only beats seen with good signal quality count. Asystole is a pulse that stops while the band
is worn and still in contact (its quality index above what a loose band shows); the car's own
behaviour (the wheel going still) confirms it sooner, otherwise it needs longer to be believed.

A heart rate that jumped out of the driver's range in the last seconds before the band lost its
signal is raised at a lower tier (`unconfirmed`, medium severity): the loss may be the band
slipping, or the wrist moving because something is wrong, and nothing else can tell which.
"""

from __future__ import annotations

import statistics
from collections import deque

import numpy as np

from dalgu.safety.detectors.base import CALIBRATION, Finding, Quality
from dalgu.safety.detectors.incapacitation import steering_activity
from dalgu.safety.history import History

LOOK_BACK = 30  # s of good-signal heart rates kept, to tell a rate that just moved
LOST_WITHIN = 5.0  # s: a signal lost this soon after the rate moved is an unconfirmed finding
MOVED = 0.3  # a rate this much (relative) above or below its level 15-30 s before has moved
OUT_OF_RANGE = (45.0, 120.0)  # bpm: and it left this range


class CardiacDetector:
    name = "cardiac"

    def __init__(
        self,
        brady: float = 40.0,
        tachy: float = 150.0,
        irregularity: float = 0.15,
        pause: float = 4.0,
        pause_alone: float = 6.0,
    ) -> None:
        self.brady = brady
        self.tachy = tachy
        self.irregularity = irregularity
        self.pause = pause  # s without a beat, confirmed by the wheel
        self.pause_alone = pause_alone  # s without a beat, unconfirmed
        self._persist: dict[str, int] = {}
        self._steering: list[float] = []
        self.steering_baseline: float | None = None
        self._rates: deque[tuple[float, float]] = deque(maxlen=LOOK_BACK + 1)
        self._lost_told = False

    def step(self, history: History, quality: Quality) -> Finding | None:
        self._learn(history)
        return (
            self._asystole(history)
            or self._rate_or_rhythm(history, quality)
            or self._lost_while_moving(history, quality)
        )

    def _learn(self, history: History) -> None:
        if history.now <= history.start + CALIBRATION:
            window = history.last(2)
            if all(s.vehicle_samples >= 8 and (s.speed or 0) > 25 for s in window):
                self._steering.append(steering_activity(history.steering(2)))
        elif self.steering_baseline is None:
            self.steering_baseline = max(float(np.median(self._steering or [3.0])), 0.5)

    def _asystole(self, history: History) -> Finding | None:
        recent = history.last(int(self.pause_alone) + 1)
        heard = [s for s in recent if s.wearable]
        if len(heard) < self.pause or any(s.worn is not True for s in heard):
            return None
        silent = 0
        for s in reversed(recent):
            if s.rr or not s.wearable:
                break
            silent += 1
        if silent < self.pause:
            return None
        # over the whole silence: a loose band shows brief good moments, a stopped heart under a
        # band in contact keeps a middling quality throughout
        qualities = [s.quality or 0.0 for s in recent[-silent:]]
        if statistics.median(qualities) < 0.3:  # a loose band, not a stopped heart
            return None
        still = self._wheel_still(history)
        if silent < self.pause_alone and not still:
            return None
        return Finding(
            "cardiac",
            "asystole",
            "critical",
            0.95 if still else 0.75,
            history.now - silent,
            {
                "secondsWithoutBeat": silent,
                "signalQuality": round(statistics.median(qualities), 2),
                "steeringStopped": still,
            },
        )

    def _wheel_still(self, history: History) -> bool:
        window = history.last(2)
        if self.steering_baseline is None or any(s.vehicle_samples < 8 for s in window):
            return False
        return steering_activity(history.steering(2)) < 0.4 * self.steering_baseline

    def _rate_or_rhythm(self, history: History, quality: Quality) -> Finding | None:
        if quality.wearable != "ok":
            self._persist.clear()
            return None
        rr = history.rr(10)
        rr = rr[(rr > 250) & (rr < 2500)][-5:]  # the last few beats, however slow
        if len(rr) < 3:
            return None
        self._rates.append((history.now, 60000.0 / float(np.median(rr[-3:]))))
        self._lost_told = False
        rate = 60000.0 / float(np.median(rr))
        slow = 60000.0 / float(np.median(rr[-3:]))  # two of the last three beats slow
        kind = None
        if slow < self.brady:
            kind, rate = "bradycardia", slow
        elif rate > self.tachy:
            kind = "tachycardia"
        else:
            beats = history.rr(15)[-16:]
            if len(beats) >= 12:
                jumps = np.abs(np.diff(beats)) / beats[1:]
                if float(np.median(jumps)) > self.irregularity:
                    kind = "arrhythmia"
        for other in list(self._persist):
            if other != kind:
                del self._persist[other]
        if kind is None:
            return None
        self._persist[kind] = self._persist.get(kind, 0) + 1
        # a slow beat takes long to come: two slow intervals of three are believed at once
        # (a missed or ectopic beat makes one long interval, not two); the rest twice running
        if self._persist[kind] < (1 if kind == "bradycardia" else 2):
            return None
        return Finding(
            "cardiac",
            kind,
            "critical" if kind != "arrhythmia" else "high",
            0.9,
            history.now - self._persist[kind],
            {"heartRate": round(rate, 1), "beats": len(rr)},
        )

    def _lost_while_moving(self, history: History, quality: Quality) -> Finding | None:
        if quality.wearable == "ok" or self._lost_told or not self._rates:
            return None
        last_seen, rate = self._rates[-1]
        if history.now - last_seen > LOST_WITHIN:
            return None
        before = [r for t, r in self._rates if 15.0 <= last_seen - t <= LOOK_BACK]
        if len(before) < 5:
            return None
        level = float(np.median(before))
        low, high = OUT_OF_RANGE
        if low <= rate <= high or abs(rate / level - 1.0) < MOVED:
            return None
        self._lost_told = True
        return Finding(
            "cardiac",
            "unconfirmed",
            "medium",
            0.5,
            last_seen,
            {
                "heartRate": round(rate, 1),
                "heartRateBefore": round(level, 1),
                "signal": quality.wearable,
                "lostFor": history.now - last_seen,
            },
        )

"""Cardiac events from the wearable's beats: asystole, severe brady- and tachycardia, arrhythmia.

Only beats seen with good signal quality count, and the quality gate (not a long confirmation
window) keeps artefacts out: a rate or rhythm is judged on the last few seconds of good beats,
as a clinician would judge a rhythm strip.

- Tachycardia: the median of the last five good intervals above 150 bpm (three fast beats of
  five; one ectopic beat cannot make it).
- Bradycardia: two of the last three good intervals below 40 bpm; or the last two below 45 bpm
  when the rate fell there by a third within half a minute (a sudden fall, as in a heart block
  or a vasovagal collapse, not the slow drift of a drowsy driver). A missed or ectopic beat
  makes one long interval, not two.
- Arrhythmia: over the last sixteen good intervals (up to 15 s), the median successive change
  relative to the interval, above 0.15 twice running. Fewer beats were tried on the tuning
  drives (twelve over 10 s) and gave ten times the false alarms: a drowsy driver's sinus
  arrhythmia (slow, deep breathing) swings the intervals by a quarter within a few beats.
  A fast irregular rhythm (atrial fibrillation with a rapid ventricular response, the kind
  that endangers a driver) is raised sooner: eight good intervals within 8 s whose median is
  above 100 bpm and whose median successive change is above 0.12, once. The rate is what keeps
  sinus arrhythmia out: it is widest in a slow, drowsy heart. (A turning-point ratio, which
  tells random from oscillating intervals, separated the two no better over eight beats.)
  Since round 15 the lower of that change and the same with premature beats set aside
  (`rhythm.without_ectopics`, the wheel's since round 11) must pass the bar: a fast sinus rhythm
  (traffic, a call) with one premature beat and its compensatory pause among eight intervals
  passed it, four of the five false band arrhythmias of the tuning drives 1000-1319; set aside,
  the highest value outside emergencies over whole tuning drives was 0.143 (one drive, a noisy
  sinus rhythm at 100 bpm, still raised), and the rule found every arrhythmia of those drives
  as soon as before but one (1099: 17 s after the onset rather than 14; found at 6 s anyway,
  by the `unconfirmed` tier).
  Since round 16 a rhythm under 100 bpm needs the wheel's bar for the same rule (0.18): over
  whole tuning drives the rule raised false findings on 8 drives, all sinus rhythms at 68-90
  bpm between 0.15 and 0.17, and every real arrhythmia there was found as soon (the one under
  100 bpm, at 99, swung by 0.31).
- Asystole: a pulse that stops while the band is worn and still in contact (its quality index
  above what a loose band shows); the car's own behaviour (the wheel going still) confirms it
  sooner, otherwise it needs longer to be believed. Since round 16 a silence with any second
  under `LOOSE_DIP` is a loose band too: a loose band's contact comes and goes (tuning drives
  1205 and 1295 raised false asystoles at medians of 0.32 with seconds at 0.05-0.20 in them),
  while a band in contact over a stopped heart stayed at 0.26 or more in the first seconds of
  every tuning asystole.

With the band lost or poor, the car's own heart-rate sensor (a steering-wheel ECG or seat
sensor, `Vehicle.Driver.HeartRate`, and its R-R intervals `CabinSensor.RRIntervals`) stands in
for rate, rhythm and asystole, behind its own quality gate: see `dalgu.safety.detectors.cabin`;
and with no good contact at the wheel either, the seat's sensor (`CabinSensor.Seat.*`, since
round 10), behind its own: see `dalgu.safety.detectors.seat`. Since round 17 the wheel's
sudden-fall rule takes the heart's level from the seat, else from the band's last good rates,
when the wheel has none of its own (`_borrowed`).

A heart rate that jumped out of the driver's range, or fell a quarter under its level to under
60 bpm (round 13), in the last seconds before the band lost its signal is raised at a lower
tier (`unconfirmed`, medium severity): the loss may be the band slipping, or the wrist moving
because something is wrong, and nothing else can tell which.

Every statistic here is over a handful of numbers, once a second per vehicle: on such small
lists plain Python is far cheaper than NumPy (`statistics.median` of five numbers takes
0.2 µs, `numpy.median` 9 µs, on this machine kind).
"""

from __future__ import annotations

import statistics
from collections import deque

from dalgu.safety.detectors.awake import AwakeLevel
from dalgu.safety.detectors.base import CALIBRATION, Finding, Quality
from dalgu.safety.detectors.cabin import CabinBeats, cabin_finding, good
from dalgu.safety.detectors.incapacitation import steering_activity
from dalgu.safety.detectors.quality import GOOD
from dalgu.safety.detectors.rhythm import irregularity, median3, without_ectopics
from dalgu.safety.detectors.seat import SEAT, SEAT_BEATS
from dalgu.safety.history import History

BEATS_WITHIN = 10.0  # s: the good beats a rate is judged on
RATE_BEATS = 5  # intervals in a rate
RHYTHM_WITHIN = 15.0  # s: the good beats a rhythm is judged on
RHYTHM_BEATS = 16  # at most this many intervals ...
RHYTHM_MIN = 12  # ... and at least this many
IRREGULAR = 0.15  # the median relative successive change above which a rhythm is irregular
FAST_BEATS = 8  # a fast irregular rhythm: this many good intervals ...
FAST_WITHIN = 8.0  # ... within this many seconds ...
FAST_RATE = 100.0  # ... at a median rate above this (bpm) ...
FAST_IRREGULAR = 0.12  # ... with a median relative successive change above this
# (round 16) the 12-16-beat rule on a rhythm whose median rate is under FAST_RATE needs this
# (the wheel's bar for the same rule, `cabin.RR_IRREGULAR`): a slow sinus rhythm swings more
SLOW_IRREGULAR = 0.18
# (round 16) a silence in which the band's quality fell under this in any second is a loose
# band (its contact comes and goes), not a stopped heart under a band in contact
LOOSE_DIP = 0.22
SLOW_BAND = 1.25  # s between a band's messages from which it is read as sending less than 1 Hz
BAND_SKIPS = 2  # seconds without its message in a row such a band may leave in a silence
SUDDEN = 45.0  # bpm: a rate that fell below this by a third within half a minute ...
FELL_BY = 1.5  # ... from a level this many times higher, is bradycardia
LOOK_BACK = 30  # s of good-signal heart rates kept, to tell a rate that just moved
LOST_WITHIN = 5.0  # s: a signal lost this soon after the rate moved is an unconfirmed finding
MOVED = 0.3  # a rate this much (relative) above or below its level 15-30 s before has moved
OUT_OF_RANGE = (45.0, 120.0)  # bpm: and it left this range
# or (round 13) a rate that fell this much (relative) under its level 15-30 s before, to under
# FELL_TO bpm (a rate that is falling as the band goes: over whole tuning drives the largest
# such fall outside an emergency was 0.19, and 0.13 among rates under 60 bpm)
FELL = 0.25
FELL_TO = 60.0


class CardiacDetector:
    name = "cardiac"

    def __init__(
        self,
        brady: float = 40.0,
        tachy: float = 150.0,
        irregularity: float = IRREGULAR,
        pause: float = 4.0,
        pause_alone: float = 6.0,
    ) -> None:
        self.brady = brady
        self.tachy = tachy
        self.irregularity = irregularity
        self.pause = pause  # s without a beat, confirmed by the wheel
        self.pause_alone = pause_alone  # s without a beat, unconfirmed
        self._persist: dict[str, int] = {}
        # the wheel's awake activity: a still wheel confirms a silent heart sooner
        self.steering = AwakeLevel(least=30, floor=0.5, fallback=3.0)
        self._beats: deque[tuple[float, float]] = deque(maxlen=64)
        self._rates: deque[tuple[float, float]] = deque(maxlen=LOOK_BACK + 1)
        self._lost_told = False
        self._car = CabinBeats()
        self._seat = [CabinBeats(sensor) for sensor in SEAT]
        # (round 17) the seat's slow-heart reader: its level is the wheel's when the wheel has none
        self._seat_beats = next(s for s in self._seat if s.sensor is SEAT_BEATS)

    def step(self, history: History, quality: Quality) -> Finding | None:
        self._learn(history)
        self._hear(history)
        self._car.hear(history)
        for seat in self._seat:
            seat.hear(history)
        return (
            self._asystole(history)
            or self._rate_or_rhythm(history, quality)
            or self._from_the_car(history, quality)
            or self._lost_while_moving(history, quality)
        )

    def _from_the_car(self, history: History, quality: Quality) -> Finding | None:
        """With the band lost or poor, the car's own heart sensors: the wheel's
        (`detectors.cabin`), and with no good contact there, the seat's (`detectors.seat`)."""
        if quality.wearable == "ok":
            return None
        wheel = self._car.finding(
            history, self.brady, self.tachy, self._borrowed(history.now)
        ) or cabin_finding(history, self.brady, self.tachy)
        if wheel is not None or (history.seconds and good(history.seconds[-1])):
            return wheel
        for seat in self._seat:
            found = seat.finding(history, self.brady, self.tachy)
            if found is not None:
                return found
        return None

    def _borrowed(self, now: float) -> tuple[str, float] | None:
        """The heart's rate 15-30 s before `now` from the seat or, failing it, the band: the
        level of a sudden fall the wheel reads when it has none of its own (round 17)."""
        seat = self._seat_beats.level(now)
        if seat is not None:
            return "seat", seat
        band = self._level(now)
        return ("band", band) if band is not None else None

    def awake_levels(self) -> dict[str, AwakeLevel]:
        return {"cardiac.steeringActivity": self.steering}

    def _learn(self, history: History) -> None:
        if history.now <= history.start + CALIBRATION:
            window = history.last(2)
            if all(history.whole(s) and (s.speed or 0) > 25 for s in window):
                self.steering.observe(steering_activity(history.steering(2), history.car_rate))
        else:
            self.steering.settle()

    def _hear(self, history: History) -> None:
        """Keep the good beats of the second just closed (called once per second)."""
        if not history.seconds:
            return
        s = history.seconds[-1]
        if s.worn and s.quality is not None and s.quality >= GOOD:
            self._beats.extend((s.t, x) for x in s.rr if 250.0 < x < 2500.0)

    def _asystole(self, history: History) -> Finding | None:
        # a band that reports every 1.5-2 s leaves seconds without a message: the time since
        # its last beat is what counts, up to `BAND_SKIPS` seconds unheard in a row (the gate's
        # 3 s); at 1 Hz a missed message ends the silence, as the detector was tuned
        period = history.band_period
        skips = BAND_SKIPS if period is not None and period > SLOW_BAND else 0
        trailing = 0  # the newest seconds, not yet reported
        for s in reversed(history.last(skips + 1)):
            if s.wearable:
                break
            trailing += 1
        if trailing > skips:
            return None
        recent = history.last(int(self.pause_alone) + 1 + trailing)
        heard = [s for s in recent if s.wearable]
        if len(heard) < self.pause / max(1.0, period or 1.0) or any(
            s.worn is not True for s in heard
        ):
            return None
        silent, unheard = 0, 0
        qualities: list[float] = []
        for s in reversed(recent[: len(recent) - trailing]):
            if not s.wearable:
                unheard += 1
                if unheard > skips:
                    break
                continue
            if s.rr:
                silent += unheard  # the beats of those seconds would be in the next message
                break
            silent += 1 + unheard
            unheard = 0
            qualities.append(s.quality or 0.0)
        if silent < self.pause:
            return None
        # over the whole silence: a loose band shows brief good moments, a stopped heart under a
        # band in contact keeps a middling quality throughout
        if statistics.median(qualities) < 0.3 or min(qualities) < LOOSE_DIP:
            return None  # a loose band, not a stopped heart
        still = self._wheel_still(history)
        if silent < self.pause_alone and not still:
            return None
        return Finding(
            "cardiac",
            "asystole",
            "critical",
            0.95 if still else 0.75,
            history.now - trailing - silent,
            {
                "secondsWithoutBeat": silent,
                "signalQuality": round(statistics.median(qualities), 2),
                "steeringStopped": still,
            },
        )

    def _wheel_still(self, history: History) -> bool:
        window = history.last(2)
        level = self.steering.level
        if level is None or not all(map(history.whole, window)):
            return False
        return steering_activity(history.steering(2), history.car_rate) < 0.4 * level

    def _rate_or_rhythm(self, history: History, quality: Quality) -> Finding | None:
        if quality.wearable != "ok":
            self._persist.clear()
            return None
        since = history.now - RHYTHM_WITHIN
        beats = [(t, x) for t, x in self._beats if t > since]
        rr = [x for t, x in beats if t > history.now - BEATS_WITHIN]
        if len(rr) < 3:
            return None
        now_rate = 60000.0 / median3(*rr[-3:])
        self._rates.append((history.now, now_rate))
        self._lost_told = False
        kind, rate = self._classify(rr, beats, now_rate, history.now)
        for other in list(self._persist):
            if other != kind:
                del self._persist[other]
        if kind is None:
            return None
        self._persist[kind] = self._persist.get(kind, 0) + 1
        # the rate's statistics are confirmed by their beats; a slow irregular rhythm once more
        held = self._persist[kind]
        if held < (2 if kind == "arrhythmia" else 1):
            return None
        kind = kind.removesuffix("-fast")
        return Finding(
            "cardiac",
            kind,
            "critical" if kind != "arrhythmia" else "high",
            0.9,
            history.now - held,
            {"heartRate": round(rate, 1), "beats": min(len(rr), RHYTHM_BEATS)},
        )

    def _classify(
        self, rr: list[float], beats: list[tuple[float, float]], now_rate: float, now: float
    ) -> tuple[str | None, float]:
        rhythm = [x for _, x in beats]
        if now_rate < self.brady:  # two of the last three intervals slow
            return "bradycardia", now_rate
        if now_rate < SUDDEN and 60000.0 / max(rr[-2:]) < SUDDEN:
            level = self._level(now)
            if level is not None and level >= FELL_BY * now_rate:
                return "bradycardia", now_rate
        rate = 60000.0 / statistics.median(rr[-RATE_BEATS:])
        if len(rr) >= RATE_BEATS and rate > self.tachy:
            return "tachycardia", rate
        fast = [x for t, x in beats if t > now - FAST_WITHIN][-FAST_BEATS:]
        if (
            len(fast) >= FAST_BEATS
            and statistics.median(fast) < 60000.0 / FAST_RATE
            and min(irregularity(fast), without_ectopics(fast)) > FAST_IRREGULAR
        ):
            return "arrhythmia-fast", 60000.0 / statistics.median(fast)
        rhythm = rhythm[-RHYTHM_BEATS:]
        if len(rhythm) >= RHYTHM_MIN:
            slow = statistics.median(rhythm) > 60000.0 / FAST_RATE
            bar = max(self.irregularity, SLOW_IRREGULAR) if slow else self.irregularity
            if irregularity(rhythm) > bar:
                return "arrhythmia", rate
        return None, rate

    def _level(self, now: float) -> float | None:
        """The driver's rate 15-30 s ago (the median of the good seconds then)."""
        before = [r for t, r in self._rates if 15.0 <= now - t <= LOOK_BACK]
        return statistics.median(before) if len(before) >= 5 else None

    def _lost_while_moving(self, history: History, quality: Quality) -> Finding | None:
        if quality.wearable == "ok" or self._lost_told or not self._rates:
            return None
        last_seen, rate = self._rates[-1]
        if history.now - last_seen > LOST_WITHIN:
            return None
        level = self._level(last_seen)
        if level is None:
            return None
        low, high = OUT_OF_RANGE
        left = not low <= rate <= high and abs(rate / level - 1.0) >= MOVED
        fell = rate < FELL_TO and rate <= (1.0 - FELL) * level
        if not (left or fell):
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

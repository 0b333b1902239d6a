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
  measured (no SpO2).

Since round 9 the sensor also sends the R-R intervals it measured (`CabinSensor.RRIntervals`,
raw: a missed peak makes one interval about twice as long). `CabinBeats` keeps the good ones,
run by run (a second without good contact ends a run), and the band's rules run on them first:
tachycardia, bradycardia (a run of slow intervals that grew steadily, since a missed peak
doubles one), asystole (good contact, no interval, after intervals) and arrhythmia (fast
irregular, or irregular at any rate twice running), with an interval over `MISSED` times the
run's median left out as a missed peak. The irregularity bars are above the band's: on the
tuning drives 1000-1319, reading the car's intervals every second whatever the band did, the
highest median successive change outside emergencies was 0.143 over eight intervals above 100
bpm and 0.167 over 12-16 intervals held two seconds; the bars are 0.16 and 0.18. Read that way,
no rule here raised a finding outside an emergency on those drives (two consecutive slow
intervals for bradycardia raised two, so it is three; in round 10 they still raised the same
two with each step required within 1.2 of the last, so it stays three).

Since round 10, hands that return to a heart already stopped are an asystole too:
`FRESH_FLAT` seconds of good contact from its start without any interval (a live heart gives
one within two beats: at 40 bpm with a missed peak, about 4.5 s). On the tuning drives, read
every second, a fresh contact went at most 3 s without an interval outside emergencies.
`BeatSensor` names where a sensor's reading is and the bars of its rules, so the same rules
read the seat's sensor (`dalgu.safety.detectors.seat`) with its own.

Since round 11 the rules' bars are checked over whole drives, the first ten minutes included
(round 10's check started at 600 s). That showed the fast irregular rule's statistic at 0.219
on a sinus rhythm of 105 bpm with two premature beats, each followed by its compensatory pause,
among eight intervals (tuning drive 1195, 451 s; the band saw the same beats). So the rule now
reads the irregularity with premature beats set aside as well (`rhythm.without_ectopics`; the
lower of the two must pass the bar): over whole drives the highest value outside emergencies
was then 0.110, and the bar is 0.13 (was 0.16). And a rate that falls fast is read on two
intervals, as the band's rule is: two steady intervals under `SUDDEN` bpm, the rate of the
sensor's own intervals 15-30 s before at least `FELL_BY` times theirs, neither interval within
`DOUBLED` of twice that level's interval (a missed peak doubles an interval: runs of doubled
intervals raised six false findings on six tuning drives without this check, none with it).

Round 14 (lost-band emergencies read sooner, each rule checked on every second of every whole
tuning drive 1000-1319 whatever the band did, a finding outside a medical event false):

- **Tachycardia on two intervals** (`QUICK_TACHY_BEATS`, the wheel): the last two good intervals
  both past the limit (150 bpm) and within `QUICK_STEADY` of each other (a premature beat pairs
  a short interval with a long one). A hand back on the wheel for a second or two gives two or
  three intervals, not the four of the median rule. Outside emergencies the highest such rate
  was 124.7 bpm (tuning drive 1293); the rule is the limit's, not a new bar.
- **A fall to about half the rate** (the sudden-fall rule): intervals near twice the level's
  were never believed on two (a missed peak doubles an interval), and a heart that halves
  lands there: 26-37 bpm from 60-80 is near twice the interval. They are now believed when the
  sensor's own averaged rate (`rate`: missed peaks rejected against the last reading) has
  fallen `TRACKED_FELL` under the level too, and the car's other heart sensor (`witness`, the
  seat for the wheel), where it was readable in the last `WITNESS_WITHIN` s, felt no beat at
  the level's pace. The sensor's own rate alone let one false finding through (1271: three
  missed peaks in four beats, and the sensor locked onto them, reading 37-42 bpm while the
  band and the seat read 82); with the seat as witness, none.

Round 15: the two-interval rule may also need the sensor's own rate of that second past the
limit (`quick_by_rate`), and then reads the last two intervals as sent, none left out; the seat
is read so (`dalgu.safety.detectors.seat.SEAT_RATE`), the wheel as before.

Round 17 (the wheel; each rule checked on every second of every whole tuning drive 1000-1319
whatever the band did: no finding of any kind outside a medical event, as before):

- **The interval under way** (`open_fall`, `OPEN_SILENCE`): the sensor sends an interval once
  its second beat is in, so a heart slowing to 25-30 bpm keeps a slow interval back for two
  seconds or more. After a slow interval (under `SUDDEN`, steady with the one before), two
  good seconds in contact without an interval mean the next one is at least that long, and it
  is read as the sudden fall's second slow interval; a silence may be missed peaks, so it is
  believed only as a fall to about half the level is (`_fell_too`). After two silent seconds
  no false finding either way; after one (too soon to call the interval slow) four without
  the check, none with it.
  Tuning drive 1106 (band lost, a missed peak in the fall): 10.9 s -> 7.9 s.
- **A level from another source** (`finding(..., borrowed)`): a sensor without a rate of its
  own 15-30 s before (the hands took the wheel after that) reads the sudden fall from the
  seat's level, else the band's, believed only with the same check. It moved no tuning event.
- **Seven fast intervals as well as eight** (`RR_FAST_FEWEST`): a hand back on the wheel for
  three or four seconds gives seven. Over whole drives the highest irregularity on seven
  outside emergencies was 0.117 (premature beats set aside), under the bar of 0.13 (on six:
  0.268, on five: 0.267); the last eight are still read, since seven alone found one tuning
  arrhythmia a second later. Four lost-band arrhythmias 1-2 s sooner (1000, 1077, 1220, 1281).

Round 19: **five fast intervals, witnessed by the seat** (`detectors.witnessed`): the wheel's
last five fast and irregular, and the seat's intervals over the same seconds fast and
irregular too. Tuning drive 1128 (band lost, five irregular intervals three seconds after the
onset): 15.8 s -> 3.8 s.
"""

from __future__ import annotations

import itertools
import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from dalgu.safety.detectors.base import Finding
from dalgu.safety.detectors.rhythm import irregularity, without_ectopics
from dalgu.safety.detectors.witnessed import Witness, witnessed_fibrillation
from dalgu.safety.history import History, Second

GOOD = 0.5  # the sensor's quality index from which its reading is believed
TACHY_READINGS = 3  # consecutive good readings above the limit for tachycardia
BRADY_READINGS = 5  # ... below the limit for bradycardia
FLAT = 4  # s of good contact without a rate, right after a rate, for asystole

# the car's R-R intervals (`CabinSensor.RRIntervals`, since round 9)
MISSED = 1.6  # an interval this many times the run's median is a missed peak, left out
RR_TACHY_BEATS = 4  # the median of this many good intervals above the limit: tachycardia
RR_BRADY_BEATS = 3  # this many consecutive good intervals below the limit: bradycardia ...
STEADY = 1.5  # ... each within this ratio of the one before it (a missed peak doubles one)
RR_FLAT = 4  # s of good contact without an interval, after intervals, for asystole
RR_FAST_BEATS = 8  # a fast irregular rhythm: this many good intervals ...
RR_FAST_WITHIN = 8.0  # ... within this many seconds ...
RR_FAST_RATE = 100.0  # ... at a median rate above this (bpm) ...
RR_FAST_IRREGULAR = 0.13  # ... with a median relative successive change above this,
# premature beats set aside (`rhythm.without_ectopics`) or not
RR_FAST_FEWEST = 7  # (round 17) ... or the last this many, the same way
RR_RHYTHM_BEATS = 16  # an irregular rhythm at any rate: at most this many intervals ...
RR_RHYTHM_MIN = 12  # ... and at least this many ...
RR_RHYTHM_WITHIN = 15.0  # ... within this many seconds ...
RR_IRREGULAR = 0.18  # ... whose median relative successive change is above this ...
RR_IRREGULAR_HELD = 2  # ... this many seconds running
SUDDEN_BEATS = 2  # bradycardia on this many steady intervals under SUDDEN bpm ...
SUDDEN = 45.0
FELL_BY = 1.5  # ... when the rate was this many times higher 15-30 s before (the band's bars)
LEVEL_FROM, LEVEL_TO = 30.0, 15.0  # s: the level a sudden fall is measured from ...
LEVEL_BEATS = 5  # ... on at least this many good intervals
DOUBLED = 0.15  # an interval this close to twice the level's may be a missed peak
FRESH_FLAT = 5  # s of good contact from its start without any interval: a heart already stopped
# (round 14) tachycardia on two intervals when both are past the limit and steady ...
QUICK_TACHY_BEATS = 2
QUICK_STEADY = 1.2  # ... the longer within this ratio of the shorter (an ectopic pairs short-long)
# a sudden fall whose intervals are near twice the level's is a missed peak only while the
# sensor's own rate (averaged, missed peaks rejected) still reads the level: believed fallen
# when that rate is this much (relative) under the level
TRACKED_FELL = 0.25
# ... and while the car's other heart sensor, where it was readable in the last seconds, shows
# no beat at the level's pace
WITNESS_WITHIN = 4  # s
# (round 17) good seconds without an interval since the last one, from which the interval under
# way (at least this long) counts as a sudden fall's last slow interval, believed only as a fall
# to about half the level is (the sensor's own rate fell, the witness felt no beat at the pace)
OPEN_SILENCE = 2


@dataclass(frozen=True, slots=True)
class BeatSensor:
    """One of the car's heart sensors as the beat rules read it: where its reading is in a
    second, the quality from which it is believed, and the bars of its rules (the wheel's by
    default; the seat's are in `dalgu.safety.detectors.seat`)."""

    name: str  # in the findings' evidence: "wheel" or "seat"
    quality: Callable[[Second], float | None]
    intervals: Callable[[Second], list[float]]
    gate: float = GOOD
    missed: float = MISSED
    tachy_beats: int | None = RR_TACHY_BEATS  # None: the median rule is not read
    brady_beats: int = RR_BRADY_BEATS
    steady: float = STEADY
    flat: int = RR_FLAT
    # s of good contact from its start without any interval: a contact regained on a heart
    # that has already stopped (None: not read)
    fresh_flat: int | None = None
    fast_irregular: float = RR_FAST_IRREGULAR
    irregular: float = RR_IRREGULAR
    irregular_held: int = RR_IRREGULAR_HELD
    # the findings its rules may raise (a noisy sensor is not believed for every kind)
    kinds: frozenset[str] = frozenset({"asystole", "tachycardia", "bradycardia", "arrhythmia"})
    # s of poor readings a run survives, neither beat nor silence (0: a poor second ends it)
    pause: int = 0
    # s of poor readings a silence survives in all, in a row or not (None: no bound but `pause`)
    pause_total: int | None = None
    # a sudden fall (as the band's rule): this many steady intervals under `sudden` bpm, from a
    # level `fell_by` times faster 15-30 s before (None: not read)
    sudden_beats: int | None = None
    sudden: float = SUDDEN
    fell_by: float = FELL_BY
    # (round 14) tachycardia on this many steady intervals past the limit (None: not read)
    quick_tachy_beats: int | None = None
    # (round 15) the quick rule believed only when the sensor's own rate of that second (`rate`)
    # is past the limit too: two intervals of a noisy sensor alone are not
    quick_by_rate: bool = False
    # the sensor's own averaged rate in a second (None: it sends none); with it, a sudden fall
    # to about half the level is believed when that rate has fallen too
    rate: Callable[[Second], float | None] | None = None
    # the car's other heart sensor (quality, intervals, gate) a sudden fall is checked against
    witness: Witness | None = None
    # (round 17) a silence of `OPEN_SILENCE` good seconds after a slow interval is read as the
    # sudden fall's last interval (the interval under way is at least that long)
    open_fall: bool = False

    def good(self, second: Second) -> bool:
        """Whether this sensor's reading of that second is believed."""
        quality = self.quality(second)
        return quality is not None and quality >= self.gate


def _wheel_quality(second: Second) -> float | None:
    return second.cabin_quality


def _wheel_intervals(second: Second) -> list[float]:
    return second.cabin_rr


def _wheel_rate(second: Second) -> float | None:
    return second.cabin_heart_rate


def seat_quality(second: Second) -> float | None:
    """The seat sensor's quality of a second (its own rules and the wheel's witness read it)."""
    return second.seat_quality


def seat_intervals(second: Second) -> list[float]:
    return second.seat_rr


WHEEL = BeatSensor(
    "wheel",
    _wheel_quality,
    _wheel_intervals,
    fresh_flat=FRESH_FLAT,
    sudden_beats=SUDDEN_BEATS,
    quick_tachy_beats=QUICK_TACHY_BEATS,
    rate=_wheel_rate,
    witness=(seat_quality, seat_intervals, GOOD),
    open_fall=True,
)


class CabinBeats:
    """One car sensor's good R-R intervals, run by run: a second without good contact ends a
    run (the sensor sends only intervals both of whose peaks it saw in clean contact, so
    nothing spans a loss). The rhythm rules read the run the way the band's read its beats."""

    def __init__(self, sensor: BeatSensor = WHEEL) -> None:
        self.sensor = sensor
        self._beats: deque[tuple[float, float]] = deque(maxlen=64)  # (second, ms)
        self._silent = 0  # good seconds without an interval since the last one (or the run's start)
        self._irregular = 0  # seconds running the slow irregular rule held
        self._poor = 0  # poor seconds running
        self._paused = 0  # poor seconds since the last interval (or the run's start)
        self._sends = False  # whether the sensor has sent intervals at all (not all do)
        # its good intervals of the last half minute, across runs: the level a fall is seen from
        self._level: deque[tuple[float, float]] = deque(maxlen=128)
        self._tracked: float | None = None  # the sensor's own last rate in this run (bpm)
        # (round 15) every interval of this run as sent, none left out: read by `quick_by_rate`
        self._sent: deque[float] = deque(maxlen=8)

    def hear(self, history: History) -> None:
        """Keep the intervals of the second just closed (called once per second)."""
        if not history.seconds:
            return
        s = history.seconds[-1]
        sensor = self.sensor
        if not sensor.good(s):
            self._poor += 1
            self._paused += 1
            bound = sensor.pause_total
            if self._poor > sensor.pause or (bound is not None and self._paused > bound):
                self._beats.clear()
                self._silent = 0
                self._irregular = 0
                self._paused = 0
                self._tracked = None
                self._sent.clear()
            return
        self._poor = 0
        if sensor.rate is not None and (rate := sensor.rate(s)) is not None:
            self._tracked = rate
        sent = sensor.intervals(s)
        if sent:
            self._paused = 0
        self._sends = self._sends or bool(sent)
        self._sent.extend(sent)
        self._beats.extend((s.t, x) for x in sent if 250.0 < x < 2500.0)
        self._level.extend((s.t, x) for x in sent if 250.0 < x < 2500.0)
        while self._level and self._level[0][0] < s.t - LEVEL_FROM:
            self._level.popleft()
        self._silent = 0 if sent else self._silent + 1

    def finding(
        self,
        history: History,
        brady: float,
        tachy: float,
        borrowed: tuple[str, float] | None = None,
    ) -> Finding | None:
        """A cardiac finding from this sensor's intervals (of the kinds it is read for), or None.

        `borrowed`: the heart's rate 15-30 s before as another source measured it (its name,
        bpm), for a sudden fall when this sensor has no level of its own."""
        sensor = self.sensor
        if self._poor:
            return None  # nothing is judged on a poor second
        if "asystole" in sensor.kinds and (stopped := self._stopped(history)):
            return stopped
        if not self._beats:
            return None
        beats = list(self._beats)
        middle = statistics.median([x for _, x in beats][-RR_RHYTHM_BEATS:])
        kept = [(t, x) for t, x in beats if x < sensor.missed * middle]
        found = self._rate(history, [x for _, x in kept], [x for _, x in beats], brady, tachy)
        if found is None and "bradycardia" in sensor.kinds:
            found = self._fell(history, [x for _, x in beats], borrowed)
        if found is None and "arrhythmia" in sensor.kinds:
            found = self._rhythm(history, kept)
        return found

    def _stopped(self, history: History) -> Finding | None:
        sensor = self.sensor
        if not self._beats:
            # a sensor that sends only a rate (round 8's) has no intervals to miss
            if not self._sends or sensor.fresh_flat is None or self._silent < sensor.fresh_flat:
                return None
            return self._finding(
                history,
                "asystole",
                history.now - self._silent,
                {"secondsWithoutBeat": self._silent, "beatsBefore": 0},
            )
        if self._silent >= sensor.flat:
            return self._finding(
                history,
                "asystole",
                history.now - self._silent,
                {"secondsWithoutBeat": self._silent, "beatsBefore": len(self._beats)},
            )
        return None

    def _rate(
        self, history: History, rr: list[float], every: list[float], brady: float, tachy: float
    ) -> Finding | None:
        sensor = self.sensor
        last = rr[-sensor.tachy_beats :] if sensor.tachy_beats else []
        if (
            "tachycardia" in sensor.kinds
            and sensor.tachy_beats
            and len(last) >= sensor.tachy_beats
            and 60000.0 / statistics.median(last) > tachy
        ):
            rate = 60000.0 / statistics.median(last)
            return self._finding(
                history, "tachycardia", history.now - 1, _beat_evidence(rate, last)
            )
        # a sensor read with its rate reads its last intervals as sent: leaving out a missed peak
        # or an interval no heart beats (a false beat's piece) would pair intervals that were
        # never next to each other
        pool = list(self._sent) if sensor.quick_by_rate else rr
        quick = pool[-sensor.quick_tachy_beats :] if sensor.quick_tachy_beats else []
        if (
            "tachycardia" in sensor.kinds
            and len(quick) == sensor.quick_tachy_beats
            and 60000.0 / max(quick) > tachy
            and max(quick) <= QUICK_STEADY * min(quick)
            and (not sensor.quick_by_rate or self._rate_past(history, tachy))
        ):
            rate = 60000.0 / statistics.median(quick)
            evidence = _beat_evidence(rate, quick)
            if sensor.quick_by_rate and sensor.rate is not None:
                evidence["sensorRate"] = sensor.rate(history.seconds[-1])
            return self._finding(history, "tachycardia", history.now - 1, evidence)
        slow = every[-sensor.brady_beats - 1 :]  # missed peaks included
        if "bradycardia" not in sensor.kinds:
            return None
        if len(slow) > sensor.brady_beats and all(60000.0 / x < brady for x in slow[1:]):
            steady = all(
                1 / sensor.steady < b / a < sensor.steady for a, b in itertools.pairwise(slow)
            )
            if steady:
                rate = 60000.0 / statistics.median(slow[1:])
                return self._finding(
                    history, "bradycardia", history.now - 1, _beat_evidence(rate, slow[1:])
                )
        return None

    def _rate_past(self, history: History, tachy: float) -> bool:
        """Whether the sensor's own rate of the second just closed is past `tachy`."""
        if self.sensor.rate is None or not history.seconds:
            return False
        rate = self.sensor.rate(history.seconds[-1])
        return rate is not None and rate > tachy

    def level(self, now: float) -> float | None:
        """The rate this sensor measured 15-30 s before `now` (bpm), or None."""
        before = [x for t, x in self._level if LEVEL_TO <= now - t <= LEVEL_FROM]
        return 60000.0 / statistics.median(before) if len(before) >= LEVEL_BEATS else None

    def _fell(
        self, history: History, every: list[float], borrowed: tuple[str, float] | None
    ) -> Finding | None:
        """Bradycardia on fewer intervals when the rate fell to it from well above."""
        sensor = self.sensor
        needed = sensor.sudden_beats
        if needed is None:
            return None
        level, source = self.level(history.now), sensor.name
        if level is None and borrowed is not None:
            source, level = borrowed
        if level is None:
            return None
        runs: list[tuple[list[float], int]] = []  # (the intervals, the open silence's seconds)
        if len(every) > needed:
            runs.append((every[-needed - 1 :], 0))
        if sensor.open_fall and self._silent >= OPEN_SILENCE and len(every) >= needed:
            # the interval under way has lasted at least the silence: its lower bound
            runs.append(([*every[-needed:], 1000.0 * self._silent], self._silent))
        for slow, silent in runs:
            closed = slow[:-1] if silent else slow
            if not all(60000.0 / x < sensor.sudden for x in slow[1:]):
                continue
            if not all(
                1 / sensor.steady < b / a < sensor.steady for a, b in itertools.pairwise(closed)
            ):
                continue
            rate = 60000.0 / statistics.median(slow[1:])
            if level < sensor.fell_by * rate:
                continue
            # an interval twice the level's is a missed peak as much as a halved rate, and a
            # silence may be missed peaks too, and a level from another source is not this
            # sensor's: then only with the sensor's own rate off the level as well
            doubled = any(abs(x * level / 120000.0 - 1.0) < DOUBLED for x in closed[1:])
            if (doubled or silent or source != sensor.name) and not self._fell_too(history, level):
                continue
            evidence = {**_beat_evidence(rate, slow[1:]), "heartRateBefore": round(level, 1)}
            if silent:
                evidence["secondsWithoutBeat"] = silent
            if source != sensor.name:
                evidence["levelFrom"] = source
            return self._finding(history, "bradycardia", history.now - 1, evidence)
        return None

    def _fell_too(self, history: History, level: float) -> bool:
        """Whether a fall to about half the level is the heart's, not missed peaks: the sensor's
        own rate has left the level, and the other sensor shows no beat at the level's pace."""
        tracked = self._tracked
        if tracked is None or tracked > (1.0 - TRACKED_FELL) * level:
            return False
        if self.sensor.witness is None:
            return True
        quality, intervals, gate = self.sensor.witness
        paced = 60000.0 / level
        return not any(
            abs(x / paced - 1.0) < DOUBLED
            for s in history.last(WITNESS_WITHIN)
            if (q := quality(s)) is not None and q >= gate
            for x in intervals(s)
        )

    def _rhythm(self, history: History, kept: list[tuple[float, float]]) -> Finding | None:
        sensor = self.sensor
        recent = [x for t, x in kept if t > history.now - RR_FAST_WITHIN]
        for n in (RR_FAST_FEWEST, RR_FAST_BEATS):
            fast = recent[-n:]
            if (
                len(fast) >= n
                and statistics.median(fast) < 60000.0 / RR_FAST_RATE
                and min(irregularity(fast), without_ectopics(fast)) > sensor.fast_irregular
            ):
                rate = 60000.0 / statistics.median(fast)
                evidence = _beat_evidence(rate, fast)
                return self._finding(history, "arrhythmia", history.now - 1, evidence)
        if sensor.witness is not None:
            last = [(t, x) for t, x in kept if t > history.now - RR_FAST_WITHIN]
            seconds = history.last(int(RR_FAST_WITHIN) + 1)
            witnessed = witnessed_fibrillation(last, seconds, sensor.witness, RR_FAST_RATE)
            if witnessed is not None:  # round 19 (`detectors.witnessed`)
                return self._finding(history, "arrhythmia", history.now - 1, witnessed)
        rhythm = [x for t, x in kept if t > history.now - RR_RHYTHM_WITHIN][-RR_RHYTHM_BEATS:]
        if len(rhythm) >= RR_RHYTHM_MIN and irregularity(rhythm) > sensor.irregular:
            self._irregular += 1
        else:
            self._irregular = 0
        if self._irregular < sensor.irregular_held:
            return None
        rate = 60000.0 / statistics.median(rhythm)
        return self._finding(
            history, "arrhythmia", history.now - self._irregular, _beat_evidence(rate, rhythm)
        )

    def _finding(
        self, history: History, kind: str, onset: float, evidence: dict[str, object]
    ) -> Finding:
        return _finding(history, kind, onset, {**evidence, "sensor": self.sensor.name})


def _beat_evidence(rate: float, rr: list[float]) -> dict[str, object]:
    return {"heartRate": round(rate, 1), "beats": len(rr), "intervals": "vehicle"}


def _finding(history: History, kind: str, onset: float, evidence: dict[str, object]) -> Finding:
    return Finding(
        "cardiac",
        kind,
        "high" if kind == "arrhythmia" else "critical",
        0.8,
        onset,
        {**evidence, "source": "vehicle"},
    )


def good(second: Second) -> bool:
    """Whether the car's wheel sensor was in good contact in that second."""
    return WHEEL.good(second)


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

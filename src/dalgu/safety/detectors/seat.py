"""The seat's heart sensor (ballistocardiography) as a third heart source, since round 10.

A sensor in the driver's seat (`CabinSensor.Seat.*`) feels each heartbeat without hands on the
wheel and keeps the heart through a faint while the driver stays seated; but road vibration
and body movement spoil it, and its beat timing is looser than an ECG's (false beats split an
interval, missed ones double it). The cardiac detector reads it last: only when the band is
lost or poor *and* the wheel has no good contact, with the wheel's beat rules
(`dalgu.safety.detectors.cabin.CabinBeats`) behind the seat's own quality gate and bars.

The bars were chosen on the tuning drives 1000-1319 only, as round 9 chose the wheel's: the
seat's rules were run on every second of every drive whatever the band and the wheel did
(stricter than the detector, which reads the seat far less often), and each finding outside
a medical event (5 s before its onset to 60 s after its end) counted as false
(docs/safety-evaluation.md, "Round 10"). What that showed, outside emergencies:

- Its false beats make the rhythm look irregular and fast: the median successive change
  reached 0.4-0.8 and the median of six intervals 149-173 bpm at every gate tried (0.6-0.75),
  so the seat is not read for arrhythmia, nor for tachycardia on its intervals alone (round
  15 reads it on its own rate too, below).
- Three slow steady intervals (the wheel's bradycardia rule) fell under 40 bpm at gates 0.6
  and 0.65 (as low as 32 bpm), not at 0.7 (lowest 52 bpm): bradycardia is read at 0.7, with
  the run ended by any poorer second.
- Good seconds without a beat: at gate 0.6, with up to six poor seconds pausing the count,
  at most 5 after beats and 4 from a fresh start: asystole is 6 and 5 s.

Round 11 checked the same rules over whole drives (round 10 started at 600 s, and a held-out
drive raised a false seat asystole at 457 s, its silence three short ones between poorer
seconds). No bar was crossed there, but a silence is now bounded in total too: up to six
poor seconds in all since the last beat, in a row or not, before the run ends (a silence made
mostly of seconds that could not be read was not measured). And the wheel's sudden-fall
bradycardia (two steady slow intervals after a fall by a third from the sensor's own level)
is read from the seat's beats at its 0.7 gate; at 0.6 and 0.65 it raised 21 and 7 false
findings on the tuning drives, at 0.7 none. Joining split intervals (pieces that sum to about
the median interval) before the rhythm rules was tried and not kept: at gate 0.6 the highest
irregularity outside emergencies fell only from 0.77 to 0.48 (eight fast intervals) and 0.58
to 0.38 (12-16), above what the fibrillation of the tuning drives showed at the seat.

Round 15 (docs/safety-evaluation.md, "Round 15"; tuning drives 1000-1319, every second of every
whole drive whatever the band and the wheel did):

- **Tachycardia on the seat's own rate** (`SEAT_RATE`). The rate it sends is the median
  interval of its last 8 s, and alone it is not to be believed: a jolt or a burst of false
  beats floods the window, and the rate stays high for seconds after the quality is back
  (332 bpm at quality 0.73, 198 bpm with all of the last 8 s at quality 0.5 or more; with the
  last 8 s at 0.6, 156 bpm in one second and 128 held three). So the rate must agree with the
  beats: the seat's rate of that second past the limit (150 bpm), at quality 0.6, and its last
  two intervals *as sent* (nothing left out: leaving out a missed peak's interval or a false
  beat's piece under 250 ms paired pieces that were not next to each other, two false findings)
  both past the limit and within 1.2 of each other (the wheel's two-interval rule of round 14).
  Over whole drives that raised no finding outside an emergency; the highest such reading
  outside one was 149 bpm (1192), so the margin is one bpm, over far more seconds than the
  detector reads the seat in (only with the band lost or poor and the wheel out of contact).
  It found the tuning drives' lost-band tachycardia 1185 at 6.7 s (14.7 s before, at the
  band's return).
- **Arrhythmia is still not read** from the seat: at gates 0.7-0.85, the fast irregular and the
  12-16 interval rules raised 78-348 false findings over whole tuning drives (rhythms just over
  100 bpm whose missed and jittered beats look irregular).
"""

from __future__ import annotations

from dalgu.safety.detectors.cabin import BeatSensor, seat_intervals, seat_quality
from dalgu.safety.history import Second

SEAT_RATE_GATE = 0.6  # the seat's quality from which its rate is read for tachycardia


def _seat_rate(second: Second) -> float | None:
    return second.seat_heart_rate


# a heart that stops: good seconds without a beat; a poor second (a jolt, a rough patch) is
# neither beat nor silence and pauses the count, up to `pause` of them in a row and
# `pause_total` in all
SEAT_SILENCE = BeatSensor(
    "seat",
    seat_quality,
    seat_intervals,
    gate=0.6,
    flat=6,
    fresh_flat=5,
    kinds=frozenset({"asystole"}),
    pause=6,
    pause_total=6,  # and six in all since the last beat (round 11)
)
# a slow heart: three slow, steady intervals, at a stricter gate (the seat's missed beats
# double intervals more often than the wheel's); no tachycardia or arrhythmia from the seat:
# its false beats split intervals
SEAT_BEATS = BeatSensor(
    "seat",
    seat_quality,
    seat_intervals,
    gate=0.7,
    brady_beats=3,
    sudden_beats=2,  # two after a sudden fall (round 11)
    kinds=frozenset({"bradycardia"}),
)
# (round 15) a very fast heart: the seat's own rate (the median interval of its last 8 s) past
# the limit, and its last two good intervals both past it and steady (the wheel's two-interval
# rule of round 14), at a stricter gate; neither alone is believed (see above)
SEAT_RATE = BeatSensor(
    "seat",
    seat_quality,
    seat_intervals,
    gate=SEAT_RATE_GATE,
    tachy_beats=None,
    quick_tachy_beats=2,
    quick_by_rate=True,
    rate=_seat_rate,
    kinds=frozenset({"tachycardia"}),
)
SEAT = (SEAT_SILENCE, SEAT_BEATS, SEAT_RATE)

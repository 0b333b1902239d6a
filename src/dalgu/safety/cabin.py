"""The car's own heart-rate sensor in a generated drive: a steering-wheel ECG.

Two electrodes on the rim (one under each hand) make a lead-I ECG whenever both hands hold the
wheel; the sensor detects R peaks, rejects intervals far from their neighbours, and once a
second reports the mean rate over the last 5 s (`Vehicle.Driver.HeartRate`, whole bpm) with a
contact/quality index (`CabinSensor.SignalQuality`, 0 without contact) and, since round 9, the
R-R intervals it measured since its last report (`CabinSensor.RRIntervals`, whole ms, as the
band's `Wearable.RRIntervals`). The model, chosen to be
conservative (no better than published wheel-ECG prototypes; every assumption is one of the
generator's, not a measurement):

- **Contact** comes and goes on its own (a two-state process: a hand leaves the wheel about
  once a minute, for a few seconds, more often in stop-and-go traffic and much more during a
  phone call, for longer then). About three quarters of normal driving has contact. A rate
  needs 5 s of unbroken contact (the averaging window) after every loss.
- **Artefacts**: a speed bump or a sharp wheel movement (hand-over-hand, a large correction)
  spoils the ECG for a few seconds (low quality, no rate or a wrong one); now and then the
  grip is poor (dry hands) for a few seconds to half a minute, with the same effect.
- **Noise**: 3 % of R peaks missed, 10 ms timing error, and a slow error of about 3 bpm on the
  reported rate (a few bpm worse than the band's beat-by-beat rate). An interval more than
  30 % shorter or 35 % longer than the last reading's (without one: the window's median) is
  rejected as a missed or extra peak, as rate-tracking sensors do (the lock is kept while
  the contact is); with no interval left, or no reading to follow, the window's median is
  the reference and three intervals must agree with it (so a slow heart, under about 45 bpm,
  is not locked on afresh after a lost contact); with fewer than three peaks there is no
  rate.
- **R-R intervals** are the detected peaks as they are (the same missed peaks and timing
  error: a missed peak makes one interval twice as long; the sensor does not correct them,
  as a chest strap does not), sent for each interval that ended in the last second when both
  of its peaks fell in unbroken clean contact. They need no averaging window, so they come
  from the first two peaks after the hands return. A spoiled contact that reports a garbage
  rate reports it as one garbage interval too (at the same low quality).
- **Independence**: its contact and artefacts are drawn from their own random stream and
  never look at the wearable (a band slipping off says nothing about the hands).
- **A collapse**: it sees the heart's real beats, so in asystole it has contact and no beats
  (quality kept, no rate: a flat ECG), until the driver loses consciousness; then the hands
  fall from the wheel within 0.5-2 s and contact is lost for the rest of the drive. Hypoxaemia
  is invisible to it (no SpO2). A seat sensor (ballistocardiography) would keep seeing the
  body after the hands drop; it is not modelled, so the generator stays on the cautious side.
- It knows no labels: it reads only the simulated heartbeat, the syncope time (when the
  body stops holding the wheel), the car's wheel angle, and the confounders that move hands.
"""

from __future__ import annotations

import numpy as np

from dalgu.safety.onboard import Reading
from dalgu.safety.physiology import Array, Body, confounder_level
from dalgu.safety.plan import DrivePlan

DT = 0.1
WINDOW = 5.0  # s the reported rate is averaged over
HANDS_OFF_EVERY = 60.0  # s between hands leaving the wheel, on average, cruising
HANDS_OFF_FOR = 4.0  # s a hand is off, median
SHARP_TURN = 60.0  # deg/s of wheel movement that takes the hands off the electrodes


def cabin_readings(
    plan: DrivePlan, body: Body, wheel: tuple[Array, Array], rng: np.random.Generator
) -> list[Reading]:
    """(time, quality, rate or None, R-R intervals in ms) once a second from the sensor;
    `wheel` is the car's (times, angles) as sent at 10 Hz."""
    n = int(plan.duration / DT)
    t = np.arange(n) * DT
    call = confounder_level(t, plan, "phone-call", 0.0)
    traffic = confounder_level(t, plan, "traffic", 0.0)
    contact = _contact(t, call, traffic, body.syncope, rng)
    spoiled = np.zeros(n, dtype=bool)
    for e in plan.of("speed-bump"):
        spoiled |= np.abs(t - e.onset) < rng.uniform(2.0, 4.0)
    times, angles = wheel
    if len(times) > 1:
        turning = np.abs(np.diff(angles)) / np.maximum(np.diff(times), DT)
        sharp = times[1:][turning > SHARP_TURN]
        for at in sharp:
            spoiled |= (t >= at) & (t < at + rng.uniform(1.5, 3.0))
    for _ in range(rng.poisson(plan.duration / 600.0)):  # a poor grip now and then
        start = rng.uniform(0, plan.duration)
        spoiled |= (t >= start) & (t < start + rng.lognormal(np.log(8.0), 0.6))
    # R peaks as the sensor detects them: the true beats, 10 ms error, 3 % missed
    detected = body.beats + rng.normal(0, 0.01, len(body.beats))
    detected = detected[rng.random(len(detected)) > 0.03]
    drift = _slow_noise(rng, int(plan.duration) + 2, tau=8.0, sd=3.0)
    phase = float(rng.integers(10)) * DT
    out: list[Reading] = []
    held = 0.0  # s of unbroken clean contact up to now
    tracked: float | None = None  # the last reading's mean interval, s, while readings follow
    for k, now in enumerate(np.arange(1.0, plan.duration, 1.0) + phase):
        i = min(int(now / DT), n - 1)
        lo = max(0, i - int(1.0 / DT) + 1)
        in_contact = bool(contact[lo : i + 1].all())
        clean = in_contact and not spoiled[lo : i + 1].any()
        held = held + 1.0 if clean else 0.0
        if not in_contact:
            out.append((float(now), 0.0, None, []))
            tracked = None
            continue
        if not clean:
            garbage = rng.random() < 0.3
            rate = float(rng.integers(40, 180)) if garbage else None
            spurious = [float(round(60000.0 / rate))] if rate is not None else []
            out.append((float(now), round(float(rng.uniform(0.05, 0.4)), 2), rate, spurious))
            tracked = None
            continue
        quality = round(float(np.clip(rng.normal(0.8, 0.07), 0.5, 1.0)), 2)
        rr = _new_intervals(detected, float(now), float(now) - held)
        if held < WINDOW:
            out.append((float(now), quality, None, rr))  # still filling its window
            continue
        interval = _interval(detected, float(now), tracked)
        tracked = interval or tracked  # the lock is kept while the contact is
        rate = None if interval is None else float(round(60.0 / interval + float(drift[k])))
        out.append((float(now), quality, rate, rr))
    return out


def _new_intervals(detected: Array, now: float, clean_since: float) -> list[float]:
    """The R-R intervals (ms) that ended in the last second, both peaks in clean contact."""
    peaks = detected[(detected > clean_since) & (detected <= now)]
    ended = np.diff(peaks)[peaks[1:] > now - 1.0]
    return [float(round(x * 1000.0)) for x in ended]


def _interval(detected: Array, now: float, tracked: float | None) -> float | None:
    """The mean R-R interval of the last `WINDOW` s of peaks, an interval far from the last
    reading's (or, without one, from the window's median) rejected as a missed or extra peak;
    None with fewer than three peaks (a flat ECG)."""
    peaks = detected[(detected > now - WINDOW) & (detected <= now)]
    if len(peaks) < 3:
        return None
    rr = np.diff(peaks)
    # locking on afresh (no reading to follow) takes three agreeing intervals: two missed
    # peaks in five make two long intervals that a median of three would take for the rate
    for reference, needed in ((tracked, 1), (float(np.median(rr)), 3)):
        if reference is None:
            continue
        kept = rr[(rr > 0.7 * reference) & (rr < 1.35 * reference)]
        if len(kept) >= needed:
            return float(kept.mean())
    return None


def _contact(
    t: Array, call: Array, traffic: Array, syncope: float | None, rng: np.random.Generator
) -> np.ndarray:
    """Both hands on the wheel, sample by sample: hands leave at a rate raised by traffic and
    phone calls, stay off for a lognormal while, and fall for good at a syncope."""
    n = len(t)
    on = np.ones(n, dtype=bool)
    hazard = (1.0 + 1.0 * traffic + 4.0 * call) / HANDS_OFF_EVERY * DT
    u = rng.random(n)
    i = int(rng.integers(0, 50))
    while i < n:
        if u[i] < hazard[i]:
            length = rng.lognormal(np.log(HANDS_OFF_FOR * (1 + 1.5 * call[i])), 0.7)
            on[i : i + int(length / DT) + 1] = False
            i += int(length / DT) + 1
        else:
            i += 1
    if syncope is not None:
        on &= t < syncope + rng.uniform(0.5, 2.0)
    return on


def _slow_noise(rng: np.random.Generator, n: int, tau: float, sd: float) -> Array:
    a = np.exp(-1.0 / tau)
    x = np.zeros(n)
    noise = rng.normal(0.0, sd * np.sqrt(1 - a * a), n)
    x[0] = rng.normal(0.0, sd)
    for k in range(1, n):
        x[k] = a * x[k - 1] + noise[k]
    return x

"""The car's heart sensor in the driver's seat in a generated drive: ballistocardiography.

A film or accelerometer sensor in the seat (cushion and backrest) feels the body's recoil at
each heartbeat (the J wave of the ballistocardiogram). It needs no hands on the wheel and keeps
the heart while the driver is seated, through a faint too; but it also feels the car. Once a
second it reports the mean rate of the last 8 s of beats (`CabinSensor.Seat.HeartRate`, whole
bpm), a quality index (`CabinSensor.Seat.SignalQuality`) and the beat-to-beat intervals it
measured since its last report (`CabinSensor.Seat.RRIntervals`, ms, raw). The model (every
assumption is the generator's, not a measurement; chosen to be noisier than the wheel's ECG,
as published seat-BCG prototypes are):

- **Road vibration** spoils it. A vibration level in 0..1 rises with speed (0 at 20 km/h,
  about 0.45 at 120 km/h), on rough stretches of road (about one every 7 minutes, 20-90 s
  long, +0.3-0.7; the seat model's own: the rest of the generator has a smooth road), and at
  a speed bump (1 for 2-4 s around it, the jolt), and falls as a car slows to a stop.
- **Beats as detected**: the true beats, with a timing error of 15 ms plus 35 ms per unit of
  vibration (a J wave is broader than an R wave), 5 % of beats missed plus 35 % per unit of
  vibration, and false beats (vibration peaks, breathing) about 0.03 a second plus 0.6 per
  unit of vibration squared. The sensor does not correct them: a missed beat makes one long
  interval, a false one two short ones.
- **Quality** is the sensor's own estimate of how much the car and the body shake the signal
  (its energy outside the heart's band), not of the beats, so a still body whose heart has
  stopped keeps it: about 0.9 less 0.75 per unit of vibration, with noise (the estimate is
  not perfect), so a fast road or a rough stretch brings it near or below 0.5.
- **Body movement** spoils it wholly for a few seconds (quality 0.05-0.35, no rate, now and
  then a garbage one): the driver shifts in the seat about every 90 s (lognormal, median
  3 s), three times as often during a phone call and half again in stop-and-go traffic.
- **A collapse**: at a faint (the syncope time) the body slumps, 1.5-4 s of movement; then it
  is still (no more shifting) and leaning, which weakens the signal (quality times 0.75-0.95),
  while the car coasts down, which calms the vibration. In asystole it feels no beats (only
  false ones); hypoxaemia is invisible to it (no SpO2).
- **Intervals** are sent for each interval that ended in the last second whose two beats fell
  outside movement; a rate once both the last 8 s are free of movement and hold at least four
  intervals (their median, not the mean: the false and missed beats would pull a mean).
- **Independence and labels**: it draws from its own random stream (`[seed, 0x5EA7]`), so
  every other signal of a seed's drive is what the same seed gave before it; it reads only
  the simulated beats, the syncope time, the car's speed as sent, and the confounders that
  move the body or shake the car (speed bumps, traffic, phone calls). No label reaches it.
"""

from __future__ import annotations

import numpy as np

from dalgu.safety.onboard import Reading
from dalgu.safety.physiology import Array, Body, confounder_level
from dalgu.safety.plan import DrivePlan

DT = 0.1
WINDOW = 8.0  # s the reported rate is taken over
SHIFTS_EVERY = 90.0  # s between the driver shifting in the seat, on average
SHIFT_FOR = 3.0  # s a shift lasts, median
ROUGH_EVERY = 420.0  # s between rough stretches of road, on average


def seat_readings(
    plan: DrivePlan, body: Body, speed: tuple[Array, Array], rng: np.random.Generator
) -> list[Reading]:
    """(time, quality, rate or None, intervals in ms) once a second from the seat sensor;
    `speed` is the car's (times, km/h) as sent at 10 Hz."""
    n = int(plan.duration / DT)
    t = np.arange(n) * DT
    vibration = vibration_level(t, plan, speed, rng)
    moving, slumped = _movement(t, plan, body.syncope, rng)
    detected = _detected_beats(body.beats, t, vibration, rng)
    posture = rng.uniform(0.75, 0.95)
    phase = float(rng.integers(10)) * DT
    out: list[Reading] = []
    still_since = 0.0  # when the body last stopped moving
    for now in np.arange(1.0, plan.duration, 1.0) + phase:
        i = min(int(now / DT), n - 1)
        lo = max(0, i - int(1.0 / DT) + 1)
        if moving[lo : i + 1].any():
            still_since = float(now)
            garbage = rng.random() < 0.3
            rate = float(rng.integers(40, 180)) if garbage else None
            spurious = [float(round(60000.0 / rate))] if rate is not None else []
            out.append((float(now), round(float(rng.uniform(0.05, 0.35)), 2), rate, spurious))
            continue
        shake = float(vibration[lo : i + 1].mean())
        quality = float(np.clip(rng.normal(0.9 - 0.75 * shake, 0.05), 0.05, 1.0))
        if slumped[i]:
            quality *= posture
        rr = _new_intervals(detected, float(now), still_since)
        rate = _rate(detected, float(now), still_since)
        out.append((float(now), round(quality, 2), rate, rr))
    return out


def vibration_level(
    t: Array, plan: DrivePlan, speed: tuple[Array, Array], rng: np.random.Generator
) -> Array:
    """0 (a car at rest on smooth road) .. 1 (a jolt), at each time of `t`."""
    times, kmh = speed
    v = np.interp(t, times, kmh) if len(times) else np.zeros_like(t)
    level = np.clip((v - 20.0) / 220.0, 0.0, 0.5)
    for _ in range(rng.poisson(plan.duration / ROUGH_EVERY)):
        start = rng.uniform(0, plan.duration)
        rough = (t >= start) & (t < start + rng.uniform(20.0, 90.0))
        level = level + rough * rng.uniform(0.3, 0.7) * (v > 5.0)
    for e in plan.of("speed-bump"):
        level = np.where(np.abs(t - e.onset) < rng.uniform(1.0, 2.0), 1.0, level)
    clipped: Array = np.clip(level, 0.0, 1.0)
    return clipped


def _detected_beats(beats: Array, t: Array, vibration: Array, rng: np.random.Generator) -> Array:
    """The J peaks the sensor finds: the true beats with timing error and misses, and false
    peaks, all growing with the vibration."""
    shake = np.interp(beats, t, vibration)
    jitter = rng.normal(0.0, 1.0, len(beats)) * (0.015 + 0.035 * shake)
    kept = rng.random(len(beats)) > 0.05 + 0.35 * shake
    found = (beats + jitter)[kept]
    false_rate = 0.03 + 0.6 * vibration**2  # per second
    at = t[rng.random(len(t)) < false_rate * DT]
    false = at + rng.uniform(0, DT, len(at))
    return np.sort(np.concatenate([found, false]))


def _new_intervals(detected: Array, now: float, still_since: float) -> list[float]:
    """The intervals (ms) that ended in the last second, both beats after the last movement."""
    peaks = detected[(detected > still_since) & (detected <= now)]
    ended = np.diff(peaks)[peaks[1:] > now - 1.0]
    return [float(round(x * 1000.0)) for x in ended]


def _rate(detected: Array, now: float, still_since: float) -> float | None:
    """The rate of the last `WINDOW` s: the median interval, with at least four intervals and
    no movement in the window."""
    if now - still_since < WINDOW:
        return None
    peaks = detected[(detected > now - WINDOW) & (detected <= now)]
    if len(peaks) < 5:
        return None
    return float(round(60.0 / float(np.median(np.diff(peaks)))))


def _movement(
    t: Array, plan: DrivePlan, syncope: float | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(moving, slumped) sample by sample: the driver shifts now and then, more on the phone
    and in traffic; at a syncope the body slumps once and is still after."""
    n = len(t)
    moving = np.zeros(n, dtype=bool)
    call = confounder_level(t, plan, "phone-call", 0.0)
    traffic = confounder_level(t, plan, "traffic", 0.0)
    hazard = (1.0 + 0.5 * traffic + 2.0 * call) / SHIFTS_EVERY * DT
    u = rng.random(n)
    i = int(rng.integers(0, 50))
    while i < n:
        if u[i] < hazard[i]:
            length = int(rng.lognormal(np.log(SHIFT_FOR), 0.6) / DT) + 1
            moving[i : i + length] = True
            i += length
        else:
            i += 1
    slumped = np.zeros(n, dtype=bool)
    if syncope is not None:
        conscious = t < syncope
        moving &= conscious  # an unconscious driver does not shift in the seat
        moving |= (t >= syncope) & (t < syncope + rng.uniform(1.5, 4.0))
        slumped = ~conscious
    return moving, slumped

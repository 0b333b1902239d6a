"""The car's SpO2 estimate from its driver-monitoring camera in a generated drive (round 12).

A driver-monitoring camera sees the face; remote photoplethysmography (rPPG) reads the pulse
in the skin's colour and, from the ratio of its pulsatile to steady parts at two wavelengths
(the "ratio of ratios" of a pulse oximeter), estimates SpO2. Once a second it reports an
estimate over the last 8 s of frames (`CabinSensor.Camera.SpO2`, whole %) and its quality
(`CabinSensor.Camera.SignalQuality`, 0..1). No such estimate is clinically validated or sold
for cars (Pirzada et al. 2023, a review); the model is the generator's, an assumption grounded
in published accuracies, not a measurement:

- **Error at rest**: camera SpO2 studies report mean absolute errors of about 1.3-4 points on
  still, lit faces (Cheng et al. 2024, Bioengineering 11:251: 1.27 on VIPL-HR; Akamatsu et al.
  2023, 50 subjects; the review of Gupta et al. 2022), over mostly normal saturations. Here: a
  bias per drive (skin, camera, calibration; sd 1 point) and an error that changes slowly
  (the 8-s windows overlap; time constant 6 s) of sd 1.2 points at full quality, 1.2 + 3.5 per
  unit of quality lost (about 2.5 at 100 km/h by day): a mean absolute error near 1.4 parked
  and 2-3 driving.
- **A desaturation's depth is under-read**: the studies hold few low saturations, and a
  model trained on them pulls its estimates towards the normal range; below 96 % the
  estimate's departure is scaled by a gain drawn per drive (0.7-1.0).
- **The face must be in view**: frames with the eyes off the road (the camera's own gaze
  signal: a glance to a mirror or a phone, a head turned; a long blink counts too, which is
  conservative) carry no pulse; with under 60 % of a window's frames in view there is no
  estimate (quality 0-0.2, no SpO2). At a faint the head drops and the eyes are off, so the
  face is lost.
- **Vibration and the dark** lower the quality (Hernandez-Ortega et al. 2019, a dashboard NIR
  camera in a moving car; on the MR-NIRP Car set, heart-rate errors grow from 7.5 to 16.6 bpm
  with small head motion): a vibration level rising with speed (0 at 20 km/h, 0.4 at 100) and
  1 for 2-3 s at a speed bump; at night (local time in Daegu, UTC+9, 19:00-07:00) the camera
  has its own infrared light only, and the quality is 0.2 lower. Quality = 0.95 - 0.8 x
  vibration - 0.5 x the share of frames out of view - night, and the sensor's estimate of it
  is off by sd 0.05.
- **Outliers**: a face tracker that jumps gives a wild estimate now and then (1 % of the
  estimates plus 5 % per unit of quality lost; 80-100 %).
- **Independence and labels**: its own random stream (`[seed, 0xCA3E]`), so every other
  signal of a seed's drive is what the same seed gave before; it reads only the body's SpO2,
  the car's speed and gaze as sent, the speed bumps and the drive's start time. No label
  reaches it.
"""

from __future__ import annotations

import numpy as np

from dalgu.safety.physiology import Array, Body
from dalgu.safety.plan import DrivePlan

DT = 0.1
WINDOW = 8.0  # s of frames an estimate is taken over
IN_VIEW = 0.6  # share of the window's frames with the face in view for an estimate
DRIFT = 6.0  # s, time constant of the estimate's slowly changing error
NIGHT_PENALTY = 0.2
UTC_OFFSET = 9  # hours: the generated drives are in Daegu

# (time s, quality, SpO2 % or None): one report of the camera
Estimate = tuple[float, float, float | None]


def is_night(start_hour_utc: int) -> bool:
    """Whether a drive starting at this UTC hour is driven in the dark (19:00-07:00 local)."""
    local = (start_hour_utc + UTC_OFFSET) % 24
    return local >= 19 or local < 7


def camera_estimates(
    plan: DrivePlan,
    body: Body,
    speed: tuple[Array, Array],
    gaze: tuple[Array, Array],
    night: bool,
    rng: np.random.Generator,
) -> list[Estimate]:
    """(time, quality, SpO2 or None) once a second from the camera; `speed` is the car's
    (times, km/h) and `gaze` its (times, 1 eyes on the road / 0 off) as sent at 10 Hz."""
    n = int(plan.duration / DT)
    t = np.arange(n) * DT
    saturation = np.interp(t, body.t, body.spo2)
    visible = _in_view(t, gaze)
    vibration = _vibration(t, plan, speed, rng)
    bias = float(rng.normal(0.0, 1.0))
    gain = float(rng.uniform(0.7, 1.0))
    drift = _slow_noise(n, rng)
    phase = float(rng.integers(10)) * DT
    out: list[Estimate] = []
    for now in np.arange(1.0, plan.duration, 1.0) + phase:
        i = min(int(now / DT), n - 1)
        lo = max(0, i - int(WINDOW / DT) + 1)
        seen = visible[lo : i + 1]
        share = float(seen.mean())
        if share < IN_VIEW:
            out.append((float(now), round(float(rng.uniform(0.0, 0.2)), 2), None))
            continue
        quality = (
            0.95
            - 0.8 * float(vibration[lo : i + 1].mean())
            - 0.5 * (1.0 - share)
            - (NIGHT_PENALTY if night else 0.0)
        )
        quality = float(np.clip(quality, 0.05, 1.0))
        true = float(saturation[lo : i + 1][seen].mean())
        read = true if true >= 96.0 else 96.0 - gain * (96.0 - true)
        estimate = read + bias + (1.2 + 3.5 * (1.0 - quality)) * float(drift[i])
        if rng.random() < 0.01 + 0.05 * (1.0 - quality):
            estimate = float(rng.uniform(80.0, 100.0))
        reported = float(np.clip(rng.normal(quality, 0.05), 0.0, 1.0))
        out.append((float(now), round(reported, 2), float(round(min(estimate, 100.0)))))
    return out


def _in_view(t: Array, gaze: tuple[Array, Array]) -> np.ndarray:
    """Whether the face is in view at each time (eyes on the road); in view where the car sent
    nothing (its estimates are lost with the telematics anyway)."""
    times, on = gaze
    if not len(times):
        return np.ones(len(t), dtype=bool)
    k = np.clip(np.searchsorted(times, t), 0, len(times) - 1)
    near = np.abs(times[k] - t) < 0.15
    return np.where(near, on[k] > 0.5, True)


def _vibration(
    t: Array, plan: DrivePlan, speed: tuple[Array, Array], rng: np.random.Generator
) -> Array:
    """0 (still) .. 1 (a jolt): rising with speed, 1 at a speed bump."""
    times, kmh = speed
    v = np.interp(t, times, kmh) if len(times) else np.zeros_like(t)
    level = np.clip((v - 20.0) / 200.0, 0.0, 0.5)
    for e in plan.of("speed-bump"):
        level = np.where(np.abs(t - e.onset) < rng.uniform(1.0, 1.5), 1.0, level)
    clipped: Array = np.clip(level, 0.0, 1.0)
    return clipped


def _slow_noise(n: int, rng: np.random.Generator) -> Array:
    """Unit-variance noise that changes with a time constant of `DRIFT` s."""
    a = float(np.exp(-DT / DRIFT))
    steps = rng.normal(0.0, np.sqrt(1.0 - a * a), n)
    x = np.empty(n)
    level = float(rng.normal())
    for i in range(n):
        level = a * level + float(steps[i])
        x[i] = level
    return x

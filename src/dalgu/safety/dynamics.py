"""The car on the road in a generated drive, at 10 Hz, and what its telematics unit sends.

A point-mass car keeps its lane under a preview driver model (the driver corrects the lateral
offset and heading error they expect `preview` seconds ahead, at intervals, with motor noise),
on a road of straights and curves under a wandering crosswind. Drowsiness lengthens the
intervals (fewer small steering reversals), adds lapses with the eyes closed and no correction
(the car drifts, curves are missed) followed by large corrections, and loosens speed keeping;
incapacitation takes the hands off the wheel and the foot off the pedal. A lane-departure
warning is raised past 0.85 m from the lane centre above 60 km/h, as production systems do.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from dalgu.safety import signals as vss
from dalgu.safety.drivers import DriverProfile
from dalgu.safety.physiology import Array, confounder_level, drowsiness_level
from dalgu.safety.plan import DrivePlan
from dalgu.safety.scenario import Sample

DT = 0.1
RATIO = 15.0  # steering ratio
WHEELBASE = 2.8  # m
LANE_LIMIT = 0.85  # m from the centre where the warning starts
DAEGU = (35.8714, 128.6014)


def road_curvature(rng: np.random.Generator, length: float) -> tuple[Array, Array]:
    """Segment starts (m) and their curvatures (1/m): straights and curves of 400–1500 m radius."""
    starts, curvatures, s = [], [], 0.0
    while s < length:
        starts.append(s)
        straight = rng.random() < 0.55
        curvatures.append(0.0 if straight else float(rng.choice([-1, 1]) / rng.uniform(400, 1500)))
        s += float(rng.uniform(300, 1500))
    return np.asarray(starts), np.asarray(curvatures)


def vehicle_samples(
    profile: DriverProfile,
    plan: DrivePlan,
    syncope: float | None,
    rng: np.random.Generator,
) -> list[Sample]:
    n = int(plan.duration / DT)
    t = np.arange(n) * DT
    drowsy = drowsiness_level(t, plan)
    stress = confounder_level(t, plan, "traffic", 30.0)
    call = confounder_level(t, plan, "phone-call", 5.0)
    bumps = np.zeros(n)
    for e in plan.of("speed-bump"):
        bumps = np.maximum(bumps, np.clip(1 - np.abs(t - e.onset) / 6.0, 0, 1))
    seg_start, seg_curv = road_curvature(rng, 120.0 * plan.duration / 3.6 * 1.2)
    phase = rng.uniform(0, 2 * math.pi)
    stop_go = np.maximum(0.0, 20.0 + 18.0 * np.sin(2 * math.pi * t / 45.0 + phase))
    v_target = (profile.cruise_speed * (1 - stress) + stress * stop_go) * (1 - 0.8 * bumps)
    u = rng.random((n, 4))
    noise = rng.normal(0.0, 1.0, (n, 4))
    wind_a = math.exp(-DT / 3.0)
    wind_sd = 2.0e-4 * math.sqrt(1 - wind_a * wind_a)

    y = psi = wind = throttle = delta = fb = 0.0
    v = profile.cruise_speed / 3.6
    s = 0.0
    segment = 0
    heading = float(rng.uniform(0, 2 * math.pi))
    lat, lon = DAEGU[0] + rng.uniform(-0.05, 0.05), DAEGU[1] + rng.uniform(-0.05, 0.05)
    next_correction = lapse_until = eyes_off_until = 0.0
    boost = 1.0
    incapacitated_at = syncope if syncope is not None else math.inf
    k_wheel = math.pi / 180.0 / (RATIO * WHEELBASE)  # wheel degrees -> path curvature
    speed, wheel, lateral, lat_deg, lon_deg = (np.zeros(n) for _ in range(5))
    warning, eyes = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    for i in range(n):
        now = float(t[i])
        d = float(drowsy[i])
        while segment + 1 < len(seg_start) and s >= seg_start[segment + 1]:
            segment += 1
        kr = float(seg_curv[segment])
        wind = wind_a * wind + wind_sd * noise[i, 0]
        incapacitated = now >= incapacitated_at
        if incapacitated:
            v = max(0.0, v - 0.6 * DT)
            delta += (0.0 - delta) * DT / 1.5 + 0.02 * noise[i, 1]  # the wheel self-centres
            eyes_on = False
        else:
            throttle = 0.98 * throttle + 0.2 * (1 + 2.5 * d) * profile.throttle_noise * noise[i, 2]
            v += ((float(v_target[i]) + throttle) / 3.6 - v) * DT / 4.0
            v = max(v, 0.0)
            if now >= lapse_until and u[i, 0] < (max(0.0, d - 0.35) * 9.0 / 60.0) * DT:
                lapse_until = now + 1.0 + 2.5 * float(u[i, 1])
                eyes_off_until = lapse_until
                boost = 1.8 + 1.2 * float(u[i, 2])
            lapsed = now < lapse_until
            if not lapsed and now >= next_correction:
                spread = 0.5 + float(u[i, 3])
                interval = (
                    profile.correction_interval
                    * (1 + 1.6 * d)
                    * spread
                    * (1 - 0.25 * float(stress[i]))
                )
                # a correction held longer is made gentler, or the driver would overshoot
                tp = max(profile.preview, 1.3 * interval)
                ve = max(v, 4.0)
                kc = -2.0 * (y + ve * tp * psi) / (ve * tp) ** 2 * boost
                fb = max(-120.0, min(120.0, kc / k_wheel))
                boost = 1.0
                next_correction = now + interval
            if not lapsed:
                target = kr / k_wheel + fb
                delta += (target - delta) * DT / 0.25
                delta += profile.steering_noise * (1 + 0.5 * float(call[i])) * noise[i, 1] * 0.3
            if bumps[i] > 0.95:
                delta += 3.0 * noise[i, 3]
            if now >= eyes_off_until:
                rate = profile.glance_rate * (1 + 0.5 * float(stress[i]) + 0.8 * float(call[i]))
                if u[i, 1] < rate / 60.0 * DT:
                    eyes_off_until = now + max(0.3, rng.exponential(profile.glance_length))
                elif u[i, 2] < 8.0 * d * d / 60.0 * DT:  # long blinks
                    eyes_off_until = now + 0.4 + 0.5 * float(u[i, 3])
            eyes_on = now >= eyes_off_until
        kv = delta * k_wheel
        psi += v * (kv - kr - wind) * DT
        y += v * psi * DT
        s += v * DT
        heading += v * kv * DT
        lat += v * math.cos(heading) * DT / 111_320.0
        lon += v * math.sin(heading) * DT / (111_320.0 * math.cos(math.radians(lat)))
        speed[i], wheel[i], lat_deg[i], lon_deg[i] = v * 3.6, delta, lat, lon
        lateral[i] = v * v * kv + 0.15 * noise[i, 3] + 2.0 * float(bumps[i] > 0.95) * noise[i, 2]
        warning[i] = abs(y) > LANE_LIMIT and v * 3.6 > 60.0
        eyes[i] = eyes_on
        if abs(y) > 1.8 and not incapacitated:  # the driver startles back into the lane
            y *= 0.5
            psi *= 0.2
    sent = np.ones(n, dtype=bool)
    for g in plan.of("telematics-gap"):
        sent &= (t < g.onset) | (t > g.end)
    return _samples(t, sent, speed, wheel, lateral, warning, eyes, lat_deg, lon_deg)


def _samples(
    t: Array,
    sent: NDArray[np.bool_],
    speed: Array,
    wheel: Array,
    lateral: Array,
    warning: NDArray[np.bool_],
    eyes: NDArray[np.bool_],
    lat: Array,
    lon: Array,
) -> list[Sample]:
    rows = zip(
        np.round(t, 1).tolist(),
        np.round(speed, 2).tolist(),
        np.round(wheel, 2).tolist(),
        np.round(lateral, 3).tolist(),
        warning.tolist(),
        eyes.tolist(),
        np.round(lat, 6).tolist(),
        np.round(lon, 6).tolist(),
        sent.tolist(),
        strict=True,
    )
    out: list[Sample] = []
    for i, (now, v, d, a, w, e, la, lo, ok) in enumerate(rows):
        if not ok:
            continue
        sample: dict[str, float | bool | list[float] | None] = {
            vss.SPEED: v,
            vss.STEERING: d,
            vss.LATERAL_ACCELERATION: a,
            vss.LANE_WARNING: w,
            vss.EYES_ON_ROAD: e,
        }
        if i % 10 == 0:
            sample[vss.LATITUDE] = la
            sample[vss.LONGITUDE] = lo
        out.append(Sample(now, "vehicle", sample))
    return out

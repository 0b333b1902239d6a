"""The driver's body in a generated drive: beats, breathing, SpO2, and what the wearable sends.

Breathing is NeuroKit2's respiration model (`rsp_simulate`, breathmetrics method) in one-minute
pieces whose rate follows the driver's state; it drives the respiratory sinus arrhythmia of the
heart rate, to which a 0.1 Hz (Mayer) wave, slow noise and the events' changes are added. Beats
come from an integral pulse-frequency model of that heart rate; arrhythmia, asystole and ectopic
beats change the beat train itself. The wearable then reports, once a second, the beats it saw
(with its own timing error), a running heart rate, SpO2 and a quality index, and fails the way
wrist bands do (slipping, motion, radio drop-outs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dalgu.safety import signals as vss
from dalgu.safety.drivers import DriverProfile
from dalgu.safety.plan import DrivePlan
from dalgu.safety.scenario import Sample

FS = 4.0  # Hz of the heart-rate model
Array = NDArray[np.floating[Any]]


def ramp(t: Array, start: float, full: float) -> Array:
    """0 before `start`, 1 after `full`, linear between."""
    level: Array = np.clip((t - start) / max(full - start, 1e-9), 0.0, 1.0)
    return level


def window(t: Array, onset: float, end: float, edge: float) -> Array:
    """1 inside [onset, end] with linear edges of `edge` seconds."""
    level: Array = np.minimum(ramp(t, onset - edge, onset), 1.0 - ramp(t, end, end + edge))
    return level


def drowsiness_level(t: Array, plan: DrivePlan) -> Array:
    """0 awake … 1 fighting sleep; it begins before the labelled onset (the body goes first)."""
    level = np.zeros_like(t)
    for e in plan.of("drowsiness"):
        lead = float(e.detail.get("lead", 240.0))
        rising = 0.45 * ramp(t, e.onset - lead, e.onset) + 0.55 * ramp(t, e.onset, e.onset + 150)
        level = np.maximum(level, rising * (1.0 - ramp(t, e.end, e.end + 60)))
    return level


def confounder_level(t: Array, plan: DrivePlan, kind: str, edge: float = 20.0) -> Array:
    level = np.zeros_like(t)
    for e in plan.of(kind):
        level = np.maximum(level, window(t, e.onset, e.end, edge))
    return level


@dataclass
class Body:
    t: Array  # the FS grid
    heart_rate: Array
    spo2: Array
    beats: Array  # beat times, s
    syncope: float | None  # when the driver lost consciousness


def simulate_body(profile: DriverProfile, plan: DrivePlan, rng: np.random.Generator) -> Body:
    t = np.arange(0.0, plan.duration + 2.0, 1.0 / FS)
    drowsy = drowsiness_level(t, plan)
    stress = confounder_level(t, plan, "traffic", 60.0)
    call = confounder_level(t, plan, "phone-call", 10.0)
    rate = profile.respiration - 3.5 * drowsy + 3.0 * stress + 2.0 * call
    breathing = _respiration(t, rate, rng)
    rsa = profile.rsa * (1.0 + 1.1 * drowsy) * (1.0 - 0.5 * stress) * (1.0 - 0.4 * call)
    mayer_f = rng.uniform(0.08, 0.11)
    mayer = (
        profile.mayer * (1.0 + 0.5 * drowsy) * np.sin(2 * np.pi * mayer_f * t + rng.uniform(0, 6))
    )
    wander = _ou(rng, len(t), 1.0 / FS, tau=40.0, sd=1.5)
    hr_stress = rng.uniform(10, 25)
    base = (
        profile.heart_rate
        - 2.0 * t / 3600.0
        + hr_stress * stress
        + rng.uniform(3, 8) * call
        - rng.uniform(4, 9) * drowsy
    )
    hr = base + wander + rsa * breathing + mayer
    spo2 = profile.spo2 + _ou(rng, len(t), 1.0 / FS, tau=60.0, sd=0.4)
    syncope: float | None = None
    af: list[tuple[float, float, float]] = []
    stops: list[tuple[float, float]] = []
    for e in plan.events:
        subtype = e.detail.get("subtype")
        if subtype == "bradycardia":
            target = rng.uniform(26, 37)
            hr = hr + (target - hr) * np.minimum(ramp(t, e.onset - 6, e.onset + 6), 1) * (
                1 - ramp(t, e.end, e.end + 20)
            )
            if rng.random() < 0.5:
                syncope = e.onset + float(rng.uniform(8, 20))
        elif subtype == "tachycardia":
            target = rng.uniform(165, 205)
            hr = hr + (target - hr) * ramp(t, e.onset - 5, e.onset + 6) * (
                1 - ramp(t, e.end, e.end + 20)
            )
        elif subtype == "arrhythmia":
            af.append((e.onset, e.end, float(rng.uniform(100, 150))))
        elif subtype == "asystole":
            stops.append((e.onset, e.end))
            syncope = e.onset + float(rng.uniform(4, 8))
        elif e.type == "hypoxaemia":
            fall = rng.uniform(0.3, 0.8)  # %/s
            nadir = rng.uniform(76, 86)
            start = e.onset - (profile.spo2 - 90.0) / fall
            drop = np.clip((t - start) * fall, 0, profile.spo2 - nadir) * (t < e.end + 30)
            spo2 = spo2 - drop
            hr = hr + 12.0 * ramp(t, start, e.onset + 20)
        elif e.type == "incapacitation":
            syncope = e.onset
    beats = _beats(t, np.clip(hr, 20, 230), rng)
    for onset, end, mean_rate in af:
        inside = (beats >= onset) & (beats <= end)
        irregular = np.cumsum(60.0 / mean_rate * np.clip(rng.normal(1, 0.2, 600), 0.45, 1.8))
        irregular = onset + irregular[onset + irregular <= end]
        beats = np.sort(np.concatenate([beats[~inside], irregular]))
    for onset, end in stops:
        beats = beats[(beats < onset) | (beats > end)]
    beats = _ectopics(beats, profile.ectopics, rng)
    return Body(t, hr, np.clip(spo2, 50, 100), beats, syncope)


def _respiration(t: Array, rate: Array, rng: np.random.Generator) -> Array:
    """NeuroKit2 breathing, a minute at a time at that minute's rate, scaled to about ±1."""
    import neurokit2 as nk  # ~2.7 s (it loads scikit-learn): only where drives are generated

    pieces = []
    per = int(60 * FS)
    for start in range(0, len(t), per):
        piece_rate = float(np.clip(rate[start : start + per].mean(), 6, 30))
        piece = nk.rsp_simulate(
            duration=60,
            sampling_rate=int(FS),
            respiratory_rate=piece_rate,
            method="breathmetrics",
            random_state=int(rng.integers(2**31)),
        )
        pieces.append(np.asarray(piece, dtype=np.float64))
    signal = np.concatenate(pieces)[: len(t)]
    signal = signal - signal.mean()
    scaled: Array = signal / (np.std(signal) * np.sqrt(2.0) + 1e-9)
    return scaled


def _ou(rng: np.random.Generator, n: int, dt: float, tau: float, sd: float) -> Array:
    """An Ornstein-Uhlenbeck path (slow random wander) with stationary deviation `sd`."""
    from scipy.signal import lfilter

    a = np.exp(-dt / tau)
    noise = rng.normal(0.0, sd * np.sqrt(1 - a * a), n)
    return np.asarray(lfilter([1.0], [1.0, -a], noise), dtype=np.float64)


def _beats(t: Array, hr: Array, rng: np.random.Generator) -> Array:
    """Integral pulse-frequency model: a beat whenever the integrated rate passes a whole number."""
    phase = np.concatenate([[0.0], np.cumsum(hr[:-1] / 60.0 / FS)]) + rng.uniform(0, 1)
    whole = np.arange(np.ceil(phase[0]), np.floor(phase[-1]) + 1)
    return np.asarray(np.interp(whole, phase, t), dtype=np.float64)


def _ectopics(beats: Array, per_minute: float, rng: np.random.Generator) -> Array:
    """Premature beats (early by a third of an interval) now and then, as healthy hearts have."""
    if per_minute <= 0 or len(beats) < 3:
        return beats
    beats = beats.copy()
    count = rng.poisson(per_minute * (beats[-1] - beats[0]) / 60.0)
    for i in rng.integers(1, len(beats) - 1, count):
        beats[i] -= (beats[i] - beats[i - 1]) * 0.33
    return beats


def wearable_samples(
    profile: DriverProfile, plan: DrivePlan, body: Body, rng: np.random.Generator
) -> list[Sample]:
    """Once a second: the beats seen, a running heart rate, SpO2 and signal quality."""
    seconds = np.arange(1.0, plan.duration, 1.0) + rng.uniform(0, 0.9)
    measured = body.beats + rng.normal(0, profile.beat_jitter, len(body.beats))
    spo2 = np.interp(seconds, body.t, body.spo2)
    motion = np.zeros(len(seconds))
    for e in plan.of("speed-bump"):
        motion = np.maximum(motion, (np.abs(seconds - e.onset) < 3).astype(float))
    motion = np.maximum(motion, 0.3 * confounder_level(seconds, plan, "traffic", 0.0))
    slips = {id(e): ("off" if rng.random() < 0.6 else "loose") for e in plan.of("wearable-slip")}
    samples: list[Sample] = []
    recent: list[float] = []
    for k, now in enumerate(seconds):
        if any(e.onset <= now <= e.end for e in plan.of("wearable-dropout")):
            continue
        slip = next(
            (slips[id(e)] for e in plan.of("wearable-slip") if e.onset <= now <= e.end), None
        )
        if slip == "off":
            samples.append(
                Sample(float(now), "wearable", {vss.IS_WORN: False, vss.SIGNAL_QUALITY: 0.0})
            )
            recent.clear()
            continue
        if slip == "loose":
            garbage = rng.random() < 0.5
            samples.append(
                Sample(
                    float(now),
                    "wearable",
                    {
                        vss.IS_WORN: True,
                        vss.SIGNAL_QUALITY: round(float(rng.uniform(0.0, 0.35)), 2),
                        vss.HEART_RATE: float(rng.integers(30, 200)) if garbage else None,
                        vss.RR_INTERVALS: [float(rng.integers(300, 1600))] if garbage else [],
                        vss.SPO2: float(rng.integers(70, 100)) if garbage else None,
                    },
                )
            )
            recent.clear()
            continue
        new = measured[(measured > now - 1.0) & (measured <= now)]
        previous = measured[measured <= now - 1.0]
        edges = np.concatenate([previous[-1:], new])
        rr = [round(float(x) * 1000.0) for x in np.diff(edges)] if len(edges) > 1 else []
        recent = (recent + rr)[-5:]
        no_pulse = len(previous) > 0 and now - float(previous[-1]) > 3.0 and len(new) == 0
        quality = float(np.clip(rng.normal(0.86, 0.06), 0, 1)) * (1 - 0.55 * motion[k])
        if no_pulse:  # in contact, but nothing pulsatile to see
            quality = float(rng.uniform(0.25, 0.6))
            recent.clear()
        heart = round(60000.0 / float(np.mean(recent)), 1) if recent else None
        reading = round(float(spo2[k] + rng.normal(0, 0.6)))
        if motion[k] > 0.5 and rng.random() < 0.4:  # a jolt: a spurious reading or two
            heart = float(rng.integers(35, 190))
            reading = int(rng.integers(80, 92))
        samples.append(
            Sample(
                float(now),
                "wearable",
                {
                    vss.IS_WORN: True,
                    vss.SIGNAL_QUALITY: round(float(quality), 2),
                    vss.HEART_RATE: heart,
                    vss.RR_INTERVALS: [float(x) for x in rr],
                    vss.SPO2: float(min(reading, 100)) if not no_pulse else None,
                },
            )
        )
    return samples

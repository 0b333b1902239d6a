"""Simulated drivers: each has their own awake baseline, so no single threshold fits them all."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class DriverProfile:
    """One driver's physiology and driving style, drawn once per driver id."""

    driver: str
    heart_rate: float  # bpm while driving, awake
    rsa: float  # respiratory sinus arrhythmia amplitude, bpm
    mayer: float  # low-frequency (0.1 Hz) heart-rate wave amplitude, bpm
    respiration: float  # breaths per minute
    ectopics: float  # ectopic beats per minute
    beat_jitter: float  # the wearable's beat-timing error, s (PPG peak detection)
    spo2: float  # %
    correction_interval: float  # mean seconds between steering corrections
    steering_noise: float  # degrees of motor noise on the wheel
    preview: float  # seconds the driver looks ahead when correcting (gentle or sharp)
    glance_rate: float  # glances off the road (mirrors, dashboard) per minute
    glance_length: float  # mean glance, s
    cruise_speed: float  # km/h on the open road
    throttle_noise: float  # km/h standard deviation of speed keeping


def driver_profile(driver: str, seed: int) -> DriverProfile:
    """The same driver id and seed give the same person."""
    rng = np.random.default_rng([seed, 7919])
    return DriverProfile(
        driver=driver,
        heart_rate=float(np.clip(rng.normal(72, 9), 52, 98)),
        rsa=float(np.clip(rng.lognormal(np.log(3.5), 0.45), 1.0, 12.0)),
        mayer=float(np.clip(rng.lognormal(np.log(1.8), 0.4), 0.5, 6.0)),
        respiration=float(rng.uniform(11, 18)),
        ectopics=float(rng.choice([0.0, 0.2, 0.5, 1.5], p=[0.4, 0.3, 0.2, 0.1])),
        beat_jitter=float(rng.uniform(0.004, 0.012)),
        spo2=float(rng.uniform(94.5, 99.0)),
        correction_interval=float(rng.uniform(0.5, 1.3)),
        steering_noise=float(rng.uniform(0.15, 0.6)),
        preview=float(rng.uniform(1.2, 2.2)),
        glance_rate=float(rng.uniform(1.5, 7.0)),
        glance_length=float(rng.uniform(0.5, 1.1)),
        cruise_speed=float(rng.uniform(80, 110)),
        throttle_noise=float(rng.uniform(0.8, 2.5)),
    )

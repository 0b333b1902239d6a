"""A vehicle's recent past, one second at a time: what the detectors read.

Samples arrive at 10 Hz (vehicle) and 1 Hz (wearable); each closed second is summarised in a
`Second` (with the 10 Hz steering kept whole) and the last `HISTORY` seconds are kept. The
car's own heart sensors ride in the vehicle samples (about once a second: the wheel's and,
since round 10, the seat's; since round 12, the camera's SpO2 estimate), each one's rate,
intervals or SpO2 with its quality; a rate or
intervals sent without the quality are not believed, since nothing says the sensor was in
contact.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from dalgu.safety import signals as vss
from dalgu.safety.scenario import Sample

HISTORY = 300  # seconds kept
RATE_SECONDS = 30  # seconds of the car's sample counts its sampling rate is the median of
EXPECTED_RATE = 10.0  # Hz, the car's rate until it has shown its own
FULL = 0.8  # share of the car's rate a second needs to be read as whole (8 of 10 at 10 Hz)
LEAST = 2  # samples a second needs all the same: a car under 2 Hz is not read
COVERED = 0.15  # s: a 10 Hz stream with a sample this close to a second's end has sent it all


@dataclass(slots=True)
class Second:
    """What arrived during the second ending at `t` (None: not sent)."""

    t: float
    vehicle_samples: int = 0
    speed: float | None = None  # mean km/h
    steering: list[float] = field(default_factory=list)  # the 10 Hz wheel angles
    lane_warning_onsets: int = 0
    eyes_off: float = 0.0  # fraction of the second the eyes were off the road
    eyes_off_run: float = 0.0  # how long the eyes had been off at the second's end, s
    brake: float | None = None  # the brake pedal's furthest in the second, % (None: not sent)
    # the car's in-cabin heart-rate sensor: its last quality and rate sent in the second
    # (quality None: not sent; quality sent without a rate: in contact, no rate to report)
    cabin_quality: float | None = None
    cabin_heart_rate: float | None = None
    cabin_rr: list[float] = field(default_factory=list)  # ms, the R-R intervals it sent
    # the seat's heart sensor (ballistocardiography), the same way
    seat_quality: float | None = None
    seat_heart_rate: float | None = None
    seat_rr: list[float] = field(default_factory=list)  # ms, the beat intervals it sent
    # the driver-monitoring camera's SpO2 estimate (round 12): its last quality and SpO2 sent
    camera_quality: float | None = None
    camera_spo2: float | None = None
    wearable: bool = False  # a wearable message arrived
    worn: bool | None = None
    quality: float | None = None
    heart_rate: float | None = None
    rr: list[float] = field(default_factory=list)  # ms
    spo2: float | None = None


class History:
    """Seconds of one vehicle, filled sample by sample in time order."""

    def __init__(self, start: float = 0.0) -> None:
        self.start = start
        self.seconds: deque[Second] = deque(maxlen=HISTORY)
        self.current = Second(start + 1.0)
        self.latitude: float | None = None
        self.longitude: float | None = None
        self.last_vehicle: float | None = None
        self.last_wearable: float | None = None
        self._warning = False
        self._eyes_off_since: float | None = None
        self._speeds: list[float] = []
        self._eyes_samples = 0
        self._eyes_off_samples = 0
        # the car's samples per second and the wearable's intervals between messages, recent:
        # the detectors read a second as whole against the car's own rate, not 10 Hz (a 5 or
        # 7 Hz unit had no whole second, and its driver's collapse was never read)
        self._car_counts: deque[int] = deque(maxlen=RATE_SECONDS)
        self._band_periods: deque[float] = deque(maxlen=RATE_SECONDS)

    @property
    def now(self) -> float:
        """The end of the last closed second."""
        return self.current.t - 1.0

    def due(self, t: float) -> bool:
        """Whether a sample at `t` closes the current second."""
        return t >= self.current.t

    def covered(self) -> bool:
        """Whether the current second has all it will get: the car's 10 Hz stream reached its
        last tenth, and the wearable spoke in it or has gone quiet (so a live service need not
        wait for the next second's first sample to judge this one)."""
        c = self.current
        if self.last_vehicle is None or self.last_vehicle < c.t - COVERED:
            return False
        return c.wearable or self.last_wearable is None or self.last_wearable < c.t - 2.5

    def close(self) -> Second:
        """Close the current second and open the next."""
        done = self.current
        if self._speeds:
            done.speed = sum(self._speeds) / len(self._speeds)
        if self._eyes_samples:
            done.eyes_off = self._eyes_off_samples / self._eyes_samples
        if self._eyes_off_since is not None:
            done.eyes_off_run = done.t - self._eyes_off_since
        self._speeds = []
        self._eyes_samples = self._eyes_off_samples = 0
        if done.vehicle_samples:
            self._car_counts.append(done.vehicle_samples)
        self.seconds.append(done)
        self.current = Second(done.t + 1.0)
        return done

    def heard(self, sample: Sample) -> None:
        """A sample too late to be added: only that its source is sending."""
        if sample.source == "vehicle":
            self.last_vehicle = max(self.last_vehicle or sample.t, sample.t)
        else:
            self.last_wearable = max(self.last_wearable or sample.t, sample.t)

    def add(self, sample: Sample) -> None:
        s, c = sample.signals, self.current
        if sample.source == "vehicle":
            self.last_vehicle = sample.t
            c.vehicle_samples += 1
            speed = s.get(vss.SPEED)
            if isinstance(speed, int | float) and not isinstance(speed, bool):
                self._speeds.append(float(speed))
            angle = s.get(vss.STEERING)
            if isinstance(angle, int | float) and not isinstance(angle, bool):
                c.steering.append(float(angle))
            warning = s.get(vss.LANE_WARNING)
            if isinstance(warning, bool):
                if warning and not self._warning:
                    c.lane_warning_onsets += 1
                self._warning = warning
            pedal = s.get(vss.BRAKE_PEDAL)
            if isinstance(pedal, int | float) and not isinstance(pedal, bool):
                c.brake = max(c.brake or 0.0, float(pedal))
            eyes = s.get(vss.EYES_ON_ROAD)
            if isinstance(eyes, bool):
                self._eyes_samples += 1
                if eyes:
                    self._eyes_off_since = None
                else:
                    self._eyes_off_samples += 1
                    if self._eyes_off_since is None:
                        self._eyes_off_since = sample.t
            cabin = s.get(vss.DRIVER_HEART_RATE_QUALITY)
            if isinstance(cabin, int | float) and not isinstance(cabin, bool):
                c.cabin_quality = float(cabin)
                rate = s.get(vss.DRIVER_HEART_RATE)
                c.cabin_heart_rate = (
                    float(rate)
                    if isinstance(rate, int | float) and not isinstance(rate, bool) and rate > 0
                    else None
                )
                rr = s.get(vss.CABIN_RR_INTERVALS)
                if isinstance(rr, list):
                    c.cabin_rr.extend(
                        float(x)
                        for x in rr
                        if isinstance(x, int | float) and not isinstance(x, bool)
                    )
            seat = s.get(vss.SEAT_QUALITY)
            if isinstance(seat, int | float) and not isinstance(seat, bool):
                c.seat_quality = float(seat)
                c.seat_heart_rate = _rate(s.get(vss.SEAT_HEART_RATE))
                c.seat_rr.extend(_intervals(s.get(vss.SEAT_RR_INTERVALS)))
            camera = s.get(vss.CAMERA_QUALITY)
            if isinstance(camera, int | float) and not isinstance(camera, bool):
                c.camera_quality = float(camera)
                c.camera_spo2 = _rate(s.get(vss.CAMERA_SPO2))
            lat, lon = s.get(vss.LATITUDE), s.get(vss.LONGITUDE)
            if (
                isinstance(lat, int | float)
                and isinstance(lon, int | float)
                and not isinstance(lat, bool)
                and not isinstance(lon, bool)
            ):
                self.latitude, self.longitude = float(lat), float(lon)
            return
        if self.last_wearable is not None and sample.t > self.last_wearable:
            self._band_periods.append(sample.t - self.last_wearable)
        self.last_wearable = sample.t
        c.wearable = True
        worn = s.get(vss.IS_WORN)
        c.worn = worn if isinstance(worn, bool) else True
        quality = s.get(vss.SIGNAL_QUALITY)
        c.quality = float(quality) if isinstance(quality, int | float) else None
        hr = s.get(vss.HEART_RATE)
        c.heart_rate = float(hr) if isinstance(hr, int | float) and hr else None
        rr = s.get(vss.RR_INTERVALS)
        if isinstance(rr, list):
            c.rr.extend(float(x) for x in rr if isinstance(x, int | float))
        spo2 = s.get(vss.SPO2)
        c.spo2 = float(spo2) if isinstance(spo2, int | float) and spo2 else None

    @property
    def car_rate(self) -> float:
        """The car's samples a second (the median of its recent seconds; 10 until it sent)."""
        if not self._car_counts:
            return EXPECTED_RATE
        return float(np.median(np.fromiter(self._car_counts, dtype=np.float64)))

    @property
    def band_period(self) -> float | None:
        """The wearable's usual interval between messages, s (None before two)."""
        if not self._band_periods:
            return None
        return float(np.median(np.fromiter(self._band_periods, dtype=np.float64)))

    def whole(self, second: Second) -> bool:
        """Whether the car sent about all of `second` (8 samples of 10 at 10 Hz)."""
        return second.vehicle_samples >= max(LEAST, FULL * self.car_rate)

    def last(self, n: int) -> list[Second]:
        """The last `n` closed seconds (fewer at the start)."""
        if n >= len(self.seconds):
            return list(self.seconds)
        # from the right end: a detector reads a few seconds of the 300 kept, every second
        recent = list(itertools.islice(reversed(self.seconds), n))
        recent.reverse()
        return recent

    def steering(self, n: int) -> NDArray[np.float64]:
        """The wheel angles over the last `n` seconds (at the car's rate; gaps simply missing)."""
        return np.asarray([a for s in self.last(n) for a in s.steering], dtype=np.float64)

    def rr(self, n: int, min_quality: float = 0.5) -> NDArray[np.float64]:
        """RR intervals (ms) of the last `n` seconds whose wearable quality was good."""
        return np.asarray(
            [
                x
                for s in self.last(n)
                if s.worn and s.quality is not None and s.quality >= min_quality
                for x in s.rr
            ],
            dtype=np.float64,
        )


def _rate(value: object) -> float | None:
    """A sensor's rate as sent (a positive number), or None."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def _intervals(value: object) -> list[float]:
    """A sensor's intervals as sent (a list of numbers; anything else in it is dropped)."""
    if not isinstance(value, list):
        return []
    return [float(x) for x in value if isinstance(x, int | float) and not isinstance(x, bool)]

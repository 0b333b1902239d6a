"""The signals the safety service reads, by COVESA VSS path, and their NGSI-LD attribute names.

Vehicle telemetry uses VSS paths as the device's `object_id`s; the device profile maps each to
a short NGSI-LD attribute name (dots are not term characters an NGSI-LD short name may hold
without an @context entry). `Vehicle.Driver.HeartRate` is, as VSS defines it, the heart rate
the *car* measures (an in-cabin sensor: a steering-wheel ECG or a seat sensor), sent with the
telemetry. The wearable's signals have no VSS path; Dalgu names them `Wearable.*`, and the
quality of the car's heart-rate sensor, which VSS does not define, `CabinSensor.*`, in the same
style.

Scenario files and wearables of the format before round 8 sent the *wearable's* heart rate as
`Vehicle.Driver.HeartRate`; `upgraded` reads such a wearable message as it was meant.
"""

from __future__ import annotations

from typing import Final, TypeVar

SPEED: Final = "Vehicle.Speed"  # km/h
STEERING: Final = "Vehicle.Chassis.SteeringWheel.Angle"  # degrees, positive left
LATERAL_ACCELERATION: Final = "Vehicle.Acceleration.Lateral"  # m/s²
LANE_WARNING: Final = "Vehicle.ADAS.LaneDepartureDetection.IsWarning"  # bool
LATITUDE: Final = "Vehicle.CurrentLocation.Latitude"
LONGITUDE: Final = "Vehicle.CurrentLocation.Longitude"
EYES_ON_ROAD: Final = "Vehicle.Driver.IsEyesOnRoad"  # bool, the driver-monitoring camera
#: percent (0: released), as VSS defines it; a car that sends it tells a driver braking, in
#: control, from one who collapsed while the car slowed (the incapacitation rules read it)
BRAKE_PEDAL: Final = "Vehicle.Chassis.Brake.PedalPosition"
# bpm, the car's in-cabin sensor (averaged over ~5 s, updated ~1 Hz); absent without a rate
DRIVER_HEART_RATE: Final = "Vehicle.Driver.HeartRate"
# 0..1, that sensor's contact/signal quality (0: no contact); not VSS
DRIVER_HEART_RATE_QUALITY: Final = "CabinSensor.SignalQuality"
# ms, the R-R intervals that sensor measured since its last report (sent when it has some); not VSS
CABIN_RR_INTERVALS: Final = "CabinSensor.RRIntervals"
# the seat's heart sensor (ballistocardiography), since round 10; not VSS: bpm (averaged over
# ~8 s, updated ~1 Hz; absent without a rate), its quality 0..1, and the beat-to-beat
# (J-J) intervals in ms it measured since its last report (sent when it has some)
SEAT_HEART_RATE: Final = "CabinSensor.Seat.HeartRate"
SEAT_QUALITY: Final = "CabinSensor.Seat.SignalQuality"
SEAT_RR_INTERVALS: Final = "CabinSensor.Seat.RRIntervals"
# the driver-monitoring camera's SpO2 estimate (remote photoplethysmography), since round 12;
# not VSS: % (over ~8 s of frames, updated ~1 Hz; absent when the face is out of view) and its
# quality 0..1
CAMERA_SPO2: Final = "CabinSensor.Camera.SpO2"
CAMERA_QUALITY: Final = "CabinSensor.Camera.SignalQuality"

HEART_RATE: Final = "Wearable.HeartRate"  # bpm, as the wearable measures it
RR_INTERVALS: Final = (
    "Wearable.RRIntervals"  # ms, the beats the wearable saw since its last message
)
SPO2: Final = "Wearable.SpO2"  # %
SIGNAL_QUALITY: Final = "Wearable.SignalQuality"  # 0..1, the wearable's own pulse-quality index
IS_WORN: Final = "Wearable.IsWorn"  # bool, its skin-contact sensor

#: what a wearable message of the old format named its heart rate
LEGACY_WEARABLE_HEART_RATE: Final = "Vehicle.Driver.HeartRate"

#: the cabin's biometric sensors besides the wheel's heart rate (rounds 9-12): the wheel ECG's
#: intervals, the seat's rate, quality and intervals, the camera's SpO2 and its quality
CABIN_BIOMETRICS: Final = (
    CABIN_RR_INTERVALS,
    SEAT_HEART_RATE,
    SEAT_QUALITY,
    SEAT_RR_INTERVALS,
    CAMERA_SPO2,
    CAMERA_QUALITY,
)
VEHICLE_SIGNALS: Final = (
    SPEED,
    STEERING,
    LATERAL_ACCELERATION,
    LANE_WARNING,
    LATITUDE,
    LONGITUDE,
    EYES_ON_ROAD,
    BRAKE_PEDAL,
    DRIVER_HEART_RATE,
    DRIVER_HEART_RATE_QUALITY,
    *CABIN_BIOMETRICS,
)
WEARABLE_SIGNALS: Final = (HEART_RATE, RR_INTERVALS, SPO2, SIGNAL_QUALITY, IS_WORN)

#: signal (the device's object_id) -> NGSI-LD attribute short name (the device profile's name)
ATTRIBUTE_NAMES: Final[dict[str, str]] = {
    SPEED: "speed",
    STEERING: "steeringWheelAngle",
    LATERAL_ACCELERATION: "lateralAcceleration",
    LANE_WARNING: "laneDepartureWarning",
    LATITUDE: "latitude",
    LONGITUDE: "longitude",
    EYES_ON_ROAD: "driverEyesOnRoad",
    BRAKE_PEDAL: "brakePedalPosition",
    DRIVER_HEART_RATE: "driverHeartRate",
    DRIVER_HEART_RATE_QUALITY: "driverHeartRateQuality",
    CABIN_RR_INTERVALS: "driverRRIntervals",
    SEAT_HEART_RATE: "seatHeartRate",
    SEAT_QUALITY: "seatHeartRateQuality",
    SEAT_RR_INTERVALS: "seatRRIntervals",
    CAMERA_SPO2: "cameraOxygenSaturation",
    CAMERA_QUALITY: "cameraOxygenSaturationQuality",
    HEART_RATE: "heartRate",
    RR_INTERVALS: "rrIntervals",
    SPO2: "oxygenSaturation",
    SIGNAL_QUALITY: "signalQuality",
    IS_WORN: "isWorn",
}
SIGNAL_OF_ATTRIBUTE: Final[dict[str, str]] = {v: k for k, v in ATTRIBUTE_NAMES.items()}

V = TypeVar("V")


def upgraded(source: str, signals: dict[str, V]) -> dict[str, V]:
    """A wearable message of the old format (its heart rate as `Vehicle.Driver.HeartRate`)
    with the wearable's own name for it; anything else as it is."""
    if source != "wearable" or LEGACY_WEARABLE_HEART_RATE not in signals:
        return signals
    renamed = {k: v for k, v in signals.items() if k != LEGACY_WEARABLE_HEART_RATE}
    renamed.setdefault(HEART_RATE, signals[LEGACY_WEARABLE_HEART_RATE])
    return renamed

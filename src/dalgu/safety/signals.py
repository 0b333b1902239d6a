"""The signals the safety service reads, by COVESA VSS path, and their NGSI-LD attribute names.

Vehicle telemetry uses VSS paths as the device's `object_id`s; the device profile maps each to
a short NGSI-LD attribute name (dots are not term characters an NGSI-LD short name may hold
without an @context entry). The wearable's signals have no VSS path except the heart rate;
Dalgu names them `Wearable.*` in the same style.
"""

from __future__ import annotations

from typing import Final

SPEED: Final = "Vehicle.Speed"  # km/h
STEERING: Final = "Vehicle.Chassis.SteeringWheel.Angle"  # degrees, positive left
LATERAL_ACCELERATION: Final = "Vehicle.Acceleration.Lateral"  # m/s²
LANE_WARNING: Final = "Vehicle.ADAS.LaneDepartureDetection.IsWarning"  # bool
LATITUDE: Final = "Vehicle.CurrentLocation.Latitude"
LONGITUDE: Final = "Vehicle.CurrentLocation.Longitude"
EYES_ON_ROAD: Final = "Vehicle.Driver.IsEyesOnRoad"  # bool, the driver-monitoring camera
HEART_RATE: Final = "Vehicle.Driver.HeartRate"  # bpm, as the wearable measures it

RR_INTERVALS: Final = (
    "Wearable.RRIntervals"  # ms, the beats the wearable saw since its last message
)
SPO2: Final = "Wearable.SpO2"  # %
SIGNAL_QUALITY: Final = "Wearable.SignalQuality"  # 0..1, the wearable's own pulse-quality index
IS_WORN: Final = "Wearable.IsWorn"  # bool, its skin-contact sensor

VEHICLE_SIGNALS: Final = (
    SPEED,
    STEERING,
    LATERAL_ACCELERATION,
    LANE_WARNING,
    LATITUDE,
    LONGITUDE,
    EYES_ON_ROAD,
)
WEARABLE_SIGNALS: Final = (HEART_RATE, RR_INTERVALS, SPO2, SIGNAL_QUALITY, IS_WORN)

#: VSS path (the device's object_id) -> NGSI-LD attribute short name (the device profile's name)
ATTRIBUTE_NAMES: Final[dict[str, str]] = {
    SPEED: "speed",
    STEERING: "steeringWheelAngle",
    LATERAL_ACCELERATION: "lateralAcceleration",
    LANE_WARNING: "laneDepartureWarning",
    LATITUDE: "latitude",
    LONGITUDE: "longitude",
    EYES_ON_ROAD: "driverEyesOnRoad",
    HEART_RATE: "heartRate",
    RR_INTERVALS: "rrIntervals",
    SPO2: "oxygenSaturation",
    SIGNAL_QUALITY: "signalQuality",
    IS_WORN: "isWorn",
}
SIGNAL_OF_ATTRIBUTE: Final[dict[str, str]] = {v: k for k, v in ATTRIBUTE_NAMES.items()}

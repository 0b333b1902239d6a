"""Devices: IoT Agent provisioning (config groups, devices) and measures → NGSI-LD entities."""

from dalgu.devices.mapping import DeviceBinding, bind, measures_to_entity
from dalgu.devices.provisioning import Device, ServiceGroup, parse_devices, parse_groups

__all__ = [
    "Device",
    "DeviceBinding",
    "ServiceGroup",
    "bind",
    "measures_to_entity",
    "parse_devices",
    "parse_groups",
]

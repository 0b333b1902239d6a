"""The device gateway: FIWARE IoT Agent compatible southbound (UltraLight 2.0 and JSON)."""

from dalgu.gateway.mapping import DeviceBinding, bind, measures_to_entity
from dalgu.gateway.provisioning import Device, ServiceGroup, parse_devices, parse_groups
from dalgu.gateway.ultralight import (
    Command,
    MeasureGroup,
    PayloadError,
    parse_command,
    parse_command_result,
    parse_measures,
)

__all__ = [
    "Command",
    "Device",
    "DeviceBinding",
    "MeasureGroup",
    "PayloadError",
    "ServiceGroup",
    "bind",
    "measures_to_entity",
    "parse_command",
    "parse_command_result",
    "parse_devices",
    "parse_groups",
    "parse_measures",
]

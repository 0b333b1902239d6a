"""The testbed's tests use the gateway fixtures of the device tests (a running Dalgu on MQTT)."""

from tests.devices.conftest import gateway

__all__ = ["gateway"]

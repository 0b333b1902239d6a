"""Device authentication at the southbound edge: one pluggable check of the API key.

Every southbound transport (HTTP, MQTT, CoAP) calls the runtime's `DeviceAuthenticator` with
the API key a message came with, before handing the message to the device service; the
services never authenticate. The default check is the testbed's sandbox keys
(`dalgu.testbed.keys.SandboxKeys.authenticate`); the coming northbound authentication (JWT,
roles) is a different piece, an ASGI middleware around the NGSI-LD application.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from dalgu.errors import Unauthorized

if TYPE_CHECKING:
    from dalgu.devices.service import DeviceService

DeviceAuthenticator = Callable[[str], Awaitable[None]]
"""Checks an API key; raises `dalgu.errors.Unauthorized` when devices may not use it."""


async def authenticated(
    authenticate: DeviceAuthenticator,
    devices: DeviceService,
    transport: str,
    apikey: str,
    device_id: str,
) -> None:
    """Check the key; a refusal is counted with the device's other refusals, then raised."""
    try:
        await authenticate(apikey)
    except Unauthorized as error:
        devices.refused(transport, apikey, device_id, time.time(), (), error)
        raise

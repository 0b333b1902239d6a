"""Command payloads on the wire: what a device receives, and its answers."""

from __future__ import annotations

from typing import Any

import orjson

from dalgu.devices.commands import DeviceCommand
from dalgu.errors import PayloadError
from dalgu.gateway.jsonpayload import parse_json_command_results
from dalgu.gateway.ultralight import format_command, parse_command_result


def command_results(fmt: str, payload: bytes) -> dict[str, Any]:
    """command name → result, from a device's answer (UltraLight or JSON; `sniff` looks)."""
    if fmt == "sniff":
        fmt = "json" if payload.lstrip()[:1] == b"{" else "ul"
    if fmt == "json":
        return parse_json_command_results(payload)
    result = parse_command_result(_text(payload))
    return {result.name: result.result}


def command_payload(command: DeviceCommand) -> bytes:
    """What a device receives on its `/cmd` topic or in an HTTP push."""
    if command.payload == "json":
        return orjson.dumps({command.name: command.value})
    return format_command(command.device_id, command.name, command.value).encode()


def _text(payload: bytes) -> str:
    try:
        return payload.decode()
    except UnicodeDecodeError:
        raise PayloadError("the payload is not UTF-8 text", 0) from None

"""Command payloads on the wire: what a device receives, and its answers."""

from __future__ import annotations

from collections.abc import Sequence
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


def polled_commands(fmt: str, device_id: str, commands: Sequence[tuple[str, Any]]) -> bytes:
    """What a polling device gets for `getCmd=1`: UltraLight commands joined by `#`, or one
    JSON object of command name → value (empty when nothing waits)."""
    if fmt == "json":
        return orjson.dumps(dict(commands))
    return "#".join(format_command(device_id, name, value) for name, value in commands).encode()


def _text(payload: bytes) -> str:
    try:
        return payload.decode()
    except UnicodeDecodeError:
        raise PayloadError("the payload is not UTF-8 text", 0) from None

"""The FIWARE IoT Agent JSON payload: measures as a JSON object (or an array of them).

    {"t": 23.4, "h": 40}                               one group
    [{"t": 23.4}, {"t": 23.9, "TimeInstant": "..."}]   several groups
    {"ping": {"param1": 1}}                            a command (on the cmd topic)
    {"ping": "Ping ok"}                                a command result (on cmdexe)
    POST /iot/json/attrs/t with 23.4                   one measure (`parse_single_measure`)

Values keep their JSON types. A `TimeInstant` member gives the group's observation time (a
time that is not ISO 8601 is left to the device service, which uses the arrival time).
Pure functions: bad input raises `PayloadError` (with the position orjson reports).
"""

from __future__ import annotations

from typing import Any

import orjson

from dalgu import jsonbytes
from dalgu.errors import PayloadError
from dalgu.gateway.ultralight import MAX_PAYLOAD

TIME_INSTANT = "TimeInstant"


def parse_json_measures(payload: bytes | str) -> list[tuple[dict[str, Any], str | None]]:
    """Measure groups as (values, timestamp) pairs. An empty object (`{}`, a firmware's
    heartbeat or poll) or array holds no measures, and is none, as iotagent-json takes it."""
    document = _load(payload)
    groups = document if isinstance(document, list) else [document]
    out: list[tuple[dict[str, Any], str | None]] = []
    for group in groups:
        if not isinstance(group, dict):
            raise PayloadError("each measure group must be a JSON object", 0)
        if not group:
            continue
        values = dict(group)
        stamp = values.pop(TIME_INSTANT, None)
        # a TimeInstant that is no time gives way to the arrival time (`devices/observation.py`)
        out.append((values, stamp if stamp is None or isinstance(stamp, str) else str(stamp)))
    return out


def parse_single_measure(
    attribute: str, payload: bytes, media_type: str
) -> list[tuple[dict[str, Any], str | None]]:
    """One measure posted to `/iot/json/attrs/<attribute>`, read by its media type as the
    JSON agent reads it: JSON as JSON, `application/octet-stream` as a hex string, anything
    else (`text/plain`, `application/soap+xml`…) as text."""
    if len(payload) > MAX_PAYLOAD:
        raise PayloadError(f"payload longer than {MAX_PAYLOAD} bytes", MAX_PAYLOAD)
    media = media_type.split(";", 1)[0].strip().lower()
    value: Any
    if media == "application/json" or media.endswith("+json"):
        value = _load(payload)
    elif media == "application/octet-stream":
        value = payload.hex()
    else:
        try:
            value = payload.decode()
        except UnicodeDecodeError:
            raise PayloadError("the payload is not UTF-8 text", 0) from None
    return [({attribute: value}, None)]


def parse_json_command_results(payload: bytes | str) -> dict[str, Any]:
    """`{"command": result, ...}` as a device reports on its cmdexe topic."""
    document = _load(payload)
    if not isinstance(document, dict) or not document:
        raise PayloadError("a command result is a JSON object {command: result}", 0)
    return document


def _load(payload: bytes | str) -> Any:
    if len(payload) > MAX_PAYLOAD:
        raise PayloadError(f"payload longer than {MAX_PAYLOAD} bytes", MAX_PAYLOAD)
    try:
        return jsonbytes.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"not JSON: {exc.msg}", exc.pos) from None

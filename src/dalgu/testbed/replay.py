"""Replay recorded telemetry through the gateway, as fast as it was recorded or faster.

JSON Lines, one message per line:

    {"time": "2026-11-25T08:00:00Z", "device": "aq-7", "measures": {"p10": 31, "t": 12.5}}

or CSV with a header, `time` and `device` columns and one column per measure:

    time,device,p10,t
    2026-11-25T08:00:00Z,aq-7,31,12.5

`time` is ISO 8601 or epoch seconds. Messages go out in time order, their gaps divided by
`speed`; each carries the time it was recorded, moved so that the first message is "now"
(`keep_time` sends the recorded times unchanged). Parsing is pure; a bad line raises
`BadRequestData` naming the line.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from dalgu.errors import BadRequestData
from dalgu.testbed.simulator import Endpoints, FleetReport, sender_for


@dataclass(frozen=True, slots=True)
class RecordedMessage:
    at: float  # epoch seconds when it was recorded
    device: str
    measures: dict[str, Any]


def parse_recording(text: str, *, name: str = "recording") -> list[RecordedMessage]:
    """Messages of a JSON Lines or CSV recording, in time order."""
    stripped = text.lstrip()
    if not stripped:
        raise BadRequestData(f"{name}: no messages")
    messages = _json_lines(text, name) if stripped.startswith("{") else _csv(text, name)
    if not messages:
        raise BadRequestData(f"{name}: no messages")
    return sorted(messages, key=lambda m: m.at)


def _json_lines(text: str, name: str) -> list[RecordedMessage]:
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise BadRequestData(f"{name}, line {number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("measures"), dict):
            raise BadRequestData(f"{name}, line {number}: needs time, device and measures")
        out.append(
            RecordedMessage(
                _time(row.get("time"), name, number), _device(row, name, number), row["measures"]
            )
        )
    return out


def _csv(text: str, name: str) -> list[RecordedMessage]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"time", "device"} <= set(reader.fieldnames):
        raise BadRequestData(f"{name}: a CSV recording needs time and device columns")
    out = []
    for number, row in enumerate(reader, start=2):
        measures = {
            k: v for k, v in row.items() if k not in ("time", "device") and v not in ("", None)
        }
        out.append(
            RecordedMessage(_time(row["time"], name, number), _device(row, name, number), measures)
        )
    return out


def _device(row: dict[str, Any], name: str, number: int) -> str:
    device = row.get("device")
    if not isinstance(device, str) or not device or "/" in device:
        raise BadRequestData(f"{name}, line {number}: device is a non-empty id without '/'")
    return device


def _time(value: Any, name: str, number: int) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise BadRequestData(f"{name}, line {number}: time {value!r} is neither ISO 8601 nor epoch")


def encode(message: RecordedMessage, at: float, payload: str) -> bytes:
    stamp = (
        datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )
    if payload == "json":
        return orjson.dumps({**message.measures, "TimeInstant": stamp})
    return "|".join([stamp, *(f"{k}|{v}" for k, v in message.measures.items())]).encode()


async def replay(
    messages: list[RecordedMessage],
    *,
    apikey: str,
    transport: str,
    payload: str,
    speed: float = 1.0,
    keep_time: bool = False,
    endpoints: Endpoints | None = None,
    progress: Callable[[int, FleetReport], None] | None = None,
) -> FleetReport:
    if speed <= 0:
        raise BadRequestData("speed must be positive")
    sender = await sender_for(transport, apikey, endpoints or Endpoints(), payload)
    report = FleetReport()
    first = messages[0].at
    start_wall, start_clock = time.time(), time.monotonic()
    try:
        for index, message in enumerate(messages):
            delay = start_clock + (message.at - first) / speed - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            at = message.at if keep_time else start_wall + (message.at - first)
            began = time.perf_counter()
            try:
                await sender.send(message.device, encode(message, at, payload))
            except Exception as exc:  # one failed send is counted; the replay goes on
                report.failed += 1
                report.errors[f"{type(exc).__name__}: {exc}"] += 1
            else:
                report.sent += 1
                report.latencies.append(time.perf_counter() - began)
            if progress is not None:
                progress(index + 1, report)
    finally:
        await sender.close()
    return report


def load_recording(path: Path) -> list[RecordedMessage]:
    return parse_recording(path.read_text(), name=path.name)

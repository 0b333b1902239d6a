"""UltraLight 2.0, the FIWARE IoT Agents' text payload for constrained devices.

Measures are `key|value` pairs separated by `|`; several groups are separated by `#`; a group
may start with a timestamp (then it has an odd number of fields):

    t|23.4|h|40                       one group, two measures
    gps|1.2/3.4#t|10                  two groups
    2016-06-13T00:35:30Z|lle|100      a group observed at that time

Commands sent to a device and the device's results:

    weatherStation167@ping|param1=1|param2=2     a command with parameters
    weatherStation167@ping|Ping ok               the result of that command

A device may post its results where its measures go, as a group of their own
(`split_command_results`).

Each value (a measure's, a command result's) is read as JSON where it parses, as iotagent-ul
reads it since 3.0.0 (`JSON.parse`, falling back to the text: `lib/ulParser.js`): `t|2.15` is
the number 2.15, `on|true` the boolean, `o|{"k":1}` an object, `s|"a b"` the text `a b`, and
`s|abc`, `z|007`, `x|0x10`, `g|1.2,3.4` stay text. The device's provisioned attribute types
then type them (`dalgu.devices.mapping`). Parsing is a pure function; bad input raises
`PayloadError` naming the position (0-based character offset) of the offending part. Nothing
here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from dalgu.errors import PayloadError

MAX_PAYLOAD = 65_536  # characters; an UL payload is meant for constrained devices


@dataclass(frozen=True, slots=True)
class MeasureGroup:
    """One group of measures, with the time the device gave it (ISO 8601) if any."""

    values: dict[str, Any]  # JSON where the text parses as JSON, else the text
    timestamp: str | None = None


@dataclass(frozen=True, slots=True)
class Command:
    """`device@command|p=v|...`: a command for a device, or its result (`device@command|r`)."""

    device: str
    name: str
    params: dict[str, str] = field(default_factory=dict)
    result: Any = None  # JSON where the text parses as JSON, else the text


def parse_measures(payload: str) -> list[MeasureGroup]:
    """All measure groups of an UltraLight 2.0 measure payload; an empty one holds none (a
    heartbeat), as iotagent-ul answers it with 200."""
    _check_size(payload)
    if not payload.strip():
        return []
    groups: list[MeasureGroup] = []
    start = 0
    for text in payload.split("#"):
        groups.append(_group(text, start))
        start += len(text) + 1
    return groups


def _group(text: str, offset: int) -> MeasureGroup:
    fields = text.split("|")
    timestamp = None
    first = 0
    if len(fields) % 2 == 1:
        candidate = fields[0].strip()
        if len(fields) == 1:
            raise PayloadError(f"measure {candidate!r} has no value (expected key|value)", offset)
        if not _is_timestamp(candidate):
            raise PayloadError(
                f"odd number of fields and {candidate!r} is not an ISO 8601 timestamp", offset
            )
        timestamp = candidate
        first = 1
    values: dict[str, Any] = {}
    for index in range(first, len(fields), 2):
        key = fields[index].strip()
        if not key:
            raise PayloadError("empty measure name", _position(fields, index, offset))
        if key in values:
            raise PayloadError(
                f"measure {key!r} repeated in one group", _position(fields, index, offset)
            )
        values[key] = value_of(fields[index + 1].strip())
    return MeasureGroup(values, timestamp)


def value_of(text: str) -> Any:
    """An UltraLight value as iotagent-ul (3.0.0 and later) reads it: the JSON the text is,
    where it parses as JSON, else the text as it is (`1e400`, which no double holds, too)."""
    if not text:
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _position(fields: list[str], index: int, offset: int) -> int:
    """Where field `index` of a group starting at `offset` starts (only errors need it)."""
    return offset + sum(len(item) + 1 for item in fields[:index])


def parse_command(payload: str) -> Command:
    """A command `device@name|p=v|...` as the gateway sends it to a device."""
    device, name, rest, offset = _command_head(payload)
    params: dict[str, str] = {}
    at = offset
    for item in rest:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise PayloadError(f"command parameter {item!r} is not name=value", at)
        params[key.strip()] = value.strip()
        at += len(item) + 1
    return Command(device, name, params)


def parse_command_result(payload: str) -> Command:
    """A device's answer `device@name|result` (the result may itself contain `|`)."""
    device, name, rest, _ = _command_head(payload)
    return Command(device, name, result=value_of("|".join(rest)))


def split_command_results(payload: str) -> tuple[str | None, list[Command]]:
    """The measure groups of a report (their text, None when there are none) and the command
    results among its groups: a group whose first field is `device@command` is a result, as
    iotagent-ul takes one posted where measures go (a polling device answering)."""
    measures: list[str] = []
    results: list[Command] = []
    for group in payload.split("#"):
        head = group.split("|", 1)[0]
        if "@" in head and not _is_timestamp(head.strip()):
            results.append(parse_command_result(group))
        else:
            measures.append(group)
    return ("#".join(measures) if measures else None), results


def format_command(device: str, name: str, params: dict[str, object] | object) -> str:
    """The UltraLight text of a command for a device: `dev@cmd|value`, the separator there
    for an empty value too (`dev@cmd|`), as iotagent-ul's `createCommandPayload` writes it;
    `dev@cmd|k=v|…` for an object. None (a lazy attribute's request) is `dev@cmd` alone."""
    head = f"{device}@{name}"
    if isinstance(params, dict):
        return "|".join([head, *(f"{k}={_text(v)}" for k, v in params.items())])
    if params is None:
        return head
    return f"{head}|{_text(params)}"


def _command_head(payload: str) -> tuple[str, str, list[str], int]:
    _check_size(payload)
    text = payload.strip()
    head, _, _ = text.partition("|")
    device, at, name = head.partition("@")
    if not at:
        raise PayloadError("a command starts with device@command", 0)
    if not device.strip():
        raise PayloadError("empty device name before '@'", 0)
    if not name.strip():
        raise PayloadError("empty command name after '@'", len(device) + 1)
    rest = text.split("|")[1:]
    return device.strip(), name.strip(), rest, len(head) + 1


def _text(value: object) -> str:
    """A command value as UltraLight text: an array or object as JSON text (`[1,2]`,
    `{"d":1}`), which a device reads back as iotagent-ul reads values, never a Python repr."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)) or value is None:
        return orjson.dumps(value).decode()
    return str(value)


def _is_timestamp(text: str) -> bool:
    if len(text) < 10 or not text[:4].isdigit() or text[4] != "-":
        return False
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _check_size(payload: str) -> None:
    if len(payload) > MAX_PAYLOAD:
        raise PayloadError(f"payload longer than {MAX_PAYLOAD} characters", MAX_PAYLOAD)

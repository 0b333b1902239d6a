"""UltraLight 2.0 and IoT Agent JSON payloads: what devices in the field send."""

from __future__ import annotations

import pytest

from dalgu.errors import BadRequestData, PayloadError
from dalgu.gateway.jsonpayload import parse_json_command_results, parse_json_measures
from dalgu.gateway.ultralight import (
    MAX_PAYLOAD,
    Command,
    MeasureGroup,
    format_command,
    parse_command,
    parse_command_result,
    parse_measures,
)


def test_one_group_of_measures() -> None:
    assert parse_measures("t|23.4|h|40") == [MeasureGroup({"t": 23.4, "h": 40})]


def test_several_groups_and_a_timestamp() -> None:
    groups = parse_measures("gps|1.2/3.4#2016-06-13T00:35:30Z|lle|100|t|9")
    assert groups == [
        MeasureGroup({"gps": "1.2/3.4"}),
        MeasureGroup({"lle": 100, "t": 9}, "2016-06-13T00:35:30Z"),
    ]


def test_values_may_be_empty_and_keep_inner_spaces() -> None:
    assert parse_measures("s|on hold|e|") == [MeasureGroup({"s": "on hold", "e": ""})]


@pytest.mark.parametrize(
    ("payload", "message", "position"),
    [
        ("t", "has no value", 0),
        ("t|1|h", "not an ISO 8601 timestamp", 0),
        ("t|1#|2", "empty measure name", 4),
        ("t|1|t|2", "repeated", 4),
        ("t|1#x|2|y", "not an ISO 8601 timestamp", 4),
    ],
)
def test_bad_measures_name_the_position(payload: str, message: str, position: int) -> None:
    with pytest.raises(PayloadError, match=message) as caught:
        parse_measures(payload)
    assert caught.value.position == position
    assert isinstance(caught.value, BadRequestData)  # a 400 at the HTTP edge


def test_oversized_payload_is_refused() -> None:
    with pytest.raises(PayloadError, match="longer than"):
        parse_measures("t|1|" * (MAX_PAYLOAD // 4 + 1))


def test_commands_and_results_round_trip() -> None:
    text = format_command("weatherStation167", "ping", {"param1": 1, "on": True})
    assert text == "weatherStation167@ping|param1=1|on=true"
    assert parse_command(text) == Command(
        "weatherStation167", "ping", {"param1": "1", "on": "true"}
    )
    assert format_command("lamp1", "on", "") == "lamp1@on|"  # as iotagent-ul writes it
    assert format_command("lamp1", "on", None) == "lamp1@on"  # a lazy attribute's request
    result = parse_command_result("weatherStation167@ping|Ping ok|code 7")
    assert result == Command("weatherStation167", "ping", result="Ping ok|code 7")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("ping|x=1", "device@command"),
        ("@ping|x=1", "empty device name"),
        ("dev@|x=1", "empty command name"),
        ("dev@ping|x", "not name=value"),
    ],
)
def test_bad_commands(payload: str, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        parse_command(payload)


def test_json_measures_keep_types_and_time_instant() -> None:
    groups = parse_json_measures(
        b'[{"t": 21, "ok": true}, {"t": 21.5, "TimeInstant": "2026-11-25T08:00:00Z"}]'
    )
    assert groups == [({"t": 21, "ok": True}, None), ({"t": 21.5}, "2026-11-25T08:00:00Z")]
    assert parse_json_measures('{"h": "40"}') == [({"h": "40"}, None)]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{", "not JSON"),
        (b"[1]", "must be a JSON object"),
        (b'"hello"', "must be a JSON object"),
    ],
)
def test_bad_json_measures(payload: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        parse_json_measures(payload)


def test_an_empty_message_holds_no_measures() -> None:
    """Outside tester iota-7: a heartbeat (`{}`, an empty UltraLight body) is no error, as the
    agents answer it with 200."""
    assert parse_json_measures(b"{}") == []
    assert parse_json_measures(b"[]") == []
    assert parse_measures("") == [] and parse_measures(" \n") == []


def test_json_command_results() -> None:
    assert parse_json_command_results(b'{"ping": "Ping ok"}') == {"ping": "Ping ok"}
    with pytest.raises(PayloadError):
        parse_json_command_results(b'"ok"')


def test_a_commands_arrays_and_nested_objects_are_json_text() -> None:
    """Outside tester iota-13: never a Python repr on the wire."""
    assert format_command("am1", "ping", [1, 2]) == "am1@ping|[1,2]"
    assert format_command("am1", "ping", {"n": {"d": 1}, "x": None}) == 'am1@ping|n={"d":1}|x=null'

"""The device gateway's transports and payload formats (FIWARE IoT Agent compatible)."""

from dalgu.gateway.jsonpayload import parse_json_command_results, parse_json_measures
from dalgu.gateway.ultralight import (
    Command,
    MeasureGroup,
    format_command,
    parse_command,
    parse_command_result,
    parse_measures,
)

__all__ = [
    "Command",
    "MeasureGroup",
    "format_command",
    "parse_command",
    "parse_command_result",
    "parse_json_command_results",
    "parse_json_measures",
    "parse_measures",
]

"""Shown output as a pattern: what matches, what does not, and what the difference says."""

from __future__ import annotations

import pytest

from dalgu.tutorial.expected import differences, json_values, match
from dalgu.tutorial.lesson import Output


def test_objects_have_exactly_the_members_shown() -> None:
    assert match({"a": 1}, {"a": 1}) == []
    assert match({"a": 1}, {"a": 1, "b": 2}) == ["$.b: not shown"]
    assert match({"a": 1, "b": 2}, {"a": 1}) == ["$.b: missing"]


def test_an_ellipsis_member_allows_more() -> None:
    assert match({"a": 1, "...": "..."}, {"a": 1, "b": 2}) == []


def test_an_ellipsis_stands_for_any_value_or_text() -> None:
    assert match({"id": "..."}, {"id": {"deep": [1]}}) == []
    assert match("urn:ngsi-ld:Subscription:...", "urn:ngsi-ld:Subscription:42") == []
    assert match("urn:ngsi-ld:Subscription:...", "urn:ngsi-ld:Entity:42") != []
    assert match("2026-...Z", "2026-11-25T09:00:00.000Z") == []
    assert match("...Z", 5) != []


def test_arrays_in_order_and_open_ended() -> None:
    assert match([1, 2], [1, 2]) == []
    assert match([1, 2], [2, 1]) == ["$[0]: 2, shown 1", "$[1]: 1, shown 2"]
    assert match([1, 2], [1, 2, 3]) == ["$: 3 elements, 2 shown"]
    assert match([1, "..."], [1, 2, 3]) == []
    assert match([1, "..."], [1]) == []
    assert match([1, 2, "..."], [1]) == ["$: 1 elements, 2 shown"]


@pytest.mark.parametrize(
    ("shown", "actual", "same"),
    [(1, 1.0, True), (41.0, 41, True), (1, True, False), (0, False, False), (None, None, True)],
)
def test_numbers_are_json_numbers_and_booleans_are_not(
    shown: object, actual: object, same: bool
) -> None:
    assert (match(shown, actual) == []) is same


def test_json_lines_are_several_values() -> None:
    assert json_values('{"a": 1}\n{"b": 2}\n') == [{"a": 1}, {"b": 2}]
    shown = Output("json", '{"a": 1}', 1)
    assert differences(shown, '{"a": 1}\n{"a": 1}') == ["2 JSON values printed, 1 shown"]
    assert differences(shown, "curl: (7) Failed to connect") == [
        "the command printed no JSON: 'curl: (7) Failed to connect'"
    ]


def test_http_output_compares_status_shown_headers_and_body() -> None:
    printed = (
        "HTTP/1.1 201 Created\r\nlocation: /ngsi-ld/v1/entities/urn:x:1\r\nserver: granian\r\n"
        '\r\n["urn:x:1"]'
    )
    shown = Output(
        "http", 'HTTP/1.1 201 Created\nLocation: /ngsi-ld/v1/entities/...\n\n["urn:x:1"]', 1
    )
    assert differences(shown, printed) == []
    wrong = Output("http", 'HTTP/1.1 204 No Content\nLink: <...>\n\n["urn:x:2"]', 1)
    assert differences(wrong, printed) == [
        "status 201, shown 204",
        "header Link: missing",
        '$[0]: "urn:x:1", shown "urn:x:2"',
    ]


def test_text_lines_with_an_ellipsis_line() -> None:
    shown = Output("text", "HTTP/1.1 204 No Content\n...\n404", 1)
    assert differences(shown, "HTTP/1.1 204 No Content\nserver: x\ndate: y\n\n404\n") == []
    assert differences(shown, "HTTP/1.1 204 No Content\n200\n") != []

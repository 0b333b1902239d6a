"""Whether what a command printed is what the lesson shows, and if not, where it differs.

Shown output is a pattern, so that a lesson can show real output whose ids and times vary:

- a string `...` stands for any value; a string with `...` inside for any text there
  (`"urn:ngsi-ld:Subscription:..."`, `"2026-...Z"`);
- an object member `"...": "..."` allows members the lesson does not show;
- a last array element `"..."` allows more elements (none included).

Without them, objects have exactly the members shown and arrays exactly the elements shown,
in order. `http` output compares the status code, the headers shown (by name, any case; the
value as a pattern) and the body if one is shown; `text` compares lines, a line `...` standing
for any number of lines.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from dalgu.tutorial.lesson import Output

ELLIPSIS = "..."


def differences(expected: Output, printed: str) -> list[str]:
    """What differs between the lesson's output and what was printed; empty when it matches."""
    if expected.kind == "json":
        return _json_differences(expected.text, printed)
    if expected.kind == "http":
        return _http_differences(expected.text, printed)
    return _text_differences(expected.text, printed)


def json_values(text: str) -> list[Any]:
    """The JSON values in `text`, one after another (a document, or JSON Lines)."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    at = 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            return values
        value, at = decoder.raw_decode(text, at)
        values.append(value)


def match(expected: Any, actual: Any, where: str = "$") -> list[str]:
    """The places where `actual` does not match the pattern `expected`."""
    if isinstance(expected, str):
        if expected == ELLIPSIS:
            return []
        if isinstance(actual, str) and ELLIPSIS in expected:
            return [] if _glob(expected).fullmatch(actual) else [f"{where}: {actual!r}"]
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: {_short(actual)} is not an object"]
        problems: list[str] = []
        for key, value in expected.items():
            if key == ELLIPSIS:
                continue
            if key not in actual:
                problems.append(f"{where}.{key}: missing")
            else:
                problems.extend(match(value, actual[key], f"{where}.{key}"))
        if ELLIPSIS not in expected:
            problems.extend(f"{where}.{key}: not shown" for key in actual if key not in expected)
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{where}: {_short(actual)} is not an array"]
        open_ended = bool(expected) and expected[-1] == ELLIPSIS
        shown = expected[:-1] if open_ended else expected
        if len(actual) < len(shown) or (not open_ended and len(actual) > len(shown)):
            return [f"{where}: {len(actual)} elements, {len(shown)} shown"]
        problems = []
        for n, value in enumerate(shown):
            problems.extend(match(value, actual[n], f"{where}[{n}]"))
        return problems
    if type(expected) is not type(actual) or expected != actual:
        # 1 and 1.0 are one JSON number
        if _number(expected) and _number(actual) and expected == actual:
            return []
        return [f"{where}: {_short(actual)}, shown {_short(expected)}"]
    return []


def _json_differences(shown: str, printed: str) -> list[str]:
    try:
        expected = json_values(shown)
    except json.JSONDecodeError as error:
        return [f"the lesson's output is not JSON: {error}"]
    try:
        actual = json_values(printed)
    except json.JSONDecodeError:
        return [f"the command printed no JSON: {printed[:300]!r}"]
    if len(actual) != len(expected):
        return [f"{len(actual)} JSON values printed, {len(expected)} shown"]
    problems: list[str] = []
    for n, (pattern, value) in enumerate(zip(expected, actual, strict=True)):
        problems.extend(match(pattern, value, f"${n}" if len(expected) > 1 else "$"))
    return problems


def _http_differences(shown: str, printed: str) -> list[str]:
    shown_head, _, shown_body = shown.replace("\r\n", "\n").partition("\n\n")
    printed_head, _, printed_body = printed.replace("\r\n", "\n").partition("\n\n")
    shown_lines = shown_head.strip().splitlines()
    printed_lines = printed_head.strip().splitlines()
    if not printed_lines or not printed_lines[0].startswith("HTTP/"):
        return [f"no HTTP status line printed: {printed[:200]!r}"]
    problems: list[str] = []
    shown_status = shown_lines[0].split()[1] if len(shown_lines[0].split()) > 1 else ""
    printed_status = printed_lines[0].split()[1] if len(printed_lines[0].split()) > 1 else ""
    if shown_status != printed_status:
        problems.append(f"status {printed_status}, shown {shown_status}")
    headers: dict[str, str] = {}
    for line in printed_lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    for line in shown_lines[1:]:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        if key not in headers:
            problems.append(f"header {name.strip()}: missing")
        elif not _glob(value.strip()).fullmatch(headers[key]):
            problems.append(f"header {name.strip()}: {headers[key]!r}")
    if shown_body.strip():
        try:
            json_values(shown_body)
        except json.JSONDecodeError:
            problems.extend(_text_differences(shown_body, printed_body))
        else:
            problems.extend(_json_differences(shown_body, printed_body))
    return problems


def _text_differences(shown: str, printed: str) -> list[str]:
    if _lines_match(shown.strip().splitlines(), printed.strip().splitlines()):
        return []
    return [f"printed {printed.strip()[:400]!r}"]


def _lines_match(patterns: list[str], lines: list[str]) -> bool:
    if not patterns:
        return not lines
    head, rest = patterns[0].strip(), patterns[1:]
    if head == ELLIPSIS:
        return any(_lines_match(rest, lines[n:]) for n in range(len(lines) + 1))
    return (
        bool(lines)
        and bool(_glob(head).fullmatch(lines[0].strip()))
        and _lines_match(rest, lines[1:])
    )


@lru_cache(maxsize=1024)
def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split(ELLIPSIS)), re.DOTALL)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."

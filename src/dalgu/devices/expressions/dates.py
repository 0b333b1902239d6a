"""JavaScript's `new Date(value)` and the few ways the IoT Agents' transforms show a date.

Dalgu reads what `new Date()` reads the same everywhere: epoch milliseconds, ISO 8601 (date
only is midnight UTC; a date-time without an offset is taken in UTC, the clock of an IoT Agent
container) and RFC 2822 dates (`Thu, 18 Nov 2021 14:20:14 GMT`). Other texts, which each
JavaScript engine reads its own way, are invalid dates.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dalgu.devices.expressions.values import UNDEFINED, to_number, to_string

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_MS = 8.64e15  # the range of a JavaScript date
_ISO = re.compile(
    r"([+-]\d{6}|\d{4})(?:-(\d{2})(?:-(\d{2}))?)?"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|[+-]\d{2}:?\d{2})?)?"
)


def milliseconds(value: Any) -> float | None:
    """`new Date(value).getTime()`, None for an invalid date."""
    if value is UNDEFINED:
        return None
    if value is None or isinstance(value, (bool, int, float)):
        ms = float(to_number(value))
    else:
        parsed = _parse(to_string(value).strip())
        if parsed is None:
            return None
        ms = (parsed - _EPOCH) / timedelta(milliseconds=1)
    if math.isnan(ms) or abs(ms) > _MAX_MS:
        return None
    return float(math.trunc(ms))


def _parse(text: str) -> datetime | None:
    match = _ISO.fullmatch(text)
    if match is not None:
        year, month, day, hour, minute, second, fraction, offset = match.groups()
        try:
            moment = datetime(
                int(year),
                int(month or 1),
                int(day or 1),
                int(hour or 0),
                int(minute or 0),
                int(second or 0),
                int((fraction or "0")[:6].ljust(6, "0")),
                tzinfo=UTC,
            )
        except ValueError:
            return None
        if offset and offset != "Z":
            sign = 1 if offset[0] == "+" else -1
            digits = offset[1:].replace(":", "")
            moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return moment
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def moment(ms: float) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def iso_text(ms: float) -> str:
    """Date.prototype.toISOString: `2021-11-18T14:20:14.901Z`."""
    when = moment(ms)
    year = f"{when.year:04d}" if 0 <= when.year <= 9999 else f"{when.year:+07d}"
    return f"{year}{when.strftime('-%m-%dT%H:%M:%S')}.{when.microsecond // 1000:03d}Z"


# how a few locales write a date and time (Intl's default medium-length form)
_DATE_FORMS = {
    "en-US": "{M}/{D}/{Y}, {h}:{mm}:{ss} {ampm}",
    "en-GB": "{DD}/{MM}/{Y}, {HH}:{mm}:{ss}",
    "es": "{D}/{M}/{Y}, {H}:{mm}:{ss}",
    "fr": "{DD}/{MM}/{Y} {HH}:{mm}:{ss}",
    "de": "{D}.{M}.{Y}, {HH}:{mm}:{ss}",
    "it": "{D}/{M}/{Y}, {HH}:{mm}:{ss}",
    "pt": "{DD}/{MM}/{Y}, {HH}:{mm}:{ss}",
    "nl": "{D}-{M}-{Y}, {HH}:{mm}:{ss}",
    "ko": "{Y}. {M}. {D}. {ampm_ko} {h}:{mm}:{ss}",
    "ja": "{Y}/{M}/{D} {H}:{mm}:{ss}",
    "zh": "{Y}/{M}/{D} {HH}:{mm}:{ss}",
}


def locale_text(ms: float, locale: Any, options: Any) -> str:
    """Date.prototype.toLocaleString for the common locales (the language's form, the
    `timeZone` option; other options are not read). Unknown locales are written as en-US."""
    zone: Any = UTC
    if isinstance(options, dict) and isinstance(options.get("timeZone"), str):
        try:
            zone = ZoneInfo(options["timeZone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"invalid time zone {options['timeZone']!r}") from None
    when = moment(ms).astimezone(zone)
    tag = locale if isinstance(locale, str) else "en-US"
    form = _DATE_FORMS.get(tag) or _DATE_FORMS.get(tag.split("-")[0]) or _DATE_FORMS["en-US"]
    hour12 = when.hour % 12 or 12
    return form.format(
        Y=when.year,
        M=when.month,
        D=when.day,
        MM=f"{when.month:02d}",
        DD=f"{when.day:02d}",
        H=when.hour,
        HH=f"{when.hour:02d}",
        h=hour12,
        mm=f"{when.minute:02d}",
        ss=f"{when.second:02d}",
        ampm="AM" if when.hour < 12 else "PM",
        ampm_ko="오전" if when.hour < 12 else "오후",
    )

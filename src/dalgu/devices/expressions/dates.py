"""JavaScript's `new Date(value)` and the few ways the IoT Agents' transforms show a date.

Dalgu reads epoch milliseconds, ISO 8601 (date only is midnight UTC; a date-time without an
offset is taken in UTC, the clock of an IoT Agent container; a day or hour past its range rolls
over, `2021-02-30` is March 2nd, as Node.js reads it), the slashed dates Node.js takes
(`2021/11/18 14:20:14`, `11/18/2021`), `18 Nov 2021`, `Nov 18 2021 14:20:14` and RFC 2822
dates (`Thu, 18 Nov 2021 14:20:14 GMT`). Other texts, which each JavaScript engine reads its
own way (Node.js reads `"12"` as December 2001), are invalid dates.
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
_TIME = r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|GMT|UTC|[+-]\d{2}:?\d{2})?)?"
_ISO = re.compile(r"([+-]\d{6}|\d{4})(?:-(\d{2})(?:-(\d{2}))?)?" + _TIME)
_YEAR_FIRST = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})" + _TIME)
_MONTH_FIRST = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})" + _TIME)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DAY_MONTH = re.compile(r"(?:[a-z]+,?\s+)?(\d{1,2})\s+" + _MONTH + r"\s+(\d{4})" + _TIME, re.I)
_MONTH_DAY = re.compile(r"(?:[a-z]+,?\s+)?" + _MONTH + r"\s+(\d{1,2}),?\s+(\d{4})" + _TIME, re.I)


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
    fields: tuple[str | None, ...]
    if (match := _ISO.fullmatch(text)) or (match := _YEAR_FIRST.fullmatch(text)):
        fields = match.groups()
    elif match := _MONTH_FIRST.fullmatch(text):
        month, day, year, *rest = match.groups()
        fields = (year, month, day, *rest)
    elif match := _DAY_MONTH.fullmatch(text):
        day, name, year, *rest = match.groups()
        fields = (year, str(_MONTHS.index(name[:3].lower()) + 1), day, *rest)
    elif match := _MONTH_DAY.fullmatch(text):
        name, day, year, *rest = match.groups()
        fields = (year, str(_MONTHS.index(name[:3].lower()) + 1), day, *rest)
    else:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return _moment(*fields)


def _moment(
    year: str | None,
    month: str | None,
    day: str | None,
    hour: str | None,
    minute: str | None,
    second: str | None,
    fraction: str | None,
    offset: str | None,
) -> datetime | None:
    """The instant of a date's fields; a day up to 31 or an hour up to 24 past the month's or
    day's end rolls over, as Node.js reads them."""
    assert year is not None
    m, d, h = int(month or 1), int(day or 1), int(hour or 0)
    if not (1 <= m <= 12 and 1 <= d <= 31 and h <= 24 and int(minute or 0) <= 59):
        return None
    if int(second or 0) > 59:
        return None
    if h == 24 and (int(minute or 0) or int(second or 0) or int(fraction or 0)):
        return None  # 24:00:00 only
    try:
        moment = datetime(int(year), m, 1, tzinfo=UTC) + timedelta(
            days=d - 1,
            hours=h,
            minutes=int(minute or 0),
            seconds=int(second or 0),
            microseconds=int((fraction or "0")[:3].ljust(3, "0")) * 1000,
        )
    except (ValueError, OverflowError):
        return None
    if offset and offset[0] in "+-":
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment


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

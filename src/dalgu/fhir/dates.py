"""FHIR dates as the time ranges they stand for (search compares ranges, not strings).

`2024` is the whole year, `2024-03-05` the whole day, `2024-03-05T10:00:00Z` one second,
`2024-03-05T10:00:00.217Z` one millisecond (a fraction is as precise as its digits, down to
the microsecond): a resource whose `meta.lastUpdated` is that millisecond matches `eq` and
`le` it, and not `gt` it, however finely the store keeps the time. A date-time without a
zone is taken as UTC. Ranges are epoch seconds [lo, hi], inclusive, so both stores index
them as plain numbers.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta, timezone

from dalgu.errors import BadRequestData

_DATE = re.compile(
    r"(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?P<f>\.\d{1,9})?)?"
    r"(?P<z>Z|[+-]\d{2}:\d{2})?)?)?)?"
)
NEVER = -1.0e12  # an open start (a Period without start)
FOREVER = 1.0e12  # an open end


def date_range(text: str) -> tuple[float, float]:
    """The range a FHIR date, dateTime or instant covers; BadRequestData when it is none."""
    match = _DATE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise BadRequestData(f"{text!r} is not a FHIR date or dateTime")
    g = match.groupdict()
    try:
        year = int(g["y"])
        if g["m"] is None:
            start = datetime(year, 1, 1, tzinfo=UTC)
            return start.timestamp(), datetime(year + 1, 1, 1, tzinfo=UTC).timestamp() - 1e-6
        month = int(g["m"])
        if g["d"] is None:
            start = datetime(year, month, 1, tzinfo=UTC)
            days = calendar.monthrange(year, month)[1]
            return start.timestamp(), start.timestamp() + days * 86400 - 1e-6
        day = int(g["d"])
        if g["H"] is None:
            start = datetime(year, month, day, tzinfo=UTC)
            return start.timestamp(), start.timestamp() + 86400 - 1e-6
        zone = UTC
        if g["z"] and g["z"] != "Z":
            sign = 1 if g["z"][0] == "+" else -1
            hours, minutes = int(g["z"][1:3]), int(g["z"][4:6])
            zone = timezone(timedelta(minutes=sign * (hours * 60 + minutes)))
        moment = datetime(
            year, month, day, int(g["H"]), int(g["M"]), int(g["S"] or 0), tzinfo=zone
        ).timestamp()
        if g["f"]:
            # the range of its precision (`.217` a millisecond), in microseconds computed as
            # `datetime.timestamp` does, so an instant the server printed from a timestamp
            # gives that very number back as its start
            digits = g["f"][1:]
            lo = (int(moment) * 10**6 + int(digits[:6].ljust(6, "0"))) / 10**6
            return lo, max(lo, lo + 10.0 ** -len(digits) - 1e-6)
        if g["S"] is None:  # to the minute
            return moment, moment + 60 - 1e-6
        return moment, moment + 1 - 1e-6
    except ValueError as exc:  # month 13, day 31 of a short month...
        raise BadRequestData(f"{text!r} is not a valid date: {exc}") from None


def period_range(start: str | None, end: str | None) -> tuple[float, float]:
    """The range of a FHIR Period; a missing start or end is open."""
    lo = date_range(start)[0] if start else NEVER
    hi = date_range(end)[1] if end else FOREVER
    return lo, hi

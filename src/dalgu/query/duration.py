"""ISO 8601 durations (`aggrPeriodDuration`, retention periods) and the calendar arithmetic of
aggregation periods: `P1M` is one calendar month, not 30 days."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from dalgu.errors import BadRequestData

_DURATION = re.compile(
    r"^P(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<mi>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_MAX_SECONDS = 1e10  # ~300 years: a longer period is a mistake, and overflows datetimes


@dataclass(frozen=True, slots=True)
class Duration:
    """Calendar months plus exact seconds; a duration of zero means "the whole range"."""

    months: int = 0
    seconds: float = 0.0

    @property
    def is_zero(self) -> bool:
        return self.months == 0 and self.seconds == 0

    def after(self, start: datetime, periods: int = 1) -> datetime:
        """`start` moved forward by `periods` of this duration."""
        return add_months(start, self.months * periods) + timedelta(seconds=self.seconds * periods)


def parse_duration(text: str, what: str = "aggrPeriodDuration") -> Duration:
    """An ISO 8601 duration: years and months are calendar units; weeks, days, hours,
    minutes and seconds exact. Calendar and exact units cannot be mixed in one period."""
    match = _DURATION.match(text)
    if match is None or text in ("P", "PT") or text.endswith("T"):
        raise BadRequestData(f"{what} {text!r} is not an ISO 8601 duration")
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    months = int(parts.get("y", 0) * 12 + parts.get("mo", 0))
    seconds = (
        parts.get("w", 0) * 604800
        + parts.get("d", 0) * 86400
        + parts.get("h", 0) * 3600
        + parts.get("mi", 0) * 60
        + parts.get("s", 0)
    )
    if months and seconds:
        raise BadRequestData(
            f"{what} {text!r} mixes calendar units (years, months) with exact ones; "
            "use one kind, e.g. P1M or P30D"
        )
    if months > 12 * 300 or seconds > _MAX_SECONDS:
        raise BadRequestData(f"{what} {text!r} is longer than 300 years")
    return Duration(months, seconds)


def add_months(start: datetime, months: int) -> datetime:
    """`start` plus whole calendar months; the day is clamped to the month's last day."""
    if not months:
        return start
    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    day = min(start.day, calendar.monthrange(year, month + 1)[1])
    return start.replace(year=year, month=month + 1, day=day)

"""Assessment periods: a day, an ISO week, a month, a quarter, a year, or a custom range of days,
bounded at midnight in the profile's time zone.

    2026-10-13   2026-W42   2026-10   2026-Q4   2026   2026-10-01..2026-10-15 (both days included)
"""

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from gridcase.core.context import Period
from gridcase.core.errors import GridcaseError

_FORMS = (
    ("day", re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")),
    ("week", re.compile(r"^(\d{4})-W(\d{2})$")),
    ("month", re.compile(r"^(\d{4})-(\d{2})$")),
    ("quarter", re.compile(r"^(\d{4})-Q([1-4])$")),
    ("year", re.compile(r"^(\d{4})$")),
)


def parse_period(text: str, timezone: str = "Asia/Shanghai") -> Period:
    """The period `text` names; a GridcaseError says which forms are understood."""
    text = text.strip()
    try:
        kind, first, last = _days(text)
    except ValueError:
        raise GridcaseError(
            "invalid_period",
            f"cannot read period {text!r}: use 2026-10-13, 2026-W42, 2026-10, 2026-Q4, 2026 "
            "or 2026-10-01..2026-10-15",
        ) from None
    if last < first:
        raise GridcaseError("invalid_period", f"period {text!r} ends before it starts")
    zone = ZoneInfo(timezone)

    def midnight(day: date) -> datetime:
        return datetime.combine(day, time(), zone).astimezone(UTC)

    return Period(text, kind, first, last, midnight(first), midnight(last + timedelta(days=1)))


def _days(text: str) -> tuple[str, date, date]:
    if ".." in text:
        a, b = text.split("..", 1)
        return "custom", date.fromisoformat(a.strip()), date.fromisoformat(b.strip())
    for kind, pattern in _FORMS:
        match = pattern.match(text)
        if not match:
            continue
        numbers = [int(g) for g in match.groups()]
        if kind == "day":
            day = date(*numbers)
            return kind, day, day
        if kind == "week":
            first = date.fromisocalendar(numbers[0], numbers[1], 1)
            return kind, first, first + timedelta(days=6)
        if kind == "month":
            year, month = numbers
            first = date(year, month, 1)
            following = date(year + month // 12, month % 12 + 1, 1)
            return kind, first, following - timedelta(days=1)
        if kind == "quarter":
            year, quarter = numbers
            first = date(year, 3 * quarter - 2, 1)
            following = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
            return kind, first, following - timedelta(days=1)
        return kind, date(numbers[0], 1, 1), date(numbers[0], 12, 31)
    raise ValueError(text)

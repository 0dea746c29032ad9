"""Working calendars: which minutes count towards a working-time limit.

A working day has working periods (default 08:00–12:00 and 14:00–18:00, local time). Which
days are working days, in order of precedence: the profile's overrides; China's statutory
holidays (not working) and 调休 make-up workdays (working), from the `holidays` package; then
the weekday rule (Monday to Friday). A year the package has no 调休 data for (not announced
yet) is refused rather than guessed, unless the profile has overrides in that year.

Times are aware datetimes; arithmetic happens in the calendar's time zone.
"""

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from gridcase.core.errors import GridcaseError

DEFAULT_PERIODS = (("08:00", "12:00"), ("14:00", "18:00"))
DEFAULT_WARN_DAYS = 60  # warn this many days before the last confirmed day


class CalendarError(GridcaseError):
    def __init__(self, message: str) -> None:
        super().__init__("calendar", message)


@dataclass(frozen=True)
class HolidayYear:
    off: frozenset[date]
    makeup: frozenset[date]
    published: bool  # False: 调休 not published, only the statutory days are known


@lru_cache(maxsize=256)
def _china_year(year: int) -> HolidayYear:
    import holidays

    calendar = holidays.country_holidays("CN", years=year)
    makeup = frozenset(d for d in getattr(calendar, "weekend_workdays", ()) if d.year == year)
    off = frozenset(d for d in calendar if d.year == year)
    substituted = any("substituted" in name.lower() for name in calendar.values())
    return HolidayYear(off, makeup, bool(makeup or substituted))


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


@dataclass
class WorkingCalendar:
    timezone: str = "Asia/Shanghai"
    periods: tuple[tuple[int, int], ...] = tuple((_minutes(a), _minutes(b)) for a, b in DEFAULT_PERIODS)
    workdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    holidays: str = "cn"
    continuous: bool = False
    overrides: dict[date, bool] = field(default_factory=dict)
    confirmed_years: frozenset[int] = frozenset()  # entered by hand, beside the package's
    warn_days: int = DEFAULT_WARN_DAYS

    def __post_init__(self) -> None:
        self.tz = ZoneInfo(self.timezone)
        self.day_minutes = sum(b - a for a, b in self.periods)
        self._days: dict[date, bool] = {}

    @classmethod
    def from_spec(cls, spec: dict[str, Any], base: "WorkingCalendar | None" = None) -> "WorkingCalendar":
        """A calendar from a profile's `calendar` block; missing keys come from `base`."""
        base = base or cls()
        periods = spec.get("periods")
        overrides = dict(base.overrides)
        overrides.update(
            {date.fromisoformat(o["date"]): bool(o["working"]) for o in spec.get("overrides", [])}
        )
        return cls(
            timezone=spec.get("timezone", base.timezone),
            periods=tuple((_minutes(a), _minutes(b)) for a, b in periods) if periods else base.periods,
            workdays=frozenset(spec["workdays"]) if "workdays" in spec else base.workdays,
            holidays=spec.get("holidays", base.holidays),
            continuous=spec.get("continuous", base.continuous),
            overrides=overrides,
            confirmed_years=base.confirmed_years | frozenset(spec.get("confirmed_years", ())),
            warn_days=spec.get("warn_days", base.warn_days),
        )

    def with_overrides(
        self, extra: dict[date, bool], years: frozenset[int] = frozenset()
    ) -> "WorkingCalendar":
        """This calendar with an administrator's overrides and confirmed years on top."""
        if not extra and not years:
            return self
        return replace(
            self, overrides={**self.overrides, **extra}, confirmed_years=self.confirmed_years | years
        )

    # -- which years are known --------------------------------------------------------

    def confirmed(self, year: int) -> bool:
        """Whether the year's working days are final: a year's 调休 published in the package, or
        confirmed by hand; a calendar without holiday data has nothing to wait for."""
        if not self.waits_for_holidays or year in self.confirmed_years:
            return True
        return _china_year(year).published

    @property
    def waits_for_holidays(self) -> bool:
        return not self.continuous and self.holidays == "cn"

    def last_confirmed_day(self, today: date) -> date:
        """The last day before the first unconfirmed year from `today` on (at most ten years on)."""
        year = today.year
        while self.confirmed(year) and year < today.year + 10:
            year += 1
        return date(year, 1, 1) - timedelta(days=1)

    def provisional_from(self, start: datetime, end: datetime) -> datetime | None:
        """The moment from which the working time of `start` to `end` is counted on days not yet
        confirmed, or None when every day of it is final."""
        if self.continuous or end <= start:
            return None
        first, last = self._local(start)[0].year, self._local(end)[0].year
        for year in range(first, last + 1):
            if not self.confirmed(year):
                return max(start, datetime.combine(date(year, 1, 1), time(), self.tz))
        return None

    # -- days -------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        known = self._days.get(day)
        if known is None:
            known = self._days[day] = self._working(day)
        return known

    def _working(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        if self.holidays == "cn":
            year = _china_year(day.year)
            if day in year.makeup:
                return True
            if day in year.off:
                return False
        return day.isoweekday() in self.workdays

    # -- arithmetic -------------------------------------------------------------------

    def _local(self, moment: datetime) -> tuple[date, float]:
        if moment.tzinfo is None:
            raise CalendarError("calendar arithmetic needs aware datetimes")
        local = moment.astimezone(self.tz)
        return local.date(), local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60

    def _at(self, day: date, minute: float) -> datetime:
        return datetime.combine(day, time(), self.tz) + timedelta(minutes=minute)

    def add(self, start: datetime, minutes: float) -> datetime:
        """The moment `minutes` of working time after `start` (an end of a period counts as in it)."""
        return self.add_all(start, (minutes,))[0]

    def add_all(self, start: datetime, amounts: tuple[float, ...]) -> list[datetime]:
        """`add` for several amounts in one walk of the calendar (a deadline and its yellow light)."""
        if any(m < 0 for m in amounts):
            raise CalendarError("a time limit cannot be negative")
        order = sorted(range(len(amounts)), key=amounts.__getitem__)
        out: list[datetime] = [start] * len(amounts)
        if self.continuous or not self.day_minutes:
            return [start + timedelta(minutes=m) for m in amounts]
        pending = [i for i in order if amounts[i] > 0]
        if not pending:
            return out
        day, minute = self._local(start)
        used = 0.0  # working minutes passed so far
        for _ in range(3660):  # ten years of days: a limit longer than that is a mistake
            if self.is_working_day(day):
                if minute <= self.periods[0][0] and amounts[pending[0]] - used > self.day_minutes:
                    used += self.day_minutes  # a whole working day at once
                else:
                    for a, b in self.periods:
                        if minute >= b:
                            continue
                        begin = max(a, minute)
                        while pending and amounts[pending[0]] - used <= b - begin:
                            out[pending[0]] = self._at(day, begin + amounts[pending[0]] - used)
                            pending.pop(0)
                        if not pending:
                            return out
                        used += b - begin
            day, minute = day + timedelta(days=1), 0.0
        raise CalendarError(f"{max(amounts)} working minutes reach more than ten years ahead")

    def between(self, start: datetime, end: datetime) -> float:
        """Working minutes from `start` to `end` (0 when end is not after start)."""
        if end <= start:
            return 0.0
        if self.continuous or not self.day_minutes:
            return (end - start).total_seconds() / 60
        day, minute = self._local(start)
        last_day, last_minute = self._local(end)
        if last_minute == 0:  # ends at midnight: the end day contributes nothing (and needs no data)
            last_day, last_minute = last_day - timedelta(days=1), 24 * 60
        total = 0.0
        while day <= last_day:
            if self.is_working_day(day):
                upto = last_minute if day == last_day else 24 * 60
                total += sum(max(0.0, min(b, upto) - max(a, minute)) for a, b in self.periods)
            day, minute = day + timedelta(days=1), 0.0
        return total

    def is_working_time(self, moment: datetime) -> bool:
        day, minute = self._local(moment)
        return self.continuous or (
            self.is_working_day(day) and any(a <= minute <= b for a, b in self.periods)
        )


@dataclass(frozen=True)
class Readiness:
    """How far ahead a calendar's working days are final."""

    calendar: str  # "" for the default
    last_confirmed: date
    days_left: int
    warn_days: int

    @property
    def warning(self) -> bool:
        return self.days_left <= self.warn_days

    def message(self) -> str:
        name = self.calendar or "the default calendar"
        year = self.last_confirmed.year + 1
        return (
            f"{name}: working days are confirmed through {self.last_confirmed} ({self.days_left} days); "
            f"deadlines reaching {year} are provisional until its 调休 is published "
            f"(upgrade the holidays package) or entered "
            f"(gridcase calendar set …, then gridcase calendar confirm {year})"
        )


def readiness(default: WorkingCalendar, named: dict[str, WorkingCalendar], today: date) -> list[Readiness]:
    """The last confirmed day of each calendar that follows published holidays, the default first."""
    out = []
    for code, calendar in {"": default, **named}.items():
        if not calendar.waits_for_holidays:
            continue  # every day of it is known
        last = calendar.last_confirmed_day(today)
        out.append(Readiness(code, last, (last - today).days, calendar.warn_days))
    return out


def calendars_from_profile(
    profile: dict[str, Any],
    extra: dict[str, dict[date, bool]] | None = None,
    years: dict[str, frozenset[int]] | None = None,
) -> tuple[WorkingCalendar, dict[str, WorkingCalendar]]:
    """The default calendar and the named ones (each built over the default); `extra` are the
    database's overrides and `years` its confirmed years, by calendar code, "" for the default
    (which the named ones inherit)."""
    extra, years = extra or {}, years or {}
    limits = profile.get("time_limits", {})
    default = WorkingCalendar.from_spec(limits.get("calendar", {})).with_overrides(
        extra.get("", {}), years.get("", frozenset())
    )
    named = {
        spec["code"]: WorkingCalendar.from_spec(spec, default).with_overrides(
            extra.get(spec["code"], {}), years.get(spec["code"], frozenset())
        )
        for spec in limits.get("calendars", [])
    }
    return default, named

"""Working-time arithmetic: properties (hypothesis) and worked examples on real 2026 dates."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridcase.core.sla.calendar import CalendarError, WorkingCalendar

CST = ZoneInfo("Asia/Shanghai")
CAL = WorkingCalendar()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CST)


# starts early enough that 20 working days stay inside the years with published 调休 data
moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 11, 20)).map(
    lambda d: d.replace(tzinfo=CST)
)
amounts = st.floats(min_value=0, max_value=20 * 480, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(moments, amounts)
def test_adding_then_measuring_gives_back_the_amount(start, minutes):
    assert CAL.between(start, CAL.add(start, minutes)) == pytest.approx(minutes, abs=1e-6)


@settings(max_examples=300, deadline=None)
@given(moments, amounts, amounts)
def test_deadlines_are_monotonic_in_the_amount(start, a, b):
    low, high = sorted((a, b))
    assert CAL.add(start, low) <= CAL.add(start, high)


@settings(max_examples=300, deadline=None)
@given(moments, st.floats(min_value=0.01, max_value=20 * 480, allow_nan=False))
def test_a_working_deadline_lands_in_working_time(start, minutes):
    assert CAL.is_working_time(CAL.add(start, minutes))


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 31)))
def test_holidays_never_count_and_make_up_days_do(day):
    start = datetime.combine(day, datetime.min.time(), CST)
    worked = CAL.between(start, start + timedelta(days=1))
    assert worked == (480 if CAL.is_working_day(day) else 0)


def test_chinese_holidays_and_make_up_workdays_of_2026():
    assert not CAL.is_working_day(date(2026, 10, 1))  # National Day
    assert not CAL.is_working_day(date(2026, 10, 7))  # a substituted day off
    assert CAL.is_working_day(date(2026, 10, 10))  # a 调休 Saturday
    assert CAL.is_working_day(date(2026, 9, 20))  # a 调休 Sunday
    assert not CAL.is_working_day(date(2026, 10, 11))  # an ordinary Sunday
    assert not CAL.is_working_day(date(2026, 9, 25))  # Mid-Autumn, the Friday before National Day week


def test_filed_on_the_friday_before_national_day():
    # Friday 2026-09-25 is the Mid-Autumn holiday: 2 working days (16 h) run Mon 28 and Tue 29
    assert CAL.add(at("2026-09-25T10:00"), 2 * 480) == at("2026-09-29T18:00")
    # from the last working day before the holiday, 1 working day ends on Thursday 8 October
    assert CAL.add(at("2026-09-30T16:00"), 480) == at("2026-10-08T16:00")
    assert CAL.between(at("2026-09-30T16:00"), at("2026-10-08T16:00")) == 480


def test_a_make_up_saturday_counts():
    # Friday 9 October 17:00 + 4 working hours: 1 h on Friday, then Saturday 10 October (调休) 08:00–11:00
    assert CAL.add(at("2026-10-09T17:00"), 240) == at("2026-10-10T11:00")


def test_an_urgent_case_crosses_the_night():
    round_the_clock = WorkingCalendar(continuous=True)
    assert round_the_clock.add(at("2026-10-13T22:30"), 120) == at("2026-10-14T00:30")
    # the same 2 hours of working time wait for the morning
    assert CAL.add(at("2026-10-13T22:30"), 120) == at("2026-10-14T10:00")


def test_lunch_break_and_period_ends():
    assert CAL.add(at("2026-10-13T11:30"), 60) == at("2026-10-13T14:30")
    assert CAL.add(at("2026-10-13T11:00"), 60) == at("2026-10-13T12:00")  # the end of a period is in it
    assert CAL.add(at("2026-10-13T12:30"), 0) == at("2026-10-13T12:30")
    assert CAL.between(at("2026-10-13T07:00"), at("2026-10-13T20:00")) == 480


def test_overrides_beat_the_holiday_data():
    calendar = WorkingCalendar.from_spec(
        {"overrides": [{"date": "2026-10-12", "working": False}, {"date": "2026-10-11", "working": True}]}
    )
    assert not calendar.is_working_day(date(2026, 10, 12)) and calendar.is_working_day(date(2026, 10, 11))


def test_a_year_without_published_tiaoxiu_counts_on_its_statutory_days_and_is_provisional():
    # 2027's 调休 is not in the package: its statutory days still count, by the weekday rule
    assert not CAL.confirmed(2027) and CAL.confirmed(2026)
    start = at("2026-12-25T09:00")
    deadline = CAL.add(start, 5 * 480)  # 5 working days: New Year's Day does not count
    assert deadline == at("2027-01-04T09:00")
    assert CAL.provisional_from(start, deadline) == at("2027-01-01T00:00")
    assert CAL.provisional_from(start, at("2026-12-31T18:00")) is None
    assert not CAL.is_working_day(date(2027, 2, 8))  # Spring Festival


def test_one_override_changes_one_day_on_top_of_the_package_days():
    one = WorkingCalendar.from_spec({"overrides": [{"date": "2027-01-01", "working": True}]})
    assert one.is_working_day(date(2027, 1, 1))
    assert not one.is_working_day(date(2027, 2, 8))  # the rest of 2027's statutory days stay
    assert not one.is_working_day(date(2027, 1, 2))


def test_a_confirmed_year_is_final_and_the_last_confirmed_day_follows():
    assert CAL.last_confirmed_day(date(2026, 12, 5)) == date(2026, 12, 31)
    confirmed = WorkingCalendar.from_spec({"confirmed_years": [2027]})
    assert confirmed.last_confirmed_day(date(2026, 12, 5)) == date(2027, 12, 31)
    assert confirmed.provisional_from(at("2026-12-25T09:00"), at("2027-01-04T09:00")) is None
    assert WorkingCalendar(holidays="none").confirmed(2040)


def test_naive_datetimes_are_refused():
    with pytest.raises(CalendarError):
        CAL.add(datetime(2026, 10, 13, 9), 60)


@settings(max_examples=200, deadline=None)
@given(moments, amounts, amounts)
def test_one_walk_for_two_amounts_equals_two_walks(start, a, b):
    assert CAL.add_all(start, (a, b)) == [CAL.add(start, a), CAL.add(start, b)]

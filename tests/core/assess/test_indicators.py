"""Exact counts on hand-made data: the public figures, the due and on-time rules, multipliers,
edge cases, on SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta

import pytest

from gridcase.core.assess.assessor import Assessor
from gridcase.core.assess.periods import parse_period
from gridcase.core.assess.scoring import Scoring
from gridcase.core.engine import Engine
from gridcase.core.errors import GridcaseError
from gridcase.core.places.units import set_unit_class

from ...conftest import TESTCITY
from .conftest import OCT, Seeder, at

NOV_5 = datetime(2026, 11, 5, tzinfo=UTC)


def unit(result, code):
    return next(o for o in result["objects"] if o["code"] == code)


def test_tianmen_december_figures_come_out_exactly(engine, seed):
    """天门 2016-12: 应结案 972, 结案 911 → 93.72%; 按期结案 737 → 75.82%."""
    for i in range(911):
        seed.closed(1 + i % 28, on_time=i < 737)
    for _ in range(61):
        seed.overdue_open()
    # none of these is due in October
    seed.case(clocks=[{"stopped": at(20, month=9), "deadline": at(25, month=9)}])  # closed in September
    seed.case(clocks=[{"deadline": at(20, month=11)}])  # open, its deadline is in November
    seed.case(clocks=[{"stopped": at(10), "deadline": at(5), "by": "void"}])  # voided, not closed
    seed.case(clocks=[{"deadline": at(20), "status": "paused", "paused": at(15)}])  # shelved (挂账)
    engine.time.set(NOV_5)
    result = Assessor(engine).assess("2026-10", by="unit")
    totals = result["totals"]
    assert (totals["close_due"], totals["closed"], totals["closed_on_time"]) == (972, 911, 737)
    assert f"{totals['closure_rate']:.2%}" == "93.72%"
    assert f"{totals['on_time_closure_rate']:.2%}" == "75.82%"
    assert totals["overdue_open"] == 61 and totals["closed_late"] == 174
    water = unit(result, "water")
    assert water["values"]["close_due"] == 972  # every case counts against water …
    assert unit(result, "water_north")["values"]["close_due"] == 0  # … and nothing below it


def test_xuzhou_closure_rate_from_its_public_counts():
    """徐州: 1.43M due, 1.42M closed → 99.30%."""
    from gridcase.core.profile import load_validated

    profile, _ = load_validated("standard")
    values = Scoring(profile.plain()["assessment"]).values(
        {"close_due": 1_430_000, "closed": 1_420_000}, "unit"
    )
    assert f"{values['closure_rate']:.2%}" == "99.30%"


def test_a_period_with_no_cases_has_counts_of_zero_and_no_rates_or_ranks(engine):
    result = Assessor(engine).assess("2026-03", by="unit")
    water = unit(result, "water")
    assert water["values"]["close_due"] == 0 and water["values"]["closure_rate"] is None
    assert water["composite"]["score"] is None and water["final"] is None and water["rank"] is None
    assert result["rankings"] == []


def test_the_current_period_counts_overdue_only_what_is_overdue_by_now(engine, seed):
    seed.case(clocks=[{"deadline": at(10)}])
    seed.case(clocks=[{"deadline": at(25)}])  # not yet due on the 13th
    assert Assessor(engine).assess("2026-10")["totals"]["overdue_open"] == 1
    engine.time.set(NOV_5)
    assert Assessor(engine).assess("2026-10")["totals"]["overdue_open"] == 2


def _open_with(profile_yaml: str, engine, make_profile) -> Engine:
    folder = make_profile("variant", {"profile.yaml": f"name: variant\nextends: {TESTCITY}\n{profile_yaml}"})
    variant = Engine.open(folder, engine.db.url.render_as_string(hide_password=False), time=engine.time)
    return variant


@pytest.mark.parametrize(
    ("rule", "due", "closed"),
    [
        # done in October (2) + overdue and open at its end (the 20th's, and the one closed in November)
        ("done_or_overdue", 4, 2),
        # deadlines in October: the two closed ones, the open overdue one, the one closed in November
        ("deadline_in_period", 4, 3),
        # clocks started in October: the one closed in November and the one started on the 2nd
        ("started_in_period", 2, 2),
    ],
)
def test_which_cases_are_due_is_the_profiles_choice(engine, make_profile, rule, due, closed):
    seed = Seeder(engine)
    seed.case(clocks=[{"stopped": at(5), "deadline": at(6)}])
    seed.case(clocks=[{"stopped": at(7), "deadline": at(6), "started": at(2)}])
    seed.case(clocks=[{"deadline": at(20)}])
    seed.case(clocks=[{"stopped": at(3, month=11), "deadline": at(30), "started": at(29)}])
    engine.time.set(NOV_5)
    variant = _open_with(f"assessment:\n  counting: {{due: {rule}}}\n", engine, make_profile)
    totals = Assessor(variant).assess("2026-10")["totals"]
    assert (totals["close_due"], totals["closed"]) == (due, closed)
    variant.db.dispose()


def test_an_extended_case_is_on_time_by_its_new_deadline_unless_the_profile_says_otherwise(
    engine, make_profile
):
    Seeder(engine).case(clocks=[{"stopped": at(10), "deadline": at(11), "extended": 1}])
    engine.time.set(NOV_5)
    assert Assessor(engine).assess("2026-10")["totals"]["closed_on_time"] == 1
    strict = _open_with("assessment:\n  counting: {extended_on_time: false}\n", engine, make_profile)
    totals = Assessor(strict).assess("2026-10")["totals"]
    assert (totals["closed_on_time"], totals["closed_late"]) == (0, 1)
    strict.db.dispose()


def test_class_multipliers_weight_closure_and_on_time_rates(engine, make_profile):
    seed = Seeder(engine)
    seed.closed(3, on_time=True, class_code="0103")  # a key class: counts 5×
    seed.closed(4, on_time=False)
    seed.overdue_open()
    engine.time.set(NOV_5)
    weighted = _open_with(
        """
taxonomy:
  editions:
    - code: cjt214
      component:
        - code: '01'
          minors:
            - {code: '0103', multiplier: 5}
assessment:
  indicators:
    - {code: close_due, name: 应结案数, count: close_due, weighted: true}
    - {code: closed, name: 结案数, count: closed, weighted: true}
    - {code: closed_on_time, name: 按期结案数, count: closed_on_time, weighted: true}
""",
        engine,
        make_profile,
    )
    totals = Assessor(weighted).assess("2026-10")["totals"]
    assert (totals["close_due"], totals["closed"], totals["closed_on_time"]) == (7, 6, 5)
    assert totals["closure_rate"] == pytest.approx(6 / 7)
    assert totals["on_time_closure_rate"] == pytest.approx(5 / 7)
    assert totals["handle_due"] == 0  # unweighted counts stay counts
    weighted.db.dispose()


def test_units_rank_within_their_class_and_small_samples_are_not_ranked(engine):
    seed = Seeder(engine)
    for i in range(12):
        seed.closed(1 + i, on_time=True, unit="water")
    for i in range(12):
        seed.closed(1 + i, on_time=i < 6, unit="city_admin")
    for _ in range(2):
        seed.overdue_open(unit="city_admin")
    for i in range(3):
        seed.closed(1 + i, on_time=True, unit="police")  # perfect, but only 3 cases
    set_unit_class(engine.db, "city_admin", "A", engine.time.now())  # since the units were loaded
    engine.time.set(NOV_5)
    result = Assessor(engine).assess("2026-10")
    water, city_admin, police = (unit(result, c) for c in ("water", "city_admin", "police"))
    assert (water["rank"], city_admin["rank"]) == (1, 2)
    assert water["final"] > city_admin["final"]
    assert police["rank"] is None and police["unranked"].startswith("样本不足")
    assert {"composite": "department", "class": "A", "objects": ["unit:water", "unit:city_admin"]} in result[
        "rankings"
    ]
    # a class with one unit: it is first in it
    set_unit_class(engine.db, "city_admin", "B", OCT + timedelta(days=14))
    october = Assessor(engine).assess("2026-10")
    assert unit(october, "city_admin")["class"] == "B" and unit(october, "city_admin")["rank"] == 1
    assert unit(october, "water")["rank"] == 1
    # a unit that changed class mid-October is in its old class for a period ending before that
    first_half = Assessor(engine).assess("2026-10-01..2026-10-14")
    assert unit(first_half, "city_admin")["class"] == "A"


def test_filters_by_class_and_assessing_by_other_objects(engine, seed):
    seed.closed(3, on_time=True, grid="320508001001001", channel="hotline_12345")
    engine.time.set(NOV_5)
    assessor = Assessor(engine)
    only_a = assessor.assess("2026-10", classes=["A"])
    assert [o["code"] for o in only_a["objects"]] == ["water"]
    by_channel = assessor.assess("2026-10", by="channel")
    assert unit(by_channel, "hotline_12345")["values"]["closed"] == 1
    by_grid = assessor.assess("2026-10", by="grid")
    # grids carry what happened in the grids below them
    assert unit(by_grid, "320508001001001")["values"]["closed"] == 1
    assert unit(by_grid, "320508001")["values"]["closed"] == 1
    by_class = assessor.assess("2026-10", by="class")
    assert unit(by_class, "0101")["values"]["closed"] == 1
    with pytest.raises(GridcaseError, match="cannot assess by 'street'"):
        assessor.assess("2026-10", by="street")


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2026-10-13", "2026-10-13", "2026-10-13"),
        ("2026-W42", "2026-10-12", "2026-10-18"),
        ("2026-10", "2026-10-01", "2026-10-31"),
        ("2026-02", "2026-02-01", "2026-02-28"),
        ("2026-Q4", "2026-10-01", "2026-12-31"),
        ("2026", "2026-01-01", "2026-12-31"),
        ("2026-10-01..2026-10-15", "2026-10-01", "2026-10-15"),
    ],
)
def test_periods(text, first, last):
    period = parse_period(text)
    assert (period.first.isoformat(), period.last.isoformat()) == (first, last)
    assert period.start.isoformat().endswith("16:00:00+00:00")  # midnight in Shanghai


@pytest.mark.parametrize("text", ["2026-13", "October", "2026-10-15..2026-10-01", "2026-Q5"])
def test_a_period_that_cannot_be_read_says_which_forms_can(text):
    with pytest.raises(GridcaseError) as info:
        parse_period(text)
    assert info.value.code == "invalid_period"

"""`gridcase simulate` and `make demo`'s parts: a reproducible workload through the real engine,
on both databases, leaving a database the server opens."""

from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from gridcase.core.db.connection import make_engine, read
from gridcase.core.db.models import Case, CaseEvent
from gridcase.core.engine import Engine
from gridcase.core.errors import GridcaseError
from gridcase.core.profile import load_validated
from gridcase.core.profile.taxonomy import active_classes
from gridcase.core.simulate import simulate
from gridcase.core.simulate.workload import Workload, incidents

START = date(2026, 10, 12)  # a Monday


def heping_workload(**changes) -> Workload:
    profile = load_validated("heping")[0].plain()
    classes = sorted((i["kind"], i["minor"]["code"]) for i in active_classes(profile))
    workload = Workload.of(profile, classes)
    return Workload(**{**workload.__dict__, **changes})


def test_the_workload_has_the_profiles_rhythm_mix_and_duplicates():
    stream = incidents(heping_workload(reports_per_day=400), START, 14, seed=3)
    local = [i.at.astimezone(ZoneInfo("Asia/Shanghai")) for i in stream]
    assert all(START <= t.date() < START + timedelta(days=14) for t in local)
    assert stream == sorted(stream, key=lambda i: i.at)
    by_hour = Counter(t.hour for t in local)
    assert by_hour[10] > 5 * by_hour[3]  # patrols by day
    weekdays = Counter(t.weekday() for t in local if not any(i.repeats for i in [stream[local.index(t)]]))
    assert weekdays[0] > 1.5 * weekdays[6]  # a quieter Sunday
    repeats = [i for i in stream if i.repeats is not None]
    assert 0.08 < len(repeats) / len(stream) < 0.16  # the standard profile's 12%
    first = {i.n: i for i in stream}
    assert all(first[r.repeats].code == r.code and first[r.repeats].at < r.at for r in repeats)
    classes = Counter((i.kind, i.code) for i in stream)
    # 暴露垃圾 is the most reported class, as the profile weights it
    assert classes.most_common(1)[0][0] == ("event", "0102")
    assert Counter(i.channel_kind for i in stream)["patrol"] > len(stream) / 3


def test_the_same_seed_gives_the_same_stream_and_another_seed_another():
    workload = heping_workload(reports_per_day=50)
    assert incidents(workload, START, 3, seed=9) == incidents(workload, START, 3, seed=9)
    assert incidents(workload, START, 3, seed=9) != incidents(workload, START, 3, seed=10)


def _run(url, seed=5, tmp_path=None):
    return simulate("heping", url, days=3, seed=seed, start=START, reports_per_day=60, evidence=tmp_path)


def test_the_same_seed_gives_the_same_figures(tmp_path):
    first = _run(f"sqlite:///{tmp_path / 'a.db'}", tmp_path=tmp_path / "ev")
    again = _run(f"sqlite:///{tmp_path / 'b.db'}", tmp_path=tmp_path / "ev")
    other = _run(f"sqlite:///{tmp_path / 'c.db'}", seed=6, tmp_path=tmp_path / "ev")
    assert first == again
    assert first["figures"] != other["figures"]


def test_a_simulated_month_runs_the_whole_loop_on_each_database(db_url, tmp_path):
    result = simulate("heping", db_url, days=4, seed=2, start=START, reports_per_day=80, evidence=tmp_path)
    tally, figures = result["tally"], result["figures"]
    assert figures["reports"] == tally["reports"] > 250
    assert tally["duplicates"] > 0 and tally["cases"] == tally["reports"] - tally["duplicates"]
    # the main loop and its exception paths all happened
    for code in ("file", "dispatch", "sign", "handle", "check_pass", "close", "rework", "return", "verify"):
        assert tally["fired"].get(code, 0) > 0, code
    assert 0 < figures["filed"] <= figures["cases"]
    assert 0 < figures["closed"] < figures["filed"]  # four days: some are still in hand
    assert figures["closure_rate"] == round(figures["closed"] / figures["filed"], 4)
    assert figures["on_the_spot"] == tally["fired"]["self_approve"]
    # finite capacity and long waits make some handling late, and the sweep turned lights
    assert figures["overdue_by_unit"] and figures["overdue_by_unit"][0]["overdue"] > 0
    assert tally["sweeps"] == 4 * 24 + 1  # on every hour, the period's end included
    # 和平's own mechanisms were exercised: 五所进街 routing and 民生110 replies
    assert figures["routing"]["command"] > 0 and tally["mechanisms"]["民生110"] > 0
    assert (
        figures["ranking"]["top"]
        and figures["ranking"]["top"][0]["score"] >= figures["ranking"]["bottom"][0]["score"]
    )
    engine = Engine.open("heping", db_url, evidence=None)
    try:  # the database is one the server's engine reads
        with read(engine.db) as connection:
            some = connection.execute(select(Case.__table__.c.id).limit(1)).scalar()
        assert engine.case(some)["events"]
    finally:
        engine.db.dispose()


def test_a_database_that_already_holds_cases_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    _run(url, tmp_path=tmp_path)
    with pytest.raises(GridcaseError, match="already holds .* cases"):
        _run(url, tmp_path=tmp_path)
    db = make_engine(url)
    with read(db) as connection:  # and nothing was added to it
        assert connection.execute(select(func.count()).select_from(Case.__table__)).scalar() > 0
    db.dispose()


def test_continue_adds_days_after_the_cases_a_database_holds(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    first = _run(url, tmp_path=tmp_path)
    with pytest.raises(
        GridcaseError, match="last case was reported at 2026-10-14 .*continue from 2026-10-15"
    ):
        simulate(
            "heping", url, days=2, seed=6, start=START, reports_per_day=60, evidence=tmp_path, resume=True
        )
    later = START + timedelta(days=3)
    more = simulate(
        "heping", url, days=2, seed=6, start=later, reports_per_day=60, evidence=tmp_path, resume=True
    )
    db = make_engine(url)
    with read(db) as connection:
        total = connection.execute(select(func.count()).select_from(Case.__table__)).scalar()
        numbers = connection.execute(select(func.count(func.distinct(Case.__table__.c.number)))).scalar()
        # the earlier days' open cases are worked on too, not left where they stood
        begun = datetime.fromisoformat(more["figures"]["period"]["start"])
        case, event = Case.__table__, CaseEvent.__table__
        worked = connection.execute(
            select(func.count(func.distinct(event.c.case_id)))
            .join(case, case.c.id == event.c.case_id)
            .where(case.c.reported_at < begun, event.c.at >= begun, event.c.actor_id.is_not(None))
        ).scalar()
    db.dispose()
    assert total == first["tally"]["cases"] + more["tally"]["cases"] == numbers  # numbered on
    assert worked > 0


def test_the_cli_prints_the_periods_figures(cli, tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    result = cli(
        "simulate", "--profile", "heping", "--days", "2", "--start", "2026-10-12",
        "--reports-per-day", "40", "--db", url, "--json", str(tmp_path / "f.json"), "-q",
    )  # fmt: skip
    assert result.code == 0, result.err
    for label in (
        "立案数",
        "结案率",
        "按期结案率",
        "即办率",
        "overdue handling by unit",
        "top of the ranking",
    ):
        assert label in result.out
    assert (tmp_path / "f.json").read_text(encoding="utf-8").startswith("{")
    again = cli("simulate", "--profile", "heping", "--days", "2", "--db", url, "-q")
    assert again.code == 1 and "already holds" in again.err and "Traceback" not in again.err
    bad = cli("simulate", "--profile", "heping", "--start", "yesterday", "--db", url)
    assert bad.code == 1 and "--start 'yesterday'" in bad.err


def test_the_profile_sets_the_volume_and_the_command_line_scales_it():
    assert heping_workload().reports_per_day == 320  # 和平's simulation section
    assert heping_workload().scaled(1000).reports_per_day == 1000
    assert heping_workload().scaled(None) == heping_workload()

"""Reports taken together (what the server does with the reports that arrive while a batch is
being written): one transaction for the batch, and each report answered exactly as it would
have been alone."""

import shutil
import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from gridcase.core.cases.evidence import EvidenceStore, Upload
from gridcase.core.db.models import Case, CaseEvent, Outbox, Report
from gridcase.core.engine import Engine
from gridcase.core.errors import GridcaseError
from gridcase.core.hookspecs import hookimpl
from gridcase.core.intake.submit import Submission
from gridcase.core.people.actor import Actor
from gridcase.core.timesource import ManualTime

from ..conftest import TESTCITY, change_setting
from .test_round_trips import RoundTrips

supervisor = Actor.of("supervisor", id=None)
NEAR = [120.61, 31.337]
FAR = [120.62, 31.338]
JPEG = b"\xff\xd8\xff\xe0" + bytes(100)


def cover(point, **extra):
    return {"channel": "patrol", "point": point, "category": "0101", "kind": "component", **extra}


def metres_east(point, metres):
    return [point[0] + metres / 95_000, point[1]]  # about 95 km a degree of longitude at 31°N


def records(engine):
    """What intake wrote, in a form that does not depend on ids: cases by number, with their
    counts, and every report and event by its case's number."""
    with engine.db.connect() as connection:
        numbers = dict(connection.execute(select(Case.id, Case.number)).all())
        cases = sorted(
            (n, c, v) for n, c, v in connection.execute(select(Case.number, Case.report_count, Case.version))
        )
        reports = sorted(
            (numbers[r.case_id], r.duplicate, r.idempotency_key or "", round(r.lon, 6))
            for r in connection.execute(select(Report))
        )
        events = sorted(
            (numbers[e.case_id], e.seq, e.transition, e.from_state, e.to_state)
            for e in connection.execute(select(CaseEvent))
        )
    return cases, reports, events


def test_each_report_of_a_batch_is_answered_as_it_would_be_alone(engine):
    open_case = engine.intake(cover(NEAR), supervisor)
    earlier = engine.intake(cover([120.605, 31.31]), supervisor, idempotency_key="handset-1")
    batch = [
        Submission(cover(metres_east(NEAR, 10)), supervisor),  # repeats the open case
        Submission(cover(FAR), supervisor, key="handset-2"),  # a new case
        Submission(cover(metres_east(FAR, 12)), supervisor),  # repeats the batch's new case
        Submission(cover(FAR), supervisor, key="handset-2"),  # a retry arriving with its first try
        Submission(cover(NEAR, category="9999"), supervisor),  # refused alone
        Submission(cover(metres_east(NEAR, -8)), supervisor, (Upload("p.jpg", JPEG),)),  # repeats too
        Submission({**cover([120.62, 31.305]), "category": "0501", "kind": "event"}, supervisor),
        Submission(cover([120.605, 31.31]), supervisor, key="handset-1"),  # a retry of a committed one
    ]
    out = engine.intake_many(batch)

    assert [o["duplicate"] if isinstance(o, dict) else o.code for o in out] == [
        True, False, True, False, "unknown_category", True, False, False,
    ]  # fmt: skip
    assert [o.get("replay") for o in out if isinstance(o, dict)] == [
        False,
        False,
        False,
        True,
        False,
        False,
        True,
    ]
    assert out[0]["case_id"] == out[5]["case_id"] == open_case["case_id"]
    assert out[2]["case_id"] == out[1]["case_id"] and out[2]["number"] == out[1]["number"]
    assert out[3] == {**out[1], "replay": True}
    assert out[7] == {**earlier, "replay": True}
    assert out[1]["number"] == "C2026101300003"  # the day's third component case, after the two
    assert out[6]["number"].startswith("E20261013")

    repeated, made = engine.case(open_case["case_id"]), engine.case(out[1]["case_id"])
    assert (repeated["report_count"], repeated["version"]) == (3, 3)
    assert [e["seq"] for e in repeated["events"]] == [1, 2, 3]
    assert [e["transition"] for e in repeated["events"]] == ["report", "duplicate_report", "duplicate_report"]
    assert len(repeated["evidence"]) == 1  # a duplicate's photo is kept, on its own event
    assert repeated["evidence"][0]["event_id"] == repeated["events"][2]["id"]
    assert (made["report_count"], made["version"]) == (2, 2)
    assert [(e["seq"], e["transition"]) for e in made["events"]] == [(1, "report"), (2, "duplicate_report")]
    assert [r["duplicate"] for r in made["reports"]] == [False, True]


def test_the_hooks_see_every_case_and_event_of_the_batch_once(engine):
    """A batch's new case is told as created, its duplicate as an event on that case, each once
    and after the commit: the views read what the batch wrote."""
    seen = []

    class Watcher:
        @hookimpl
        def after_case_created(self, ctx, case):
            seen.append(("created", case.id, case.number, case.state))

        @hookimpl
        def after_transition(self, ctx, case, transition):
            seen.append((transition.code, case.id, transition.seq, ctx.cases.get(case.id).version))

    engine.pm.register(Watcher())
    out = engine.intake_many(
        [Submission(cover(FAR), supervisor), Submission(cover(metres_east(FAR, 5)), supervisor)]
    )
    case_id = out[0]["case_id"]
    assert seen == [("created", case_id, out[0]["number"], "reported"), ("duplicate_report", case_id, 2, 2)]


def test_a_report_that_fails_in_the_transaction_fails_alone(engine):
    """A plugin refusing one report while the batch is written: the batch is written again a
    report at a time, and only that report fails, with nothing of it kept."""

    class Picky:
        @hookimpl(tryfirst=True)
        def route_case(self, ctx, request):
            if request.class_code == "0103":
                raise GridcaseError("no_route", "nobody takes 0103 today")

    engine.pm.register(Picky())
    out = engine.intake_many(
        [
            Submission(cover(NEAR), supervisor),
            Submission(cover(FAR, category="0103"), supervisor),
            Submission(cover(metres_east(NEAR, 5)), supervisor),
        ]
    )
    assert isinstance(out[1], GridcaseError) and out[1].code == "no_route"
    assert (out[0]["duplicate"], out[2]["duplicate"], out[2]["case_id"]) == (False, True, out[0]["case_id"])
    cases, reports, _ = records(engine)
    assert [c[:2] for c in cases] == [("C2026101300001", 2)] and len(reports) == 2


@pytest.mark.parametrize("same_request", [True, False])
def test_an_idempotency_key_raced_by_another_transaction_is_answered_with_the_winner(engine, same_request):
    """The key is free when the batch looks, and taken by another worker before it writes: the
    batch's unique-key violation undoes it all, and each report is written again alone. A try of
    the same request is answered with the winner's case; another request with the key, refused."""
    if engine.db.dialect.name != "postgresql":
        pytest.skip("SQLite's writers are serial: no other transaction can commit in between")
    # no dedupe: the winner's same report would wait on the locks the batch holds on its cells
    engine.catalogue.dedupe_rules[("component", "0101")] = (0.0, timedelta(0))
    winner, raced = {}, threading.Event()
    first = cover(NEAR) if same_request else cover([120.605, 31.31])

    class Racer:
        @hookimpl(tryfirst=True)
        def route_case(self, ctx, request):
            if not raced.is_set():  # the other worker's try of the same key commits now
                raced.set()
                other = threading.Thread(
                    target=lambda: winner.update(engine.intake(first, supervisor, [], "raced"))
                )
                other.start()
                other.join()

    engine.pm.register(Racer())
    out = engine.intake_many(
        [Submission(cover(NEAR), supervisor, key="raced"), Submission(cover(FAR), supervisor, key="other")]
    )
    if same_request:
        assert out[0] == {
            "case_id": winner["case_id"],
            "number": winner["number"],
            "duplicate": False,
            "report_id": winner["report_id"],
            "token": winner["token"],
            "replay": True,
        }
    else:
        assert isinstance(out[0], GridcaseError) and out[0].code == "idempotency_key_reused"
    assert out[1]["replay"] is False and out[1]["number"] != winner["number"]
    with engine.db.connect() as connection:
        keys = connection.execute(
            select(Report.idempotency_key, func.count()).group_by(Report.idempotency_key)
        )
        assert dict(keys.all()) == {"-:raced": 1, "-:other": 1}  # stored with their caller in front


def test_an_out_of_grid_report_alerts_whether_it_makes_a_case_or_repeats_one(engine):
    change_setting(engine, "intake", out_of_grid={"action": "alert", "notify": ["shift_leader"]})
    walker = Actor.of("supervisor", id=None, grids=["320508002002001"])  # NEAR is in 320508001001001
    out = engine.intake_many(
        [Submission(cover(NEAR), walker), Submission(cover(metres_east(NEAR, 5)), walker)]
    )
    with engine.db.connect() as connection:
        alerts = connection.execute(select(Outbox.text).where(Outbox.event == "out_of_grid")).scalars().all()
    assert len(alerts) == 2 and all(out[0]["number"] in text for text in alerts)


@pytest.fixture
def twin(db_url, tmp_path, request):
    """A second engine of the test city on its own empty database of the same backend."""
    if db_url.startswith("sqlite"):
        path = tmp_path / "twin.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url, drop = f"sqlite:///{path}", None
    else:
        admin, new_database = request.getfixturevalue("pg_admin")
        name, url = new_database()
        drop = lambda: admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # noqa: E731
    engine = Engine.open(
        TESTCITY,
        url,
        time=ManualTime(datetime(2026, 10, 13, 1, 0, tzinfo=UTC)),
        evidence=EvidenceStore(tmp_path / "twin-evidence"),
    )
    engine.load_reference_data()
    yield engine
    engine.db.dispose()
    if drop:
        drop()


SPOTS = [NEAR, FAR, [120.605, 31.31]]


@st.composite
def streams(draw):
    """Reports piling up around a few spots (so that they repeat each other), some retried with
    their key, cut into batches."""
    reports = []
    for n in range(draw(st.integers(1, 14))):
        spot = draw(st.sampled_from(SPOTS))
        report = cover(
            metres_east(spot, draw(st.integers(-40, 40))), category=draw(st.sampled_from(["0101", "0103"]))
        )
        key = draw(st.sampled_from([None, f"k{n}", "k0", "k1"]))
        reports.append(Submission(report, supervisor, key=key))
    cuts = sorted(draw(st.sets(st.integers(1, len(reports)), max_size=4)) | {len(reports)})
    return reports, [reports[a:b] for a, b in zip([0, *cuts], cuts, strict=False) if a < b]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=streams())
def test_a_stream_of_reports_makes_the_same_records_batched_as_one_by_one(engine, twin, stream):
    reports, batches = stream
    for db in (engine, twin):  # hypothesis runs the examples on the same pair of databases
        db.time.advance(days=2)  # a new day: the earlier examples' cases are outside the window
    before = records(engine), records(twin)
    alone = [_outcome(engine, s) for s in reports]
    together = [_shape(o) for batch in batches for o in twin.intake_many(batch)]
    assert together == alone
    assert _new(records(twin), before[1]) == _new(records(engine), before[0])


def _outcome(engine, s):
    try:
        return _shape(engine.intake(s.report, s.actor, list(s.uploads), s.key))
    except GridcaseError as exc:
        return exc.code


def _shape(outcome):
    if isinstance(outcome, Exception):
        return outcome.code
    return outcome["number"], outcome["duplicate"], outcome["replay"]


def _new(now, before):
    return tuple(sorted(set(rows) - set(old)) for rows, old in zip(now, before, strict=True))


def test_a_batch_waits_for_postgresql_as_often_as_a_single_report(engine):
    if engine.db.dialect.name != "postgresql":
        pytest.skip("round trips are PostgreSQL's; SQLite runs in the process")
    with RoundTrips(engine) as trips:
        for warm in range(12):  # psycopg prepares a statement on its fifth run
            engine.intake_many(
                [Submission(cover([120.601 + 0.003 * warm, 31.331]), supervisor, key=f"w{warm}")] * 2
            )
        open_case = engine.intake(cover(NEAR), supervisor)
        mark = trips.mark()
        out = engine.intake_many(
            [Submission(cover(metres_east(NEAR, n % 3)), supervisor, key=f"dup{n}") for n in range(4)]
            + [Submission(cover([120.602 + 0.002 * n, 31.303]), supervisor, key=f"new{n}") for n in range(4)]
        )
        trips_for_eight, statements_for_eight = trips.since(mark), trips.statements(mark)
    assert [o["duplicate"] for o in out] == [True] * 4 + [False] * 4
    assert {o["case_id"] for o in out[:4]} == {open_case["case_id"]}
    # BEGIN; the keys, locks, searches and ids; the bump, the new cases and every report; the
    # duplicates' events; COMMIT: as many as one duplicate report alone, less its identity
    assert trips_for_eight == 5
    # and nothing grows with the batch: BEGIN, the dedupe locks, the keys, the searches, the ids,
    # the bump, the new cases (their numbers claimed inside their one INSERT), the units,
    # reports, clocks and events, the duplicates' events and COMMIT are a statement each
    assert statements_for_eight == 13


def test_each_report_of_a_batch_is_answered_with_its_own_report(engine):
    """Open311 hands a report's id out as its token: two reports of one problem sent together
    join one case, and each is answered with its own report, a replay with its first try's."""
    spot = [120.611, 31.321]
    first, second, retry = engine.intake_many(
        [
            Submission(cover(spot, description="first"), supervisor, key="a"),
            Submission(cover(metres_east(spot, 2), description="second"), supervisor, key="b"),
            Submission(cover(spot, description="first"), supervisor, key="a"),
        ]
    )
    assert first["case_id"] == second["case_id"] and second["duplicate"] and retry["replay"]
    assert first["report_id"] != second["report_id"] and retry["report_id"] == first["report_id"]
    with engine.db.connect() as connection:
        described = dict(connection.execute(select(Report.id, Report.description)).all())
    assert described[first["report_id"]] == "first" and described[second["report_id"]] == "second"
    again = engine.intake(cover(metres_east(spot, 2), description="second"), supervisor, idempotency_key="b")
    assert again["report_id"] == second["report_id"]

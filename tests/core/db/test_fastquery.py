"""FastQuery answers exactly what SQLAlchemy would (parameters and results through the columns'
types: UTC timestamps, booleans, floats), on each database, and also inside a pipeline."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError

from gridcase.core.cases.idempotency import scoped
from gridcase.core.db.connection import read, write
from gridcase.core.db.fast import FastInsert, FastQuery, pipelined
from gridcase.core.db.models import Case, Report
from gridcase.core.people.actor import Actor

CASE, REPORT = Case.__table__, Report.__table__
QUERY = (
    select(CASE.c.id, CASE.c.number, CASE.c.reported_at, CASE.c.urgent, CASE.c.lon, CASE.c.description)
    .where(
        CASE.c.reported_at >= bindparam("since"),
        CASE.c.state_kind == "open",
        CASE.c.kind == bindparam("kind"),
    )
    .order_by(CASE.c.id)
)


def test_fast_query_answers_what_sqlalchemy_answers(engine):
    supervisor = Actor.of("supervisor")
    for n, urgent in enumerate([True, False, True]):
        report = {"channel": "patrol", "point": [120.601 + 0.003 * n, 31.337], "category": "0101",
                  "kind": "component", "urgent": urgent, "description": f"井盖 {n} 'quoted' %s"}  # fmt: skip
        engine.intake(report, supervisor)
        engine.time.advance(minutes=10)
    since = engine.time.now() - timedelta(minutes=25)
    fast = FastQuery(QUERY)
    with read(engine.db) as connection:
        expected = [
            dict(row) for row in connection.execute(QUERY, {"since": since, "kind": "component"}).mappings()
        ]
        assert fast(connection, {"since": since, "kind": "component"}) == expected
        unprepared = FastQuery(QUERY, prepare=False)  # psycopg's option; SQLite has nothing to skip
        assert unprepared(connection, {"since": since, "kind": "component"}) == expected
        with pipelined(connection):
            assert fast(connection, {"since": since, "kind": "component"}) == expected
        assert fast(connection, {"since": since, "kind": "event"}) == []
    assert [row["urgent"] for row in expected] == [False, True]  # the two newest, booleans as booleans
    assert all(row["reported_at"].tzinfo is not None for row in expected)


def test_sent_statements_are_read_after_their_pipeline_syncs_and_fail_as_sqlalchemy_errors(engine):
    engine.intake({"channel": "patrol", "point": [120.601, 31.337], "category": "0101", "kind": "component"},
                  Actor.of("supervisor"), [], "taken")  # fmt: skip
    since = engine.time.now() - timedelta(minutes=5)
    fast = FastQuery(QUERY)
    with read(engine.db) as connection:
        with pipelined(connection):  # on PostgreSQL both go out before either is read
            components = fast.send(connection, {"since": since, "kind": "component"})
            events = fast.send(connection, {"since": since, "kind": "event"})
        found = components()
        assert events() == [] and len(found) == 1
    report = {"case_id": found[0]["id"], "channel": "patrol", "idempotency_key": scoped(None, "taken"),
              "lon": 120.6, "lat": 31.3, "crs": "wgs84", "received_at": engine.time.now(), "duplicate": True}  # fmt: skip
    with pytest.raises(IntegrityError), write(engine.db) as connection:
        with pipelined(connection):
            FastInsert(REPORT).send(connection, report)
    with read(engine.db) as connection:  # nothing was half-written
        assert connection.execute(select(func.count()).select_from(REPORT)).scalar() == 1


def test_many_rows_go_in_as_one_statement_with_their_ids_in_order(engine):
    """FastInsert.send_many: the ids line up with the rows, even past the protocol's 65,535
    parameters (several statements), and the rows are stored as SQLAlchemy stores them."""
    case = engine.intake({"channel": "patrol", "point": [120.601, 31.337], "category": "0101",
                          "kind": "component"}, Actor.of("supervisor"))  # fmt: skip
    insert = FastInsert(REPORT, returning_id=True)
    at = engine.time.now()
    count = insert.most + 7  # one statement full, and a second one
    rows = [{"case_id": case["case_id"], "channel": "patrol", "idempotency_key": f"k{n}", "lon": 120.6 + n / 1e6,
             "lat": 31.3, "crs": "wgs84", "received_at": at, "duplicate": n % 2 == 0} for n in range(count)]  # fmt: skip
    with write(engine.db) as connection:
        with pipelined(connection):
            ids = insert.send_many(connection, rows)
        got = ids()
        assert FastInsert(REPORT).send_many(connection, [])() == []
    assert len(got) == count == len(set(got))
    with read(engine.db) as connection:
        stored = {
            row.id: row
            for row in connection.execute(select(REPORT).where(REPORT.c.idempotency_key.is_not(None)))
        }
    assert [stored[i].idempotency_key for i in got] == [f"k{n}" for n in range(count)]
    assert [stored[i].duplicate for i in got[:3]] == [True, False, True]
    assert stored[got[-1]].received_at == at and stored[got[-1]].lon == pytest.approx(
        120.6 + (count - 1) / 1e6
    )


def test_a_bad_row_among_many_writes_none_of_them(engine):
    case = engine.intake({"channel": "patrol", "point": [120.601, 31.337], "category": "0101",
                          "kind": "component"}, Actor.of("supervisor"), [], "taken")  # fmt: skip
    row = {"case_id": case["case_id"], "channel": "patrol", "lon": 120.6, "lat": 31.3, "crs": "wgs84",
           "received_at": engine.time.now(), "duplicate": True}  # fmt: skip
    with pytest.raises(IntegrityError), write(engine.db) as connection:
        FastInsert(REPORT).many(
            connection, [{**row, "idempotency_key": scoped(None, k)} for k in ("fresh", "taken", "new")]
        )
    with read(engine.db) as connection:
        assert connection.execute(select(func.count()).select_from(REPORT)).scalar() == 1


def test_a_list_parameter_answers_what_sqlalchemy_answers(engine):
    """A query with an expanding parameter (`in_(bindparam(…, expanding=True))`) has its text
    rendered for each list, on each database, and its other parameters still go through their
    types."""
    supervisor = Actor.of("supervisor")
    for n in range(3):
        engine.intake({"channel": "patrol", "point": [120.601 + 0.003 * n, 31.337], "category": "0101",
                       "kind": "component"}, supervisor, [], f"key-{n}")  # fmt: skip
    query = (
        select(REPORT.c.id, REPORT.c.idempotency_key, REPORT.c.received_at, REPORT.c.duplicate)
        .where(
            REPORT.c.idempotency_key.in_(bindparam("keys", expanding=True)),
            REPORT.c.received_at >= bindparam("since"),
        )
        .order_by(REPORT.c.id)
    )
    since = datetime(2000, 1, 1, tzinfo=UTC)
    keys = [scoped(None, "key-0"), scoped(None, "key-2"), scoped(None, "unknown")]
    fast = FastQuery(query, prepare=False)
    with read(engine.db) as connection:
        for asked in (keys, keys[:1], keys[2:]):
            expected = [
                dict(row) for row in connection.execute(query, {"keys": asked, "since": since}).mappings()
            ]
            assert fast(connection, {"keys": asked, "since": since}) == expected
        with pipelined(connection):
            both = fast.send(connection, {"keys": keys, "since": since})
            one = fast.send(connection, {"keys": keys[1:], "since": since})
        assert [row["idempotency_key"] for row in both()] == keys[:2]
        assert [row["idempotency_key"] for row in one()] == keys[1:2]
        assert fast(connection, {"keys": keys, "since": datetime(2100, 1, 1, tzinfo=UTC)}) == []

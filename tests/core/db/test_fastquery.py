"""FastQuery answers exactly what SQLAlchemy would (parameters and results through the columns'
types: UTC timestamps, booleans, floats), on each database, and also inside a pipeline."""

from datetime import timedelta

from sqlalchemy import bindparam, select

from gridcase.core.cases import Actor
from gridcase.core.db.engine import read
from gridcase.core.db.fastquery import FastQuery
from gridcase.core.db.models import Case
from gridcase.core.db.raw import pipelined

CASE = Case.__table__
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
        engine.clock.advance(minutes=10)
    since = engine.clock.now() - timedelta(minutes=25)
    fast = FastQuery(QUERY)
    with read(engine.db) as connection:
        expected = [
            dict(row) for row in connection.execute(QUERY, {"since": since, "kind": "component"}).mappings()
        ]
        assert fast(connection, {"since": since, "kind": "component"}) == expected
        with pipelined(connection):
            assert fast(connection, {"since": since, "kind": "component"}) == expected
        assert fast(connection, {"since": since, "kind": "event"}) == []
    assert [row["urgent"] for row in expected] == [False, True]  # the two newest, booleans as booleans
    assert all(row["reported_at"].tzinfo is not None for row in expected)

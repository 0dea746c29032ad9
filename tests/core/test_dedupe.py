"""The advisory locks that keep simultaneous reports of one problem from both making a case
(core/dedupe.py): any two reports close enough to be duplicates must share a lock, and reports far
apart should not queue behind each other."""

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from gridcase.core.db.fast import raw_cursor
from gridcase.core.intake.dedupe import NEARBY_PG, _nearby_sqlite, lock_keys, search_box
from gridcase.core.intake.submit import Submission
from gridcase.core.people.actor import Actor
from gridcase.core.places.gridindex import metres_scale


def _keys(lon, lat, radius, code="0101"):
    return set(lock_keys("component", code, search_box(lon, lat, radius), radius))


def _offset(lon, lat, metres, bearing):
    sx, sy = metres_scale(lat)
    return lon + metres * math.sin(bearing) / sx, lat + metres * math.cos(bearing) / sy


@pytest.mark.parametrize("radius", [5, 30, 100, 500])
def test_two_reports_within_the_radius_always_share_a_lock(radius):
    rng = random.Random(radius)
    for _ in range(3000):
        lon, lat = rng.uniform(73, 135), rng.uniform(-59, 59)
        other = _offset(lon, lat, rng.uniform(0, radius * 0.999), rng.uniform(0, 2 * math.pi))
        assert _keys(lon, lat, radius) & _keys(*other, radius), (lon, lat, other)


def test_a_report_on_a_cell_edge_shares_a_lock_with_its_neighbour_across_it():
    radius = 30
    cell = 4 * radius / metres_scale(0)[1]
    edge = math.ceil(120.61 / cell) * cell  # a meridian of the lattice
    west, east = (edge - 1e-7, 31.337), (edge + 1e-7, 31.337)
    assert _keys(*west, radius) & _keys(*east, radius)


def test_a_report_takes_at_most_four_locks_and_far_ones_take_others():
    radius = 30
    assert all(len(_keys(120.6 + i * 1e-5, 31.3, radius)) <= 4 for i in range(200))
    assert all(len(_keys(100.0, lat, radius)) <= 4 for lat in range(0, 60, 3))
    here = _keys(120.61, 31.337, radius)
    assert not here & _keys(*_offset(120.61, 31.337, 10 * radius, 1.0), radius)  # 300 m away
    assert not here & _keys(120.61, 31.337, radius, code="0103")  # another class


def _plan(engine, reports) -> str:
    """The database's plan of the search for `reports`' duplicates, as text; on PostgreSQL the
    generic plan, which a prepared statement turns to after five runs."""
    since = datetime.now(UTC) - timedelta(days=1)
    asks = [(i, "0101", "component", since, lon - 1e-3, lon + 1e-3, lat - 1e-3, lat + 1e-3)
            for i, (lon, lat) in enumerate(reports)]  # fmt: skip
    with engine.db.connect() as connection, raw_cursor(connection) as cursor:
        if connection.dialect.name != "postgresql":
            cursor.execute("EXPLAIN QUERY PLAN " + _nearby_sqlite(len(asks)), [v for a in asks for v in a])
            return "\n".join(str(row) for row in cursor.fetchall())
        from psycopg import ClientCursor

        types = "integer[], text[], text[], timestamptz[], float8[], float8[], float8[], float8[]"
        cursor.execute("SET plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE nearby ({types}) AS {NEARBY_PG}")
        client = ClientCursor(connection.connection.driver_connection)
        columns = [list(column) for column in zip(*asks, strict=True)]
        client.execute(f"EXPLAIN EXECUTE nearby ({', '.join(['%s'] * len(columns))})", columns)
        return "\n".join(row[0] for row in client.fetchall())


def test_the_search_looks_each_report_up_in_the_dedupe_index_of_a_new_table(engine):
    """A new deployment's case table was last measured empty: the batch's search must still look
    each report up in ix_case_dedupe, not scan every open case (measured: 20 ms a batch
    against 0.1 when PostgreSQL's planner was left to choose)."""
    rng = random.Random(3)
    points = [
        [round(rng.uniform(120.601, 120.639), 6), round(rng.uniform(31.301, 31.339), 6)] for _ in range(300)
    ]
    reports = [{"channel": "patrol", "category": "0101", "kind": "component", "point": p} for p in points]
    engine.intake_many([Submission(r, Actor.of("supervisor")) for r in reports])
    plan = _plan(engine, points[:8])
    assert "ix_case_dedupe" in plan, plan
    assert "ix_case_parent_id" not in plan and "Seq Scan" not in plan, plan

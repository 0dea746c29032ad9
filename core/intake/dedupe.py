"""Duplicate reports: the open case a new report repeats, and the locks that keep two
simultaneous reports of one problem from both missing each other.

A class's rule is a radius and a time window (the profile's `intake.dedupe`, over which a
class may set its own). A report repeats the oldest open case of its class within the radius
that was reported inside the window.

On PostgreSQL (READ COMMITTED) two reports of one problem arriving together would each look
before the other had written, and both make a case; SQLite's write transactions are serial
already. So on PostgreSQL an intake first takes transaction-scoped advisory locks on the cells of
a fixed lattice that its search box touches, per class. The lattice is four radii wide, so a box
touches at most 2 × 2 cells (below 60° of latitude), and two reports within the radius always
share a cell: the second report's own cell lies inside the first one's box. Reports of one
class elsewhere in the city no longer queue behind each other, as they did when the lock was per
class (measured in `benchmarks/bench_server.py`: the class lock held intake on PostgreSQL
under 400 reports a second).
"""

import math
import zlib
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from gridcase.core.db.fast import Sent, raw_cursor
from gridcase.core.db.models import Case
from gridcase.core.durations import Duration
from gridcase.core.places.gridindex import metres_scale

if TYPE_CHECKING:
    from gridcase.core.deployment import Deployment

CASE = Case.__table__
NEARBY_COLUMNS = ("id", "number", "lon", "lat", "version", "state")
ASK_COLUMNS = ("i", "class_code", "kind", "since", "lon0", "lon1", "lat0", "lat1")
_CASES = ", ".join("c." + c for c in NEARBY_COLUMNS)
_WITHIN = (
    "c.class_code = ask.class_code AND c.state_kind = 'open' AND c.lat BETWEEN ask.lat0 AND ask.lat1 "
    "AND c.lon BETWEEN ask.lon0 AND ask.lon1 AND c.kind = ask.kind AND c.reported_at >= ask.since"
)
_OLDEST = "ORDER BY ask.i, c.reported_at, c.id"  # and of the cases reported together, the first
# PostgreSQL: the asks as arrays, so that the text is constant and prepared. OFFSET 0 keeps the
# cases' scan apart, one index scan an ask, and the parent test outside it leaves ix_case_dedupe
# the only index that scan can use: on a table whose statistics were read while it was small,
# the planner took the join flattened over every open case (20 ms against 0.1), or scanned the
# index of parent_id IS NULL (1.9 ms against 0.1).
NEARBY_PG = (
    f"SELECT ask.i, {_CASES} FROM unnest($1::integer[], $2::text[], $3::text[], $4::timestamptz[], "
    f"$5::float8[], $6::float8[], $7::float8[], $8::float8[]) AS ask ({', '.join(ASK_COLUMNS)}) "
    f'CROSS JOIN LATERAL (SELECT * FROM "case" AS c WHERE {_WITHIN} OFFSET 0) AS c '
    f"WHERE c.parent_id IS NULL {_OLDEST}"
)
# one statement however many cells; the keys come sorted, and unnest keeps their order, so
# every intake takes its locks in the same order and two never wait on each other in a circle
LOCK_CELLS = "SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k"
METRES_PER_DEGREE_LAT = metres_scale(0)[1]


def dedupe_rule(engine: "Deployment", info: dict[str, Any]) -> tuple[float, timedelta]:
    """(radius in metres, time window) for a class: its own rule over the profile's."""
    key = (info["kind"], info["minor"]["code"])
    rule = engine.catalogue.dedupe_rules.get(key)
    if rule is None:
        spec = {**engine.city.intake.dedupe, **info["minor"].get("dedupe", {})}
        window = Duration.parse(spec.get("window")) or Duration(0, "minute")
        unit = engine.city.time_units.get(window.unit, {"minutes": 1})
        rule = engine.catalogue.dedupe_rules[key] = (
            float(spec.get("radius_m", 0)),
            timedelta(minutes=window.value * unit["minutes"]),
        )
    return rule


def search_box(lon: float, lat: float, radius: float) -> tuple[float, float, float, float]:
    """(lon0, lon1, lat0, lat1): the box around a point that holds its circle of `radius` metres."""
    sx, sy = metres_scale(lat)
    dlon, dlat = radius / sx, radius / sy
    return lon - dlon, lon + dlon, lat - dlat, lat + dlat


def lock_keys(kind: str, code: str, box: tuple[float, float, float, float], radius: float) -> list[int]:
    """The advisory-lock keys of the lattice cells `box` touches, sorted (see the module's notes)."""
    cell = 4 * radius / METRES_PER_DEGREE_LAT
    lon0, lon1, lat0, lat1 = (math.floor(v / cell) for v in box)
    return sorted(
        {
            zlib.crc32(f"{kind}:{code}:{x}:{y}".encode())
            for x in range(lon0, lon1 + 1)
            for y in range(lat0, lat1 + 1)
        }
    )


def cells(engine: "Deployment", r: dict[str, Any]) -> list[int]:
    """The lock keys of the normalised report `r`'s neighbourhood (none when its class does not
    dedupe)."""
    radius, window = dedupe_rule(engine, r["info"])
    if radius <= 0 or window <= timedelta(0):
        return []
    return lock_keys(r["info"]["kind"], r["category"], search_box(r["lon"], r["lat"], radius), radius)


def lock_cells(connection: Connection, keys: list[int]) -> None:
    """Lock the cells until the transaction ends (PostgreSQL; SQLite's writers are serial). One
    statement for all of a batch's cells, in sorted order, so that no two batches wait on each
    other in a circle."""
    if keys and connection.dialect.name == "postgresql":
        with raw_cursor(connection, LOCK_CELLS) as cursor:
            cursor.execute(LOCK_CELLS, (sorted(keys),))


@lru_cache(maxsize=128)
def _nearby_sqlite(asks: int) -> str:
    """SQLite's search for `asks` asks: a VALUES list, its text by their number. SQLite keeps a
    CROSS JOIN's order, so each ask looks its cases up in the index."""
    values = ", ".join(["(" + ", ".join("?" * len(ASK_COLUMNS)) + ")"] * asks)
    return (
        f"WITH ask ({', '.join(ASK_COLUMNS)}) AS (VALUES {values}) "
        f'SELECT ask.i, {_CASES} FROM ask CROSS JOIN "case" AS c '
        f"WHERE {_WITHIN} AND c.parent_id IS NULL {_OLDEST}"
    )


def search_duplicates(
    connection: Connection, engine: "Deployment", reports: list[dict[str, Any]], now: datetime
) -> Callable[[], list[dict[str, Any] | None]]:
    """Send the search for the open case each of the normalised `reports` repeats, one statement
    for them all; calling the answer reads them (a case, or None), in the reports' order. Run it
    inside the intake's write transaction after locking the reports' `cells`; inside
    `pipelined`, the lock, the search and whatever else was sent before the answer is read share
    one round trip."""
    dialect = connection.dialect
    since = CASE.c.reported_at.type.dialect_impl(dialect).bind_processor(dialect)
    if since is None:
        raise AssertionError("reported_at is a UTCDateTime: it converts every value it binds")
    asks = []
    for i, r in enumerate(reports):
        radius, window = dedupe_rule(engine, r["info"])
        if radius > 0 and window > timedelta(0):
            box = search_box(r["lon"], r["lat"], radius)
            asks.append((i, r["category"], r["info"]["kind"], since(now - window), *box))
    if not asks:
        return lambda: [None] * len(reports)
    if dialect.name == "postgresql":
        sent = Sent(connection, NEARBY_PG, [list(column) for column in zip(*asks, strict=True)], native=True)
    else:
        sent = Sent(connection, _nearby_sqlite(len(asks)), [value for ask in asks for value in ask])

    def answer() -> list[dict[str, Any] | None]:
        found: list[dict[str, Any] | None] = [None] * len(reports)
        for i, *values in sent.read(lambda cursor: cursor.fetchall()):
            if found[i] is None:
                row = dict(zip(NEARBY_COLUMNS, values, strict=True))
                if within(engine, reports[i], row):
                    found[i] = row
        return found

    return answer


def within(engine: "Deployment", r: dict[str, Any], other: dict[str, Any]) -> bool:
    """Whether `other` (a case or a report, with lon and lat) lies within `r`'s dedupe radius."""
    radius = dedupe_rule(engine, r["info"])[0]
    sx, sy = metres_scale(r["lat"])
    return math.hypot((other["lon"] - r["lon"]) * sx, (other["lat"] - r["lat"]) * sy) <= radius

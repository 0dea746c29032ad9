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
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, select

from .db.fastquery import FastQuery
from .db.models import Case
from .db.raw import raw_cursor
from .durations import Duration
from .gridindex import metres_scale

if TYPE_CHECKING:
    from .cases import Engine

CASE = Case.__table__
NEARBY_OPEN = FastQuery(
    select(CASE.c.id, CASE.c.number, CASE.c.lon, CASE.c.lat, CASE.c.version, CASE.c.state)
    .where(
        CASE.c.class_code == bindparam("class_code"),
        CASE.c.kind == bindparam("kind"),
        CASE.c.state_kind == "open",
        CASE.c.reported_at >= bindparam("since"),
        CASE.c.lon.between(bindparam("lon0"), bindparam("lon1")),
        CASE.c.lat.between(bindparam("lat0"), bindparam("lat1")),
        CASE.c.parent_id.is_(None),
    )
    .order_by(CASE.c.reported_at, CASE.c.id)  # the oldest, and of cases reported together the first
)
# one statement however many cells; the keys come sorted, and unnest keeps their order, so
# every intake takes its locks in the same order and two never wait on each other in a circle
LOCK_CELLS = "SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k"
METRES_PER_DEGREE_LAT = metres_scale(0)[1]


def dedupe_rule(engine: "Engine", info: dict[str, Any]) -> tuple[float, timedelta]:
    """(radius in metres, time window) for a class: its own rule over the profile's."""
    key = (info["kind"], info["minor"]["code"])
    rule = engine.dedupe_rules.get(key)
    if rule is None:
        spec = {**engine.profile.get("intake", {}).get("dedupe", {}), **info["minor"].get("dedupe", {})}
        window = Duration.parse(spec.get("window")) or Duration(0, "minute")
        unit = engine.time_units.get(window.unit, {"minutes": 1})
        rule = engine.dedupe_rules[key] = (
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


def cells(engine: "Engine", r: dict[str, Any]) -> list[int]:
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


def search_duplicate(
    connection: Connection, engine: "Engine", r: dict[str, Any], now: datetime
) -> Callable[[], dict[str, Any] | None]:
    """Send the search for the open case the normalised report `r` repeats; calling the answer
    reads it (the case, or None). Run it inside the intake's write transaction after locking
    the report's `cells`; inside `pipelined`, the lock, the search and whatever else was sent
    before the answer is read share one round trip."""
    radius, window = dedupe_rule(engine, r["info"])
    if radius <= 0 or window <= timedelta(0):
        return lambda: None
    lon0, lon1, lat0, lat1 = search_box(r["lon"], r["lat"], radius)
    candidates = NEARBY_OPEN.send(
        connection,
        {
            "class_code": r["category"],
            "kind": r["info"]["kind"],
            "since": now - window,
            "lon0": lon0,
            "lon1": lon1,
            "lat0": lat0,
            "lat1": lat1,
        },
    )
    return lambda: next((row for row in candidates() if within(engine, r, row)), None)


def within(engine: "Engine", r: dict[str, Any], other: dict[str, Any]) -> bool:
    """Whether `other` (a case or a report, with lon and lat) lies within `r`'s dedupe radius."""
    radius = dedupe_rule(engine, r["info"])[0]
    sx, sy = metres_scale(r["lat"])
    return math.hypot((other["lon"] - r["lon"]) * sx, (other["lat"] - r["lat"]) * sy) <= radius

"""A person's patrol track at the centre: the points their handset fixed (the field app), sent in
batches when there is a connection.

A batch is taken point by point: a point with a bad place or a device time the offline rule
refuses (sla/offline.py: from the future, or older than `time_limits.offline.max_age`) is
refused with its index and why, and the good points of the batch are kept all the same. A point
sent again (its answer was lost) is the same person's same device time: it is kept once.

Who sees a track: its person; the roles that see every case (scope `all`, the centre's); a
tenant platform's such people only for a person whose grids are in its territory. A department
(scope `unit_subtree`) or another supervisor does not.
"""

import math
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from gridcase.core.cases import scope
from gridcase.core.db.connection import read, write
from gridcase.core.db.models import PatrolPoint, Person, Responsibility
from gridcase.core.errors import GridcaseError
from gridcase.core.places.geo import CoordinateError, to_wgs84
from gridcase.core.sla.offline import device_time

if TYPE_CHECKING:
    from gridcase.core.deployment import Deployment
    from gridcase.core.people.actor import Actor

POINT, PERSON, RESPONSIBILITY = PatrolPoint.__table__, Person.__table__, Responsibility.__table__
MOST_POINTS = 500  # in one batch: a handset sends what it kept offline a few hundred at a time
MOST_A_DAY = 20_000  # a point every few seconds for a long day; more is no patrol
FIELDS = {"made_at", "lon", "lat", "accuracy"}


def patrols(engine: "Deployment", actor: "Actor") -> bool:
    """Whether the actor walks grids (scope `grids`: a supervisor): only they send a track."""
    return "grids" in scope.scopes(engine, actor)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _refusal(index: int, code: str, message: str, field: str | None) -> dict[str, Any]:
    return {"index": index, "code": code, "message": message, "field": field}


def check_point(engine: "Deployment", index: int, point: Any, now: datetime) -> dict[str, Any]:
    """The point as a row (without its person), or GridcaseError saying what is wrong and where."""

    def bad(message: str, field: str | None) -> GridcaseError:
        return GridcaseError("invalid_point", f"point {index}: {message}", {"index": index, "field": field})

    if not isinstance(point, dict):
        raise bad("a point is an object of made_at, lon, lat and accuracy", None)
    unknown = sorted(set(point) - FIELDS)
    if unknown:
        raise bad(f"unknown field {unknown[0]!r}", unknown[0])
    for name in ("lon", "lat"):
        if not _number(point.get(name)):
            raise bad(f"{name} is a number", name)
    try:
        lon, lat = to_wgs84(point["lon"], point["lat"])
    except CoordinateError as exc:
        raise bad(str(exc), "lon") from None
    accuracy = point.get("accuracy")
    if accuracy is not None and not (_number(accuracy) and accuracy >= 0):
        raise bad("accuracy is a distance in metres, 0 or more", "accuracy")
    try:
        made_at = device_time(point.get("made_at"))
        engine.limits.offline.check(made_at, now)
    except GridcaseError as exc:
        raise GridcaseError(
            exc.code, f"point {index}: {exc.message}", {**exc.details, "index": index}
        ) from None
    return {"made_at": made_at, "lon": lon, "lat": lat, "accuracy": accuracy, "arrived_at": now}


def record(engine: "Deployment", actor: "Actor", points: list[Any]) -> dict[str, Any]:
    """Keep the batch's good points of the actor's track: how many were received, how many were
    new (a point sent before is not), and each refused one with its index, code and message."""
    if not patrols(engine, actor) or actor.id is None:
        raise GridcaseError("forbidden", "only a person who patrols grids (a supervisor) sends a track")
    now = engine.time.now()
    rows: dict[datetime, dict[str, Any]] = {}
    refused = []
    for index, point in enumerate(points):
        try:
            row = check_point(engine, index, point, now)
        except GridcaseError as exc:
            refused.append(_refusal(index, exc.code, exc.message, exc.details.get("field")))
            continue
        rows.setdefault(row["made_at"], {**row, "person_id": actor.id})
    kept = 0
    if rows:
        with write(engine.db) as connection:
            dialect = sqlite if connection.dialect.name == "sqlite" else postgresql
            statement = (
                dialect.insert(POINT)
                .values(list(rows.values()))
                .on_conflict_do_nothing(index_elements=["person_id", "made_at"])
                .returning(POINT.c.id)
            )
            kept = len(connection.execute(statement).all())
    return {"received": len(points), "kept": kept, "refused": refused}


def day_bounds(engine: "Deployment", day: date) -> tuple[datetime, datetime]:
    """The city's day as UTC moments: from its midnight to the next."""
    start = datetime.combine(day, time(), tzinfo=engine.city.timezone)
    return start, start + timedelta(days=1)


def _grids(connection, ids: list[int]) -> dict[int, list[str]]:
    """Each person's responsibility grids."""
    found: dict[int, list[str]] = {i: [] for i in ids}
    query = select(RESPONSIBILITY.c.person_id, RESPONSIBILITY.c.grid).where(
        RESPONSIBILITY.c.person_id.in_(ids)
    )
    for person_id, grid in connection.execute(query.order_by(RESPONSIBILITY.c.grid)):
        found[person_id].append(grid)
    return found


def _person(connection, person_id: int) -> dict[str, Any]:
    row = connection.execute(
        select(PERSON.c.id, PERSON.c.username, PERSON.c.name).where(PERSON.c.id == person_id)
    ).first()
    if row is None:
        raise GridcaseError("not_found", f"no person {person_id}")
    return {
        "id": row.id,
        "username": row.username,
        "name": row.name,
        "grids": _grids(connection, [row.id])[row.id],
    }


def may_see(engine: "Deployment", viewer: "Actor", person: dict[str, Any]) -> bool:
    """Whether the viewer may see the person's track (the rule in this module's docstring)."""
    if viewer.id == person["id"]:
        return True
    if "all" not in scope.scopes(engine, viewer):
        return False
    tenant = engine.places.tenancy.of(viewer)
    return not tenant or bool(set(person["grids"]) & set(engine.places.tenancy.territories[tenant]))


def day_track(engine: "Deployment", viewer: "Actor", person_id: int, day: date) -> dict[str, Any]:
    """The person's points of the city's day, in the order they were made, or 403 when the viewer
    may not see them."""
    start, end = day_bounds(engine, day)
    with read(engine.db) as connection:
        person = _person(connection, person_id)
        if not may_see(engine, viewer, person):
            raise GridcaseError("forbidden", "a person's track is theirs and the centre's to see")
        points = connection.execute(
            select(POINT.c.made_at, POINT.c.lon, POINT.c.lat, POINT.c.accuracy, POINT.c.arrived_at)
            .where(POINT.c.person_id == person_id, POINT.c.made_at >= start, POINT.c.made_at < end)
            .order_by(POINT.c.made_at)
            .limit(MOST_A_DAY)
        ).mappings()
        return {"person": person, "date": day.isoformat(), "points": [dict(p) for p in points]}


def patrolling_people(engine: "Deployment", viewer: "Actor") -> list[dict[str, Any]]:
    """The people who patrol grids whose tracks the viewer may see, by name: all of them for the
    centre, themselves for a supervisor."""
    with read(engine.db) as connection:
        rows = connection.execute(
            select(PERSON.c.id, PERSON.c.username, PERSON.c.name, PERSON.c.roles)
            .where(PERSON.c.active)
            .order_by(PERSON.c.name, PERSON.c.id)
        ).all()
        walkers = [r for r in rows if any(engine.city.role(code).scope == "grids" for code in r.roles or ())]
        grids = _grids(connection, [r.id for r in walkers])
    people = [{"id": r.id, "username": r.username, "name": r.name, "grids": grids[r.id]} for r in walkers]
    return [p for p in people if may_see(engine, viewer, p)]

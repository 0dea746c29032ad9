"""A person's patrol track of a day (巡查轨迹), as the centre reads it: where their handset was,
over their responsibility grids, with each point's device time and when it reached the centre
(a point kept on a handset offline arrives later). Drawn on the server as SVG: no map tiles,
so it reads on a closed government network too."""

import math
from datetime import timedelta
from itertools import pairwise
from typing import Any

import shapely
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from gridcase.admin_ui.render import page
from gridcase.admin_ui.views import ui
from gridcase.core.db.connection import read
from gridcase.core.db.models import Grid
from gridcase.core.errors import GridcaseError
from gridcase.core.patrol import track as patrol
from gridcase.core.people.actor import Actor
from gridcase.core.web.api_tasks import distance_m
from gridcase.core.web.api_track import day_of
from gridcase.core.web.endpoints import MAX_ID

GRID = Grid.__table__
SIDE = 100  # the drawing's viewBox, with a margin of 5 round the track and grids
LATE = timedelta(minutes=1)  # a point that arrived later than this was kept on the handset offline


def _drawing(rings: list[list[tuple[float, float]]], points: list[dict[str, Any]]) -> dict[str, Any]:
    """The grids' outlines and the track as SVG points strings in a square box, north up; a
    degree of longitude drawn as long as it is on the ground at this latitude."""
    track = [(p["lon"], p["lat"]) for p in points]
    every = [xy for ring in rings for xy in ring] + track
    if not every:
        return {"grids": [], "track": "", "start": None, "end": None}
    xs, ys = [x for x, _ in every], [y for _, y in every]
    squeeze = math.cos(math.radians((min(ys) + max(ys)) / 2))
    span = max((max(xs) - min(xs)) * squeeze, max(ys) - min(ys)) or 0.001

    def at(xy: tuple[float, float]) -> str:
        x = 5 + (xy[0] - min(xs)) * squeeze / span * (SIDE - 10)
        y = SIDE - 5 - (xy[1] - min(ys)) / span * (SIDE - 10)
        return f"{x:.2f},{y:.2f}"

    return {
        "grids": [" ".join(at(xy) for xy in ring) for ring in rings],
        "track": " ".join(at(xy) for xy in track),
        "start": at(track[0]).split(",") if track else None,
        "end": at(track[-1]).split(",") if track else None,
    }


def _outlines(engine, codes: list[str]) -> list[list[tuple[float, float]]]:
    with read(engine.db) as connection:
        shapes = connection.execute(select(GRID.c.geometry).where(GRID.c.code.in_(codes))).scalars()
        rings = []
        for raw in shapes:
            if raw:
                shape = shapely.from_wkb(raw)
                for polygon in getattr(shape, "geoms", [shape]):
                    rings.append([(x, y) for x, y, *_ in polygon.exterior.coords])
        return rings


def _track(engine, actor: Actor, person: str | None, day_text: str | None) -> dict[str, Any]:
    day = day_of(engine, day_text)
    people = patrol.patrolling_people(engine, actor)
    if person is None and len(people) == 1:
        person = str(people[0]["id"])  # a supervisor's own
    context: dict[str, Any] = {"people": people, "day": day.isoformat(), "chosen": None}
    if not person:
        return context
    if not person.isdigit() or not 0 < int(person) <= MAX_ID:
        raise GridcaseError("not_found", f"没有人员 {person}")
    track = patrol.day_track(engine, actor, int(person), day)  # 403 for a track not theirs to see
    points = track["points"]
    context["chosen"] = track["person"]
    walked = sum(distance_m(a["lon"], a["lat"], b["lon"], b["lat"]) for a, b in pairwise(points))
    for p in points:
        p["late"] = p["arrived_at"] - p["made_at"] > LATE
    return {
        **context,
        "points": points,
        "walked_km": walked / 1000,
        "drawing": _drawing(_outlines(engine, track["person"]["grids"]), points),
    }


@ui()
async def tracks(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    q = request.query_params
    context = await run_in_threadpool(_track, engine, actor, q.get("person"), q.get("date"))
    return page(request, "tracks.html", context)

"""The JSON API's tasks: the open cases waiting for a step of the caller's, nearest first.

A handset (the field app) asks for them where its person stands: a supervisor's 核实 and 核查,
a department's 签收 and 处置. A task is a case in a state from which one of the caller's roles
has a transition that moves it on. A workflow's first state waits for the centre's intake, so
it is a task only for the centre's roles (scope all); a supervisor's 自行处置 of a report of
their own is offered where they report it.
"""

import math
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from gridcase.core.cases import scope
from gridcase.core.db.connection import read
from gridcase.core.db.models import Case, Clock
from gridcase.core.errors import GridcaseError
from gridcase.core.people.actor import Actor
from gridcase.core.profile.taxonomy import label_zh
from gridcase.core.web.api_cases import MOMENT, NULLABLE_MOMENT, NULLABLE_TEXT, light_of
from gridcase.core.web.bodies import INTEGER, NUMBER, TEXT, obj
from gridcase.core.web.endpoints import _engine, endpoint, ok
from gridcase.core.web.identity import require

CASE, CLOCK = Case.__table__, Clock.__table__
MOST = 200  # a handset lists what its person can walk to, not a district's backlog
EARTH_M = 6_371_000

TASK = obj(
    {
        "id": INTEGER,
        "number": TEXT,
        "state": TEXT,
        "state_name": TEXT,
        "version": INTEGER,
        "class_code": TEXT,
        "class_name": NULLABLE_TEXT,
        "address": NULLABLE_TEXT,
        "description": NULLABLE_TEXT,
        "lon": NUMBER,
        "lat": NUMBER,
        "reported_at": MOMENT,
        "deadline": NULLABLE_MOMENT,
        "light": {"enum": ["green", "yellow", "red"]},
        "distance_m": {"type": ["number", "null"]},
        "transitions": {"type": "array", "items": {"type": "object"}},
    },
    required=("id", "number", "state", "version", "deadline", "light", "distance_m", "transitions"),
)


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine): a few metres off at a street's scale at most."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_M * math.asin(math.sqrt(min(1.0, a)))


def _waiting(engine, actor: Actor) -> dict[tuple[str, str], list[Any]]:
    """(workflow, state) → the transitions the actor may fire there, for states where one of
    them moves the case on."""
    desk = "all" in scope.scopes(engine, actor)
    found = {}
    for code, workflow in engine.catalogue.workflows.items():
        for state in workflow.states:
            if state == workflow.initial and not desk:
                continue
            steps = workflow.available(state, actor.roles)
            if any(t.target not in (None, state) for t in steps):
                found[code, state] = steps
    return found


def tasks(engine, actor: Actor, where: tuple[float, float] | None, order: str) -> list[dict[str, Any]]:
    waiting = _waiting(engine, actor)
    if not waiting:
        return []
    now = engine.time.now()
    running = and_(CLOCK.c.case_id == CASE.c.id, CLOCK.c.status == "running")
    deadline = select(func.min(CLOCK.c.deadline)).where(running).scalar_subquery().label("deadline")
    pairs = or_(*[and_(CASE.c.workflow == w, CASE.c.state == s) for w, s in sorted(waiting)])
    query = (
        select(
            CASE.c.id,
            CASE.c.number,
            CASE.c.workflow,
            CASE.c.state,
            CASE.c.version,
            CASE.c.kind,
            CASE.c.class_code,
            CASE.c.address,
            CASE.c.description,
            CASE.c.lon,
            CASE.c.lat,
            CASE.c.reported_at,
            deadline,
            light_of(now).label("light"),
        )  # fmt: skip
        .where(scope.case_filter(engine, actor, few=True), CASE.c.state_kind == "open", pairs)
        .limit(MOST)
    )
    if order == "distance" and where:  # the nearest MOST, by a flat-earth measure good at a street's scale
        (x, y), squeeze = where, math.cos(math.radians(where[1])) ** 2
        query = query.order_by(
            (CASE.c.lon - x) * (CASE.c.lon - x) * squeeze + (CASE.c.lat - y) * (CASE.c.lat - y)
        )
    else:
        query = query.order_by(deadline.is_(None), deadline, CASE.c.id)
    with read(engine.db) as connection:
        rows = [dict(r) for r in connection.execute(query).mappings()]
    for row in rows:
        workflow = engine.catalogue.workflows[row.pop("workflow")]
        info = engine.catalogue.classes.get((row.pop("kind"), row["class_code"]))
        row["class_name"] = label_zh(info["minor"].get("name")) if info else None
        row["state_name"] = workflow.states[row["state"]].name
        row["distance_m"] = round(distance_m(*where, row["lon"], row["lat"])) if where else None
        row["transitions"] = [
            {
                "code": t.code,
                "name": t.name,
                "fields": list(t.fields),
                "evidence": list(t.evidence),
                "reason": t.reason,
            }  # fmt: skip
            for t in waiting[workflow.code, row["state"]]
        ]
    never = datetime.max.replace(tzinfo=now.tzinfo)
    if order == "distance" and where:
        rows.sort(key=lambda r: (r["distance_m"], r["deadline"] or never))
    else:
        rows.sort(key=lambda r: (r["deadline"] or never, r["distance_m"] or 0))
    return rows


@endpoint(
    "GET",
    "/tasks",
    "Open cases waiting for a step of the caller's: nearest first from lon/lat, else soonest deadline",
    params=[
        ("lon", "query", NUMBER, False),
        ("lat", "query", NUMBER, False),
        ("order", "query", {"enum": ["distance", "deadline"]}, False),
    ],
    response=obj({"items": {"type": "array", "items": TASK}}, required=("items",)),
)
async def list_tasks(request: Request) -> Response:
    actor = await require(request)
    q = request.query_params
    where = None
    if q.get("lon") is not None or q.get("lat") is not None:
        try:
            where = (float(q["lon"]), float(q["lat"]))
        except (KeyError, ValueError):
            raise GridcaseError(
                "invalid_request", "give both lon and lat, as numbers", {"field": "lon"}
            ) from None
        if not (-180 <= where[0] <= 180 and -90 <= where[1] <= 90):
            raise GridcaseError("invalid_request", "lon is -180 to 180 and lat -90 to 90", {"field": "lon"})
    order = q.get("order") or ("distance" if where else "deadline")
    if order not in ("distance", "deadline"):
        raise GridcaseError("invalid_request", "order is distance or deadline", {"field": "order"})
    items = await run_in_threadpool(tasks, _engine(request), actor, where, order)
    return ok({"items": items})

"""Configuration pages: units (with classes and command relations) and people (with roles);
time limits and calendars, with holiday overrides; assessment weights; and the workflow drawn
as a state diagram from the profile."""

from datetime import date
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from gridcase.core.cases import Actor
from gridcase.core.db.engine import read
from gridcase.core.db.models import Person, Responsibility, Unit
from gridcase.core.errors import GridcaseError
from gridcase.core.sla import overrides as calendar_overrides
from gridcase.core.units import set_unit_class

from .render import page
from .views import ADMIN, WEIGHTS, WORKFLOW, ui

PERSON, RESPONSIBILITY, UNIT = Person.__table__, Responsibility.__table__, Unit.__table__


def _units_and_people(engine) -> dict[str, Any]:
    with read(engine.db) as connection:
        units = [dict(r) for r in connection.execute(select(UNIT).order_by(UNIT.c.path)).mappings()]
        people = [dict(r) for r in connection.execute(select(PERSON).order_by(PERSON.c.username)).mappings()]
        grids: dict[int, list[str]] = {}
        for person_id, grid in connection.execute(select(RESPONSIBILITY.c.person_id, RESPONSIBILITY.c.grid)):
            grids.setdefault(person_id, []).append(grid)
    for person in people:
        person.pop("password_hash", None)
        person["grids"] = sorted(grids.get(person["id"], []))
    return {"units": units, "people": people}


@ui(ADMIN)
async def units(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    data = await run_in_threadpool(_units_and_people, engine)
    classes = sorted({u.get("class") for u in engine.profile.get("units", []) if u.get("class")})
    roles = {r["code"]: r.get("name") for r in engine.profile.get("roles", [])}
    profile_units = {u["code"]: u for u in engine.profile.get("units", [])}
    return page(
        request,
        "config_units.html",
        {**data, "classes": classes, "roles": roles, "profile_units": profile_units},
    )


@ui(ADMIN)
async def unit_class(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    form = dict((await request.form(max_fields=10)).items())
    code = request.path_params["code"]
    await run_in_threadpool(set_unit_class, engine.db, code, form.get("class") or None, engine.clock.now())
    return Response(status_code=204, headers={"HX-Refresh": "true"})


def _calendar(engine) -> list[dict[str, Any]]:
    return calendar_overrides.listed(engine.db)


@ui(ADMIN)
async def time_limits(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    overrides = await run_in_threadpool(_calendar, engine)
    limits = engine.profile.get("time_limits", {})
    return page(
        request, "config_time_limits.html", {"limits": limits, "overrides": overrides}, block="overrides"
    )


@ui(ADMIN)
async def calendar_day(request: Request, actor: Actor) -> Response:
    """Add or remove a working-day override (调休, an extra holiday); clocks started later use it."""
    engine = request.app.state.engine
    form = dict((await request.form(max_fields=10)).items())
    try:
        day = date.fromisoformat(form.get("day", ""))
    except ValueError:
        raise GridcaseError("invalid_request", "日期格式为 YYYY-MM-DD", {"field": "day"}) from None
    calendar = form.get("calendar", "")
    if form.get("action") == "remove":
        await run_in_threadpool(calendar_overrides.remove_override, engine.db, day, calendar)
    else:
        await run_in_threadpool(
            calendar_overrides.set_override, engine.db, day, form.get("working") == "yes", engine.clock.now(),
            calendar, form.get("reason") or None, actor.username,
        )  # fmt: skip
    await run_in_threadpool(engine.refresh_calendars)
    overrides = await run_in_threadpool(_calendar, engine)
    limits = engine.profile.get("time_limits", {})
    return page(
        request, "config_time_limits.html", {"limits": limits, "overrides": overrides}, block="overrides"
    )


@ui(WEIGHTS)
async def assessment(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    spec = engine.profile.get("assessment", {})
    return page(request, "config_assessment.html", {"spec": spec})


@ui(WORKFLOW)
async def workflow(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    specs = engine.profile.get("workflow", {}).get("workflows", [])
    return page(request, "config_workflow.html", {"workflows": specs, "graphs": _graphs(specs, request)})


def _graphs(specs: list[dict[str, Any]], request: Request) -> list[dict[str, Any]]:
    from .render import label, language_of

    language = language_of(request)
    graphs = []
    for spec in specs:
        nodes = [
            {
                "name": s["code"],
                "value": label(s.get("name"), language),
                "category": 0 if s["kind"] == "open" else 1,
            }
            for s in spec["states"]
        ]
        links = [
            {"source": source, "target": t.get("to") or source, "value": label(t.get("name"), language)}
            for t in spec.get("transitions", [])
            for source in t.get("from", [])
        ]
        graphs.append(
            {"code": spec["code"], "name": label(spec.get("name"), language), "nodes": nodes, "links": links}
        )
    return graphs

"""The JSON API's reference data and results: taxonomy, units, grids, components, assessment and
the OpenAPI document."""

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gridcase.core.assess.assessor import Assessor
from gridcase.core.cases import scope
from gridcase.core.db.connection import read
from gridcase.core.db.models import Case, CaseUnit, Clock, Unit
from gridcase.core.errors import GridcaseError
from gridcase.core.people.actor import Actor
from gridcase.core.places import components
from gridcase.core.places import grids as grid_registry
from gridcase.core.profile.taxonomy import active_classes
from gridcase.core.web.bodies import BOOLEAN, NUMBER, TEXT, obj
from gridcase.core.web.endpoints import _engine, endpoint, ok
from gridcase.core.web.identity import require

CASE, CASE_UNIT, CLOCK, UNIT = (t.__table__ for t in (Case, CaseUnit, Clock, Unit))
OBJECT, STRING = {"type": "object"}, {"type": "string"}
OBJECTS = {"type": "array", "items": OBJECT}


# -- reference data -------------------------------------------------------------------


@endpoint(
    "GET",
    "/taxonomy",
    "The active taxonomy: 部件 and 事件 classes with their names and rules, and patrol checklists",
    response=obj(
        {
            "edition": {"type": ["string", "integer", "null"]},
            "classes": {
                "type": "array",
                "items": obj(
                    {
                        "kind": {"enum": ["component", "event"]},
                        "major": STRING,
                        "code": STRING,
                        "standards": OBJECTS,
                        "enabled": BOOLEAN,
                    },
                    required=("kind", "major", "code", "enabled"),
                ),
            },
            "checklists": {"type": "array"},
        },
        required=("classes", "checklists"),
    ),
)
async def taxonomy(request: Request) -> Response:
    await require(request)
    engine = _engine(request)
    classes = [
        {
            "kind": info["kind"],
            "major": info["major"]["code"],
            "code": info["minor"]["code"],
            "name": info["minor"].get("name"),
            "standards": info["minor"].get("standards", []),
            "enabled": info["minor"].get("enabled", True) and info["major"].get("enabled", True),
        }
        for info in active_classes(engine.profile)
    ]
    return ok(
        {
            "edition": engine.profile["taxonomy"].get("edition"),
            "classes": classes,
            # what a patrol handset offers instead of classes (禅城's 334 items)
            "checklists": engine.profile.get("checklists", []),
        }
    )


@endpoint(
    "GET",
    "/units",
    "Units with their kinds, classes and place in the hierarchy",
    response={"type": "array", "items": obj({"code": STRING, "name": STRING}, required=("code", "name"))},
)
async def units(request: Request) -> Response:
    await require(request)

    def load(engine):
        with read(engine.db) as connection:
            return [dict(r) for r in connection.execute(select(UNIT).order_by(UNIT.c.path)).mappings()]

    return ok(await run_in_threadpool(load, _engine(request)))


@endpoint(
    "GET",
    "/grids",
    "Grids as a GeoJSON FeatureCollection: a level's, or those named by `code` (repeated)",
    params=[("level", "query", TEXT, False), ("code", "query", TEXT, False)],
    response=obj(
        {"type": {"const": "FeatureCollection"}, "features": OBJECTS}, required=("type", "features")
    ),
)
async def grids(request: Request) -> Response:
    await require(request)
    engine, level = _engine(request), request.query_params.get("level")
    codes = set(request.query_params.getlist("code"))

    def load():
        # `code`: a supervisor's own grids, which a handset checks its position against (越界)
        with read(engine.db) as connection:
            return grid_registry.export(connection, level, codes)

    return ok(await run_in_threadpool(load))


@endpoint(
    "GET",
    "/components/nearest",
    "The nearest registered component of a class",
    params=[
        ("class", "query", TEXT, True),
        ("lon", "query", NUMBER, True),
        ("lat", "query", NUMBER, True),
        ("radius", "query", NUMBER, False),
    ],
    response=obj({"code": STRING}, required=("code",)),
)
async def nearest_component(request: Request) -> Response:
    await require(request)
    q = request.query_params
    try:
        lon, lat, radius = float(q["lon"]), float(q["lat"]), float(q.get("radius", 50))
    except (KeyError, ValueError):
        raise GridcaseError(
            "invalid_request", "give class, lon and lat (numbers), and optionally radius"
        ) from None
    if not q.get("class") or not (0 < radius <= 1000):
        raise GridcaseError("invalid_request", "class is required and radius is 0–1000 metres")
    found = await run_in_threadpool(_engine(request).places.components.nearest, q["class"], lon, lat, radius)
    if found is None:
        raise GridcaseError("not_found", f"no {q['class']} component within {radius:g} m")
    return ok(found)


@endpoint(
    "GET",
    "/components/{code}",
    "A component by its code",
    params=[("code", "path", TEXT, True)],
    response=obj({"code": STRING}, required=("code",)),
)
async def component(request: Request) -> Response:
    await require(request)

    def load(engine, code):
        with read(engine.db) as connection:
            row = connection.execute(components.BY_CODE, {"code": code}).mappings().first()
        if row is None:
            raise GridcaseError("not_found", f"no component {code!r}")
        return dict(row)

    return ok(await run_in_threadpool(load, _engine(request), request.path_params["code"]))


# -- assessment -----------------------------------------------------------------------


def _assessor(request: Request, actor: Actor) -> Assessor:
    engine = _engine(request)
    if "all" not in scope.scopes(engine, actor):
        raise GridcaseError("forbidden", "assessment results are for the centre's roles")
    kept = getattr(request.app.state, "assessor", None)
    if kept is None or kept[0] != engine.catalogue.settings_version:  # weights edited since: a new one
        request.app.state.assessor = kept = (engine.catalogue.settings_version, Assessor(engine))
    return kept[1]


@endpoint(
    "GET",
    "/assessment",
    "A period's assessment: indicators, composites, deductions and rankings",
    params=[
        ("period", "query", TEXT, True),
        ("by", "query", TEXT, False),
        ("class", "query", TEXT, False),
        ("level", "query", TEXT, False),
    ],
    response=OBJECT,
)
async def assessment(request: Request) -> Response:
    assessor, q = _assessor(request, await require(request)), request.query_params
    if not q.get("period"):
        raise GridcaseError("invalid_request", "give a period, e.g. period=2026-10", {"field": "period"})
    classes = q.getlist("class") or None
    result = await run_in_threadpool(
        assessor.assess, q["period"], q.get("by", "unit"), classes, q.get("level")
    )
    return ok(result)


@endpoint(
    "GET",
    "/assessment/explain",
    "Why a number is what it is, down to the cases",
    params=[
        ("period", "query", TEXT, True),
        ("object", "query", TEXT, True),
        ("indicator", "query", TEXT, False),
    ],
    response=OBJECT,
)
async def explain(request: Request) -> Response:
    assessor, q = _assessor(request, await require(request)), request.query_params
    if not q.get("period") or not q.get("object"):
        raise GridcaseError("invalid_request", "give period and object, e.g. object=unit:jiefang")
    return ok(await run_in_threadpool(assessor.explain, q["period"], q["object"], q.get("indicator")))


@endpoint(
    "GET",
    "/openapi.json",
    "This document",
    public=True,
    response=obj({"openapi": STRING}, required=("openapi",)),
)
async def openapi(request: Request) -> Response:
    from gridcase.core.web.openapi import document

    return JSONResponse(document(_engine(request)))

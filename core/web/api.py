"""JSON API v1 (`/api/v1/`). Each endpoint is declared once, with what the OpenAPI document says
of it; the routes and the document are built from the same list, so they cannot drift apart.

Handlers are async only to read the request; the engine's work runs in the thread pool.
"""

import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import components, scope
from .. import grids as grid_registry
from ..assess.assessor import Assessor
from ..cases import Actor
from ..db.engine import read
from ..db.models import Case, CaseUnit, Clock, Unit
from ..errors import GridcaseError
from ..evidence import Upload
from ..taxonomy import active_classes
from ..units import subtree
from .identity import RateLimit, identify, json_body, login, logout, require

CASE, CASE_UNIT, CLOCK, UNIT = (t.__table__ for t in (Case, CaseUnit, Clock, Unit))
PREFIX = "/api/v1"
PAGE, MAX_PAGE = 50, 200
MAX_FILES = 9
INTAKE_LIMIT = RateLimit(rate=120, per=60)  # reports per client per minute, per process


@dataclass
class Endpoint:
    method: str
    path: str
    handler: Callable[[Request], Awaitable[Response]]
    summary: str
    params: list[tuple[str, str, dict, bool]] = field(default_factory=list)  # name, in, schema, required
    body: dict | None = None
    public: bool = False


ENDPOINTS: list[Endpoint] = []
STRING, INTEGER, NUMBER = {"type": "string"}, {"type": "integer"}, {"type": "number"}


def endpoint(method: str, path: str, summary: str, params=(), body=None, public=False):
    def register(handler):
        ENDPOINTS.append(Endpoint(method, PREFIX + path, handler, summary, list(params), body, public))
        return handler

    return register


def routes() -> list[Route]:
    by_path: dict[str, dict[str, Callable]] = {}
    for e in ENDPOINTS:
        by_path.setdefault(e.path, {})[e.method] = e.handler

    def dispatch(handlers):
        async def endpoint(request: Request) -> Response:
            return await handlers[request.method](request)

        return endpoint

    return [Route(path, dispatch(h), methods=list(h)) for path, h in by_path.items()]


def _engine(request: Request):
    return request.app.state.engine


def _int(request: Request, name: str) -> int:
    raw = request.path_params.get(name, request.query_params.get(name))
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise GridcaseError("not_found", f"{name} must be a number, not {raw!r}") from None


def _default(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def ok(data: Any, status: int = 200) -> Response:
    body = json.dumps(data, ensure_ascii=False, default=_default, separators=(",", ":"))
    return Response(body, status_code=status, media_type="application/json")


# -- session --------------------------------------------------------------------------

endpoint(
    "POST",
    "/session",
    "Log in: a session cookie and the CSRF token to echo",
    public=True,
    body={
        "type": "object",
        "required": ["username", "password"],
        "properties": {"username": STRING, "password": STRING},
    },
)(login)
endpoint("DELETE", "/session", "Log out", public=True)(logout)


@endpoint("GET", "/me", "Who the caller is")
async def me(request: Request) -> Response:
    actor = await require(request)
    return ok(
        {
            "id": actor.id,
            "username": actor.username,
            "roles": sorted(actor.roles),
            "unit": actor.unit,
            "grids": sorted(actor.grids or ()),
        }
    )


# -- cases ----------------------------------------------------------------------------

REPORT_SCHEMA = {
    "type": "object",
    "required": ["channel", "point"],
    "properties": {
        "channel": STRING,
        "point": {"type": "array", "items": NUMBER, "minItems": 2, "maxItems": 2},
        "crs": {"enum": ["wgs84", "cgcs2000", "gcj02", "bd09"]},
        "category": STRING,
        "kind": {"enum": ["component", "event"]},
        "standard": STRING,
        "description": STRING,
        "address": STRING,
        "component": STRING,
        "urgent": {"type": "boolean"},
    },
}


async def _form_or_json(request: Request) -> tuple[dict, list[Upload]]:
    """JSON, or multipart with a `report`/`payload` JSON field and photo files."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "multipart/form-data":
        return await json_body(request), []
    engine = _engine(request)
    try:
        form = await request.form(max_files=MAX_FILES, max_fields=20, max_part_size=engine.evidence.max_bytes)
    except Exception as exc:  # python-multipart and Starlette raise several kinds
        raise GridcaseError("bad_request", f"the multipart body cannot be read: {exc}") from None
    fields, uploads = {}, []
    for name, value in form.multi_items():
        if hasattr(value, "read"):
            content = await value.read()
            if len(content) > engine.evidence.max_bytes:
                raise GridcaseError(
                    "evidence_too_large", f"{value.filename!r} is over {engine.evidence.max_bytes} bytes"
                )
            uploads.append(
                Upload(value.filename or "file", content, "photo" if name in ("photo", "photos") else name)
            )
        else:
            fields[name] = value
    raw = fields.pop("report", None) or fields.pop("payload", None) or "{}"
    try:
        data = json.loads(raw)
    except ValueError:
        raise GridcaseError("bad_request", "the report field is not valid JSON") from None
    if not isinstance(data, dict):
        raise GridcaseError("bad_request", "the report field must be a JSON object")
    return {**fields, **data}, uploads


@endpoint(
    "POST",
    "/cases",
    "Report a problem (JSON, or multipart with photos); Idempotency-Key honoured",
    params=[("Idempotency-Key", "header", STRING, False)],
    body=REPORT_SCHEMA,
)
async def create_case(request: Request) -> Response:
    actor = await require(request)
    engine = _engine(request)
    if all(engine.roles.get(role, {}).get("group") == "public" for role in actor.roles):
        INTAKE_LIMIT.check(f"person:{actor.id}")  # citizens' apps; the centre's integrations are not limited
    report, uploads = await _form_or_json(request)
    key = request.headers.get("idempotency-key")
    result = await run_in_threadpool(engine.intake, report, actor, uploads, key)
    return ok(result, 200 if result.get("replay") else 201)


def light_of(now: datetime):
    """red when a running clock is overdue, yellow when one is past its yellow moment, else green."""
    running = and_(CLOCK.c.case_id == CASE.c.id, CLOCK.c.status == "running")
    return case(
        (exists().where(running, CLOCK.c.deadline < now), "red"),
        (exists().where(running, CLOCK.c.yellow_at <= now), "yellow"),
        else_="green",
    )


SUMMARY = (
    CASE.c.id,
    CASE.c.number,
    CASE.c.state,
    CASE.c.state_kind,
    CASE.c.kind,
    CASE.c.class_code,
    CASE.c.channel,
    CASE.c.grid,
    CASE.c.address,
    CASE.c.urgent,
    CASE.c.reported_at,
    CASE.c.updated_at,
    CASE.c.closed_at,
)
LIST_PARAMS = [
    ("state", "query", STRING, False),
    ("unit", "query", STRING, False),
    ("grid", "query", STRING, False),
    ("class", "query", STRING, False),
    ("channel", "query", STRING, False),
    ("light", "query", {"enum": ["green", "yellow", "red"]}, False),
    ("from", "query", STRING, False),
    ("to", "query", STRING, False),
    ("cursor", "query", STRING, False),
    ("limit", "query", INTEGER, False),
]


def _list(engine, actor: Actor, q: dict[str, str]) -> dict[str, Any]:
    now = engine.clock.now()
    light = light_of(now).label("light")
    query = select(*SUMMARY, light).where(scope.case_filter(engine, actor)).order_by(CASE.c.id.desc())
    for name, column in (("state", CASE.c.state), ("class", CASE.c.class_code), ("channel", CASE.c.channel)):
        if q.get(name):
            query = query.where(column == q[name])
    if q.get("grid"):
        query = query.where(CASE.c.grid_path.contains(f"/{q['grid']}/"))
    for name, op in (("from", "__ge__"), ("to", "__lt__")):
        if q.get(name):
            query = query.where(getattr(CASE.c.reported_at, op)(_moment(q[name], name, engine)))
    if q.get("light"):
        if q["light"] not in ("green", "yellow", "red"):
            raise GridcaseError("invalid_request", "light is green, yellow or red", {"field": "light"})
        query = query.where(light_of(now) == q["light"])
    limit = min(int(q["limit"]) if (q.get("limit") or "").isdigit() else PAGE, MAX_PAGE) or PAGE
    if q.get("cursor"):
        query = query.where(CASE.c.id < _cursor(q["cursor"]))
    with read(engine.db) as connection:
        if q.get("unit"):
            units = subtree(connection, q["unit"])
            query = query.where(
                exists().where(
                    CASE_UNIT.c.case_id == CASE.c.id, CASE_UNIT.c.active, CASE_UNIT.c.unit.in_(units)
                )
            )
        rows = [dict(r) for r in connection.execute(query.limit(limit + 1)).mappings()]
    more = len(rows) > limit
    rows = rows[:limit]
    token = base64.urlsafe_b64encode(str(rows[-1]["id"]).encode()).decode() if more else None
    return {"items": rows, "next": token}


def _cursor(raw: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(raw.encode()).decode())
    except ValueError:
        raise GridcaseError(
            "invalid_request", "the cursor is not one this server gave", {"field": "cursor"}
        ) from None


def _moment(raw: str, name: str, engine) -> datetime:
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise GridcaseError("invalid_request", f"{name} is an ISO date or time", {"field": name}) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=engine.tz)


@endpoint("GET", "/cases", "Cases the caller may see, newest first, a page at a time", params=LIST_PARAMS)
async def list_cases(request: Request) -> Response:
    actor = await require(request)
    return ok(await run_in_threadpool(_list, _engine(request), actor, dict(request.query_params)))


def _detail(engine, actor: Actor, case_id: int) -> dict[str, Any]:
    with read(engine.db) as connection:
        view = scope.view_of(engine, connection, actor, case_id)
    case_row = engine.case(case_id)  # not_found first: a missing case is 404 for everyone
    if view is None:
        raise GridcaseError("forbidden", f"case {case_row['number']} is outside your scope")
    if view == "public":
        return scope.public(case_row)
    now = engine.clock.now()
    for clock in case_row["clocks"]:
        clock["light"] = engine.deadlines.light(clock, now)
    workflow = engine.workflows[case_row["workflow"]]
    case_row["allowed_transitions"] = [
        {
            "code": t.code,
            "name": t.name,
            "fields": list(t.fields),
            "evidence": list(t.evidence),
            "reason": t.reason,
        }
        for t in workflow.available(case_row["state"], actor.roles)
    ]
    return case_row


@endpoint(
    "GET",
    "/cases/{case_id}",
    "A case: timeline, units, clocks and lights, evidence, allowed transitions",
    params=[("case_id", "path", INTEGER, True)],
)
async def get_case(request: Request) -> Response:
    actor = await require(request)
    return ok(await run_in_threadpool(_detail, _engine(request), actor, _int(request, "case_id")))


TRANSITION_SCHEMA = {
    "type": "object",
    "properties": {"payload": {"type": "object"}, "reason": STRING, "version": INTEGER},
}


def _fire(engine, actor: Actor, case_id: int, code: str, body: dict, uploads: list[Upload]) -> dict[str, Any]:
    with read(engine.db) as connection:
        view = scope.view_of(engine, connection, actor, case_id)
    if view != "full":
        engine.case(case_id)  # a missing case is 404
        raise GridcaseError("forbidden", "this case is outside your scope")
    payload, reason, version = body.get("payload", {}), body.get("reason"), body.get("version")
    payload = {} if payload is None else payload
    if not isinstance(payload, dict) or not (reason is None or isinstance(reason, str)):
        raise GridcaseError("invalid_request", "payload is an object and reason is text")
    if version is not None and not isinstance(version, int):
        raise GridcaseError("invalid_request", "version is the case's version number")
    engine.transition(
        case_id, code, actor, payload=payload, reason=reason, uploads=uploads, expected_version=version
    )
    return _detail(engine, actor, case_id)


@endpoint(
    "POST",
    "/cases/{case_id}/transitions/{code}",
    "Fire a transition with its fields and evidence",
    params=[("case_id", "path", INTEGER, True), ("code", "path", STRING, True)],
    body=TRANSITION_SCHEMA,
)
async def fire_transition(request: Request) -> Response:
    actor = await require(request)
    body, uploads = await _form_or_json(request)
    if "version" in body and isinstance(body["version"], str) and body["version"].isdigit():
        body["version"] = int(body["version"])
    result = await run_in_threadpool(
        _fire, _engine(request), actor, _int(request, "case_id"), request.path_params["code"], body, uploads
    )
    return ok(result)


# -- reference data -------------------------------------------------------------------


@endpoint("GET", "/taxonomy", "The active taxonomy: 部件 and 事件 classes with their names and rules")
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
    return ok({"edition": engine.profile.get("taxonomy", {}).get("edition"), "classes": classes})


@endpoint("GET", "/units", "Units with their kinds, classes and place in the hierarchy")
async def units(request: Request) -> Response:
    await require(request)

    def load(engine):
        with read(engine.db) as connection:
            return [dict(r) for r in connection.execute(select(UNIT).order_by(UNIT.c.path)).mappings()]

    return ok(await run_in_threadpool(load, _engine(request)))


@endpoint("GET", "/grids", "Grids as a GeoJSON FeatureCollection", params=[("level", "query", STRING, False)])
async def grids(request: Request) -> Response:
    await require(request)
    engine, level = _engine(request), request.query_params.get("level")

    def load():
        with read(engine.db) as connection:
            return grid_registry.export(connection, level)

    return ok(await run_in_threadpool(load))


@endpoint(
    "GET",
    "/components/nearest",
    "The nearest registered component of a class",
    params=[
        ("class", "query", STRING, True),
        ("lon", "query", NUMBER, True),
        ("lat", "query", NUMBER, True),
        ("radius", "query", NUMBER, False),
    ],
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
    found = await run_in_threadpool(_engine(request).components.nearest, q["class"], lon, lat, radius)
    if found is None:
        raise GridcaseError("not_found", f"no {q['class']} component within {radius:g} m")
    return ok(found)


@endpoint("GET", "/components/{code}", "A component by its code", params=[("code", "path", STRING, True)])
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
    if getattr(request.app.state, "assessor", None) is None:
        request.app.state.assessor = Assessor(engine)
    return request.app.state.assessor


@endpoint(
    "GET",
    "/assessment",
    "A period's assessment: indicators, composites, deductions and rankings",
    params=[
        ("period", "query", STRING, True),
        ("by", "query", STRING, False),
        ("class", "query", STRING, False),
        ("level", "query", STRING, False),
    ],
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
        ("period", "query", STRING, True),
        ("object", "query", STRING, True),
        ("indicator", "query", STRING, False),
    ],
)
async def explain(request: Request) -> Response:
    assessor, q = _assessor(request, await require(request)), request.query_params
    if not q.get("period") or not q.get("object"):
        raise GridcaseError("invalid_request", "give period and object, e.g. object=unit:jiefang")
    return ok(await run_in_threadpool(assessor.explain, q["period"], q["object"], q.get("indicator")))


@endpoint("GET", "/openapi.json", "This document", public=True)
async def openapi(request: Request) -> Response:
    from .openapi import document

    await identify(request)
    return JSONResponse(document(_engine(request)))

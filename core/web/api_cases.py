"""The JSON API's cases: logging in, intake, listing, detail and transitions.

Handlers are async only to read the request; the engine's work runs in the thread pool.
"""

import base64
import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from gridcase.core.cases import scope
from gridcase.core.cases.evidence import Upload
from gridcase.core.cases.idempotency import (
    MAX_KEY,
    Claim,
    answer_of,
    digest,
    record_answer,
    record_refusal,
    scoped,
)
from gridcase.core.db.connection import read
from gridcase.core.db.models import Case, CaseUnit, Clock, Unit
from gridcase.core.errors import GridcaseError
from gridcase.core.intake.submit import Submission
from gridcase.core.people.actor import Actor
from gridcase.core.places.geo import CRS
from gridcase.core.places.units import subtree
from gridcase.core.sla.offline import device_time
from gridcase.core.web.bodies import BOOLEAN, INTEGER, NUMBER, TEXT, Schema, obj, text, value
from gridcase.core.web.endpoints import MAX_ID, _engine, _int, body_of, dumps, endpoint, ok
from gridcase.core.web.errors import error_response
from gridcase.core.web.identity import choose_password, login, logout, require

CASE, CASE_UNIT, CLOCK, UNIT = (t.__table__ for t in (Case, CaseUnit, Clock, Unit))
PAGE, MAX_PAGE = 50, 200
KEY = {"type": "string", "minLength": 1, "maxLength": MAX_KEY}


# -- session --------------------------------------------------------------------------

endpoint(
    "POST",
    "/session",
    "Log in: a session cookie and the CSRF token to echo",
    public=True,
    body=Schema(
        obj(
            {"username": text(maxLength=200), "password": text(maxLength=1000)},
            required=("username", "password"),
            additionalProperties=False,
        )
    ),
    response=obj({"person_id": INTEGER, "csrf_token": TEXT}, required=("person_id", "csrf_token")),
)(login)
endpoint(
    "POST",
    "/session/password",
    "Choose one's own password, in place of the current one (an administrator's temporary one too): "
    "ends every session of the person's and starts one, as a login does",
    public=True,
    body=Schema(
        obj(
            {
                "username": text(maxLength=200),
                "password": text(maxLength=1000),
                "new_password": text(maxLength=1000),
            },
            required=("username", "password", "new_password"),
            additionalProperties=False,
        )
    ),
    response=obj({"person_id": INTEGER, "csrf_token": TEXT}, required=("person_id", "csrf_token")),
)(choose_password)
endpoint("DELETE", "/session", "Log out", public=True, response=obj({"ok": BOOLEAN}, required=("ok",)))(
    logout
)
NULLABLE_TEXT = {"type": ["string", "null"]}


@endpoint(
    "GET",
    "/me",
    "Who the caller is",
    response=obj(
        {
            "id": INTEGER,
            "username": NULLABLE_TEXT,
            "roles": {"type": "array", "items": {"type": "string"}},
            "unit": NULLABLE_TEXT,
            "grids": {"type": "array", "items": {"type": "string"}},
        },
        required=("id", "username", "roles", "unit", "grids"),
    ),
)
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

REPORT = Schema(
    obj(
        {
            "channel": text(maxLength=64),
            "point": {"type": "array", "items": NUMBER, "minItems": 2, "maxItems": 2},
            "crs": {"enum": list(CRS)},
            "category": text(maxLength=64),
            "item": text(maxLength=64),
            "kind": {"enum": ["component", "event"]},
            "standard": text(maxLength=64),
            "description": text(maxLength=5000),
            "address": text(maxLength=500),
            "component": text(maxLength=64),
            "urgent": BOOLEAN,
            # when a report made offline was made on the device, with its offset (sla/offline.py)
            "made_at": {**text(maxLength=40), "format": "date-time"},
        },
        required=("channel", "point"),
        # a client's own extra fields are ignored, but their text follows the rule all the same
        additionalProperties=value(2),
    )
)
CREATED = {
    "type": "object",
    "required": ["case_id", "number", "duplicate", "replay"],
    "properties": {
        "case_id": INTEGER,
        "number": {"type": "string"},
        "duplicate": BOOLEAN,
        "replay": BOOLEAN,
        "report_id": {"type": ["integer", "null"]},
    },
}


@endpoint(
    "POST",
    "/cases",
    "Report a problem (JSON, or multipart with photos); Idempotency-Key honoured",
    params=[("Idempotency-Key", "header", KEY, False)],
    body=REPORT,
    multipart=True,
    response=CREATED,
)
async def create_case(request: Request) -> Response:
    actor = await require(request)
    engine = _engine(request)
    quota = None  # citizens' apps are limited (core/quota.py); the centre's integrations are not
    if scope.is_public(engine, actor):
        quota = request.app.state.limits["intake"].of(f"person:{actor.id}")
    report, uploads = await body_of(request)
    key = request.headers.get("idempotency-key")
    result = await request.app.state.intake(Submission(report, actor, tuple(uploads), key, quota))
    return ok(result, 200 if result.get("replay") else 201)


def light_is(now: datetime, light: str):
    """A WHERE for one light that starts from the clocks' deadline indexes: red and yellow cases
    are few among many, and a CASE expression per row made the filter read every case."""
    running = CLOCK.c.status == "running"
    red = select(CLOCK.c.case_id).where(running, CLOCK.c.deadline < now)
    yellow = select(CLOCK.c.case_id).where(running, CLOCK.c.yellow_at <= now)
    if light == "red":
        return CASE.c.id.in_(red)
    if light == "yellow":
        return and_(CASE.c.id.in_(yellow), CASE.c.id.not_in(red))
    return and_(CASE.c.id.not_in(yellow), CASE.c.id.not_in(red))


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
MOMENT = {"type": "string", "format": "date-time"}
NULLABLE_MOMENT = {"type": ["string", "null"], "format": "date-time"}
CASE_SUMMARY = obj(
    {
        "id": INTEGER,
        "number": {"type": "string"},
        "state": {"type": "string"},
        "state_kind": {"type": "string"},
        "kind": {"enum": ["component", "event"]},
        "class_code": {"type": "string"},
        "channel": {"type": "string"},
        "grid": NULLABLE_TEXT,
        "address": NULLABLE_TEXT,
        "urgent": BOOLEAN,
        "reported_at": MOMENT,
        "updated_at": MOMENT,
        "closed_at": NULLABLE_MOMENT,
        "light": {"enum": ["green", "yellow", "red"]},
    },
    required=("id", "number", "state", "light"),
)
CASE_PAGE = obj(
    {"items": {"type": "array", "items": CASE_SUMMARY}, "next": NULLABLE_TEXT}, required=("items", "next")
)
CASE_DETAIL = obj(
    {
        "id": INTEGER,
        "number": {"type": "string"},
        "state": {"type": "string"},
        "version": INTEGER,
        "description": NULLABLE_TEXT,
        "clocks": {"type": "array", "items": {"type": "object"}},
        "events": {"type": "array", "items": {"type": "object"}},
        "evidence": {"type": "array", "items": {"type": "object"}},
        "allowed_transitions": {
            "type": "array",
            "items": obj(
                {"code": {"type": "string"}, "name": {"type": ["string", "null"]}},
                required=("code", "fields", "evidence"),
            ),
        },
    },
    required=("number", "state"),  # a citizen's view of a case holds a few fields only
)
LIST_PARAMS = [
    ("state", "query", TEXT, False),
    ("unit", "query", TEXT, False),
    ("grid", "query", TEXT, False),
    ("class", "query", TEXT, False),
    ("channel", "query", TEXT, False),
    ("light", "query", {"enum": ["green", "yellow", "red"]}, False),
    ("from", "query", TEXT, False),
    ("to", "query", TEXT, False),
    ("cursor", "query", TEXT, False),
    ("limit", "query", INTEGER, False),
]


def case_page(engine, actor: Actor, q: dict[str, str]) -> dict[str, Any]:
    now = engine.time.now()
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
        query = query.where(light_is(now, q["light"]))
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
        value = int(base64.urlsafe_b64decode(raw.encode()).decode())
        if not 0 < value <= MAX_ID:
            raise ValueError(value)
        return value
    except ValueError:
        raise GridcaseError(
            "invalid_request", "the cursor is not one this server gave", {"field": "cursor"}
        ) from None


def _moment(raw: str, name: str, engine) -> datetime:
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise GridcaseError("invalid_request", f"{name} is an ISO date or time", {"field": name}) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=engine.city.timezone)


@endpoint(
    "GET",
    "/cases",
    "Cases the caller may see, newest first, a page at a time",
    params=LIST_PARAMS,
    response=CASE_PAGE,
)
async def list_cases(request: Request) -> Response:
    actor = await require(request)
    return ok(await run_in_threadpool(case_page, _engine(request), actor, dict(request.query_params)))


def case_detail(engine, actor: Actor, case_id: int) -> dict[str, Any]:
    with read(engine.db) as connection:
        view = scope.view_of(engine, connection, actor, case_id)
    case_row = engine.case(case_id)  # not_found first: a missing case is 404 for everyone
    if view is None:
        raise GridcaseError("forbidden", f"case {case_row['number']} is outside your scope")
    if view == "public":
        return scope.public_view(engine, case_row)
    with read(engine.db) as connection:
        contact = scope.contacts(engine, connection, actor, case_row["reports"])
    for report in case_row["reports"]:
        report["contact"] = contact.get(report["id"])
    now = engine.time.now()
    for clock in case_row["clocks"]:
        clock["light"] = engine.limits.deadlines.light(clock, now)
        clock["provisional"] = clock["provisional_from"] is not None  # past the published holidays
    workflow = engine.catalogue.workflows[case_row["workflow"]]
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
    response=CASE_DETAIL,
)
async def get_case(request: Request) -> Response:
    actor = await require(request)
    return ok(await run_in_threadpool(case_detail, _engine(request), actor, _int(request, "case_id")))


TRANSITION = Schema(
    obj(
        {
            "payload": {"type": ["object", "null"], "propertyNames": TEXT, "additionalProperties": value(2)},
            "reason": {**text(maxLength=2000), "type": ["string", "null"]},
            # a number, or its digits as a multipart form sends them
            "version": {"anyOf": [INTEGER, {"type": "string", "pattern": "^[0-9]{1,9}$"}]},
            # when a step made offline was made on the device, with its offset (sla/offline.py)
            "made_at": {**text(maxLength=40), "format": "date-time"},
        },
        # a transition's own fields go in payload: a field beside it was dropped without a word
        additionalProperties=False,
    )
)


def transition_args(engine, actor: Actor, case_id: int, body: dict) -> dict[str, Any]:
    """The caller's scope checked, and the body's fields as `engine.transition` takes them."""
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
    made_at = device_time(body["made_at"]) if body.get("made_at") is not None else None
    return {"payload": payload, "reason": reason, "expected_version": version, "made_at": made_at}


def fire_for(
    engine, actor: Actor, case_id: int, code: str, body: dict, uploads: list[Upload]
) -> dict[str, Any]:
    engine.transition(case_id, code, actor, uploads=uploads, **transition_args(engine, actor, case_id, body))
    return case_detail(engine, actor, case_id)


def fire_once(
    engine, actor: Actor, case_id: int, code: str, body: dict, uploads: list[Upload], key: str
) -> tuple[int, str, bool]:
    """A transition sent with an Idempotency-Key: (status, JSON body, whether it is a replay).
    The answer of the key's first request when it has one, else the transition fired with the
    key taken in its transaction, and its answer (the case, or the refusal) kept for retries.
    A request refused before the transition runs (scope, a malformed body) keeps no answer."""
    if not 0 < len(key) <= MAX_KEY:
        raise GridcaseError("invalid_request", f"an idempotency key is 1 to {MAX_KEY} characters")
    files = [(u.kind, hashlib.sha256(u.content).hexdigest()) for u in uploads]
    claim = Claim(scoped(actor.id, key), digest({"case": case_id, "transition": code, **body}, files))
    found = answer_of(engine.db, claim)
    if found is None:
        args = transition_args(engine, actor, case_id, body)
        try:
            engine.transition(case_id, code, actor, uploads=uploads, claim=claim, **args)
        except IntegrityError:  # another request with the key committed first: its answer
            found = answer_of(engine.db, claim)
            if found is None:
                raise
        except GridcaseError as exc:
            refused = error_response(exc.code, exc.message, exc.details)
            answer = bytes(refused.body).decode()
            found = record_refusal(engine.db, claim, case_id, refused.status_code, answer, engine.time.now())
            if found is None:
                return refused.status_code, answer, False
        else:
            answer = dumps(case_detail(engine, actor, case_id))
            record_answer(engine.db, claim, answer)
            return 200, answer, False
    status, kept = found
    if kept is None:  # committed, but its answer was never kept (the server stopped between)
        kept = dumps(case_detail(engine, actor, case_id))
    return status, kept, True


@endpoint(
    "POST",
    "/cases/{case_id}/transitions/{code}",
    "Fire a transition with its fields and evidence; Idempotency-Key honoured",
    params=[
        ("case_id", "path", INTEGER, True),
        ("code", "path", TEXT, True),
        ("Idempotency-Key", "header", KEY, False),
    ],
    body=TRANSITION,
    multipart=True,
    response=CASE_DETAIL,
)
async def fire_transition(request: Request) -> Response:
    actor = await require(request)
    body, uploads = await body_of(request)
    if isinstance(body.get("version"), str):  # digits, from a multipart form (the schema said so)
        body["version"] = int(body["version"])
    engine, case_id, code = _engine(request), _int(request, "case_id"), request.path_params["code"]
    key = request.headers.get("idempotency-key")
    if key is None:
        return ok(await run_in_threadpool(fire_for, engine, actor, case_id, code, body, uploads))
    status, answer, replay = await run_in_threadpool(
        fire_once, engine, actor, case_id, code, body, uploads, key
    )
    headers = {"Idempotent-Replayed": "true"} if replay else {}
    return Response(answer, status_code=status, media_type="application/json", headers=headers)

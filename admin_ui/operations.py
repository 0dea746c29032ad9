"""Running the loop: a queue per role, intake, case detail with the caller's transitions, bulk
actions and evidence. The engine and the JSON API's own functions do the work, so the UI and
the API cannot disagree about scope or rules."""

from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from gridcase.admin_ui.names import class_names, state_names, transition_names
from gridcase.admin_ui.queries import in_states
from gridcase.admin_ui.render import page
from gridcase.admin_ui.views import INTAKE, form_of, ui
from gridcase.core.cases import scope
from gridcase.core.cases.evidence import Upload
from gridcase.core.db.connection import read
from gridcase.core.db.models import Case, Evidence
from gridcase.core.errors import GridcaseError
from gridcase.core.people.actor import Actor
from gridcase.core.web.api_cases import SUMMARY, case_detail, fire_for, light_is, light_of

CASE, EVIDENCE = Case.__table__, Evidence.__table__
QUEUE_PAGE = 50
MAX_UPLOAD = 9


def queue_states(engine, actor: Actor) -> list[str]:
    """The states where the caller can act: their queue (intake, filing, dispatch, inbox, check…)."""
    states: list[str] = []
    for workflow in engine.workflows.values():
        for state in workflow.states:
            if workflow.available(state, actor.roles) and state not in states:
                states.append(state)
    return states


def _queue(engine, actor: Actor, q: dict[str, str]) -> dict[str, Any]:
    now = engine.time.now()
    states = queue_states(engine, actor)
    chosen = [q["state"]] if q.get("state") in states else states
    light = light_of(now)
    # open states are rare among a city's cases and found by their index; a queue that takes in
    # closed cases too (a leader's exposures, an operator's callbacks) finds its page by id order
    closed = {code for w in engine.workflows.values() for code, st in w.states.items() if st.kind != "open"}
    rare = not closed & set(chosen)
    by_state = in_states(engine, chosen) if chosen and rare else CASE.c.state.in_(chosen or ["-"])
    conditions = [by_state, scope.case_filter(engine, actor)]
    if q.get("light") in ("green", "yellow", "red"):
        conditions.append(light_is(now, q["light"]))
    if q.get("class"):
        conditions.append(CASE.c.class_code == q["class"])
    if q.get("grid"):
        conditions.append(CASE.c.grid_path.contains(f"/{q['grid']}/"))
    # the page's ids by the state index first (see queries.in_states), then their details
    order = (CASE.c.id + 0).desc() if rare else CASE.c.id.desc()
    newest = select(CASE.c.id).where(*conditions).order_by(order).limit(QUEUE_PAGE)
    query = (
        select(*SUMMARY, light.label("light"))
        .where(CASE.c.id.in_(newest.scalar_subquery()))
        .order_by(CASE.c.id.desc())
    )
    with read(engine.db) as connection:
        rows = [dict(r) for r in connection.execute(query).mappings()]
    return {"rows": rows, "states": states, "q": q}


@ui()
async def queue(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    data = await run_in_threadpool(_queue, engine, actor, dict(request.query_params))
    context = {
        **data,
        "state_names": state_names(engine),
        "class_names": class_names(engine),
        "transition_names": transition_names(engine),
        "bulk": bulk_transitions(engine, actor, data["states"]),
    }
    return page(request, "queue.html", context, block="rows")


@ui(INTAKE)
async def new_case(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    channels = [
        c for c in engine.profile.get("channels", []) if not c.get("roles") or actor.roles & set(c["roles"])
    ]
    return page(request, "intake.html", {"channels": channels, "classes": class_names(engine)})


def _number(raw: Any, field: str) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise GridcaseError("invalid_report", f"{field} 必须是数字", {"field": field}) from None


async def _form(request: Request) -> tuple[dict[str, Any], list[Upload]]:
    form = await form_of(request, max_fields=60, max_files=MAX_UPLOAD)
    fields: dict[str, Any] = {}
    uploads: list[Upload] = []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            content = await value.read()
            if content:
                uploads.append(Upload(value.filename or "file", content, "photo"))
        else:
            fields.setdefault(name, []).append(value)
    return {k: v[0] if len(v) == 1 else v for k, v in fields.items()}, uploads


@ui(INTAKE)
async def create_case(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    fields, uploads = await _form(request)
    kind, _, code = str(fields.get("category", "")).partition(":")
    report = {
        "channel": fields.get("channel"),
        "point": [_number(fields.get("lon"), "lon"), _number(fields.get("lat"), "lat")],
        "kind": kind or None,
        "category": code or None,
        "description": fields.get("description") or None,
        "address": fields.get("address") or None,
        "urgent": fields.get("urgent") == "on",
    }
    report = {k: v for k, v in report.items() if v is not None}
    result = await run_in_threadpool(
        engine.intake, report, actor, uploads, fields.get("idempotency_key") or None
    )
    request.app.state.ui_cache.clear()
    return Response(status_code=204, headers={"HX-Redirect": f"/ui/cases/{result['case_id']}"})


def _units(engine) -> list[dict[str, Any]]:
    return engine.profile.get("units", [])


@ui()
async def case_page(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    case_id = _path_id(request)
    case = await run_in_threadpool(case_detail, engine, actor, case_id)
    return page(request, "case.html", _case_context(engine, case), block="case")


def _case_context(engine, case: dict[str, Any]) -> dict[str, Any]:
    info = engine.classes.get((case.get("kind"), case.get("class_code"))) or {"minor": {}}
    return {
        "case": case,
        "standards": info["minor"].get("standards", []),
        "channel_names": {c["code"]: c.get("name") for c in engine.profile.get("channels", [])},
        "state_names": state_names(engine),
        "transition_names": transition_names(engine),
        "class_names": class_names(engine),
        "units": _units(engine),
        "unit_names": {u["code"]: u.get("name") for u in _units(engine)},
        "stage_names": {
            s["code"]: s.get("name") for s in engine.profile.get("workflow", {}).get("stages", [])
        },
    }


def _path_id(request: Request, name: str = "case_id") -> int:
    raw = request.path_params[name]
    if not raw.isdigit() or not 0 < int(raw) < 2**31:
        raise GridcaseError("not_found", f"没有 {raw}")
    return int(raw)


def _payload(code: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The transition's fields from a form: units as a list, category as kind and code."""
    payload: dict[str, Any] = {}
    for name, value in fields.items():
        if name in ("csrf_token", "reason", "version", "cases"):
            continue
        if name == "units":
            payload["units"] = value if isinstance(value, list) else [value]
        elif name == "category" and ":" in str(value):
            payload["kind"], payload["category"] = str(value).split(":", 1)
        elif value not in ("", None):
            payload[name] = value
    return payload


@ui()
async def fire(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    case_id, code = _path_id(request), request.path_params["code"]
    fields, uploads = await _form(request)
    body = {"payload": _payload(code, fields), "reason": fields.get("reason") or None}
    if str(fields.get("version", "")).isdigit():
        body["version"] = int(fields["version"])
    case = await run_in_threadpool(fire_for, engine, actor, case_id, code, body, uploads)
    request.app.state.ui_cache.clear()
    return page(request, "case.html", _case_context(engine, case), block="case")


@ui()
async def bulk(request: Request, actor: Actor) -> Response:
    """One transition on several cases; each succeeds or fails on its own, and the page says which."""
    engine = request.app.state.engine
    fields, _ = await _form(request)
    ids = fields.get("cases") or []
    ids = [int(i) for i in (ids if isinstance(ids, list) else [ids]) if str(i).isdigit()]
    code = str(fields.get("transition", ""))
    body = {"payload": _payload(code, fields), "reason": fields.get("reason") or None}

    def run() -> list[tuple[int, str]]:
        results = []
        for case_id in ids[:200]:
            try:
                fire_for(engine, actor, case_id, code, body, [])
                results.append((case_id, "ok"))
            except GridcaseError as exc:
                results.append((case_id, exc.message))
        return results

    results = await run_in_threadpool(run)
    request.app.state.ui_cache.clear()
    return page(request, "bulk.html", {"results": results, "code": code})


@ui()
async def evidence(request: Request, actor: Actor) -> Response:
    """A photo of a case the caller may see in full; served with its stored type, never as HTML."""
    engine = request.app.state.engine
    evidence_id = _path_id(request, "evidence_id")

    def find() -> dict[str, Any]:
        with read(engine.db) as connection:
            row = connection.execute(select(EVIDENCE).where(EVIDENCE.c.id == evidence_id)).mappings().first()
            if row is None or scope.view_of(engine, connection, actor, row["case_id"]) != "full":
                raise GridcaseError("not_found", "没有这个附件")
            return dict(row)

    row = await run_in_threadpool(find)
    content = await run_in_threadpool(engine.evidence.path_of(row["sha256"]).read_bytes)
    return Response(
        content,
        media_type=row["content_type"],
        headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'"},
    )


def bulk_transitions(engine, actor: Actor, states: list[str]) -> list[Any]:
    seen: dict[str, Any] = {}
    for workflow in engine.workflows.values():
        for state in states:
            for t in workflow.available(state, actor.roles):
                if not t.evidence and t.code not in seen:
                    seen[t.code] = t
    return list(seen.values())

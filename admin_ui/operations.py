"""Running the loop: intake, case detail with the caller's transitions, and evidence (the
queues and bulk actions are in queues.py). The engine and the JSON API's own functions do the
work, so the UI and the API cannot disagree about scope or rules."""

from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from gridcase.admin_ui.names import class_names, state_names, transition_names
from gridcase.admin_ui.render import page
from gridcase.admin_ui.views import INTAKE, form_of, ui
from gridcase.core.cases import scope
from gridcase.core.cases.evidence import Upload
from gridcase.core.db.connection import read
from gridcase.core.db.models import Evidence
from gridcase.core.errors import GridcaseError
from gridcase.core.people.actor import Actor
from gridcase.core.web.api_cases import case_detail, fire_for

EVIDENCE = Evidence.__table__
MAX_UPLOAD = 9


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


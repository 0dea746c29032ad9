"""Running the loop: intake, case detail with the caller's transitions, and evidence (the
queues and bulk actions are in queues.py). The engine and the JSON API's own functions do the
work, so the UI and the API cannot disagree about scope or rules."""

import hashlib
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from gridcase.admin_ui.case_view import case_context
from gridcase.admin_ui.names import class_names
from gridcase.admin_ui.render import page
from gridcase.admin_ui.views import INTAKE, form_of, ui
from gridcase.core.cases import scope
from gridcase.core.cases.evidence import Upload
from gridcase.core.cases.idempotency import MAX_KEY, Claim, answer_of, digest, scoped
from gridcase.core.db.connection import read
from gridcase.core.db.models import Evidence
from gridcase.core.durations import Duration
from gridcase.core.errors import GridcaseError
from gridcase.core.people.actor import Actor
from gridcase.core.web.api_cases import case_detail, fire_for, transition_args

EVIDENCE = Evidence.__table__
MAX_UPLOAD = 9
# channels whose reports come from a caller, whose name and phone the intake form asks for
CALLER_KINDS = ("hotline",)
PHONE = re.compile(r"\+?[0-9][0-9 -]{2,38}")


@ui(INTAKE)
async def new_case(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    channels = [
        c for c in engine.profile.get("channels", []) if not c.get("roles") or actor.roles & set(c["roles"])
    ]
    context = {
        "channels": channels,
        "classes": class_names(engine),
        "callers": [c["code"] for c in channels if c.get("kind") in CALLER_KINDS],
        "reply_limits": {c["code"]: _limits(engine, c["starts"]) for c in channels if c.get("starts")},
    }
    return page(request, "intake.html", context)


def _limits(engine, stages: list[str]) -> list[dict[str, Any]]:
    """The time limits of the clocks a channel starts (民生110's reply: 8 hours), as the
    profile's plain rules for those stages say them."""
    names = {s["code"]: s.get("name") for s in engine.profile.get("workflow", {}).get("stages", [])}
    units = {u["code"]: u.get("name") for u in engine.profile.get("time_limits", {}).get("units", [])}
    found = []
    for rule in engine.profile.get("time_limits", {}).get("rules", []):
        limit = Duration.parse(rule.get("limit"))
        plain = not set(rule) & {"kind", "class", "urgent", "area_class", "condition"}
        if rule.get("stage") in stages and plain and limit is not None:
            amount = int(limit.value) if limit.value == int(limit.value) else limit.value
            found.append({"stage": names.get(rule["stage"]), "amount": amount, "unit": units.get(limit.unit)})
    return found


def _number(raw: Any, field: str, name: str) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise GridcaseError("invalid_report", f"{name}必须是数字", {"field": field}) from None


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
        "point": [_number(fields.get("lon"), "lon", "经度"), _number(fields.get("lat"), "lat", "纬度")],
        "kind": kind or None,
        "category": code or None,
        "description": fields.get("description") or None,
        "address": fields.get("address") or None,
        "urgent": fields.get("urgent") == "on",
        "contact": _caller(fields),
    }
    report = {k: v for k, v in report.items() if v is not None}
    result = await run_in_threadpool(
        engine.intake, report, actor, uploads, fields.get("idempotency_key") or None
    )
    request.app.state.ui_cache.clear()
    return Response(status_code=204, headers={"HX-Redirect": f"/ui/cases/{result['case_id']}"})


def _caller(fields: dict[str, Any]) -> dict[str, str | None] | None:
    """A hotline caller's name and phone, kept with the report (its contact, read by staff only
    and masked for some of them, core/cases/scope.py). The name is kept whole, as the caller gave
    it (张先生 as often as a full name), in the family-name field that Chinese names start with."""
    name = str(fields.get("caller_name") or "").strip()
    phone = str(fields.get("caller_phone") or "").strip()
    if phone and not PHONE.fullmatch(phone):
        raise GridcaseError(
            "invalid_report",
            "来电电话只能由数字、空格、“-”和开头的“+”组成（例如 13812345678 或 024-23456789）",
            {"field": "phone"},
        )
    contact = {"last_name": name or None, "phone": phone or None}
    return contact if name or phone else None


@ui()
async def case_page(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    case_id = _path_id(request)
    context = await run_in_threadpool(_case_context, engine, actor, case_id)
    return page(request, "case.html", context, block="case")


@ui()
async def case_print(request: Request, actor: Actor) -> Response:
    """The case on A4: its facts, the timeline with who took each step, the photos."""
    engine = request.app.state.engine
    context = await run_in_threadpool(_case_context, engine, actor, _path_id(request))
    return page(request, "case_print.html", {**context, "printed_at": engine.time.now()})


def _case_context(engine, actor: Actor, case_id: int) -> dict[str, Any]:
    return case_context(engine, case_detail(engine, actor, case_id))


def _path_id(request: Request, name: str = "case_id") -> int:
    raw = request.path_params[name]
    if not raw.isdigit() or not 0 < int(raw) < 2**31:
        raise GridcaseError("not_found", f"没有 {raw}")
    return int(raw)


def _payload(code: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The transition's fields from a form: units as a list, category as kind and code."""
    payload: dict[str, Any] = {}
    for name, value in fields.items():
        if name in ("csrf_token", "reason", "version", "cases", "idempotency_key"):
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
    key = str(fields.get("idempotency_key") or "")[:MAX_KEY] or None
    await run_in_threadpool(_fire_once, engine, actor, case_id, code, body, uploads, key)
    request.app.state.ui_cache.clear()
    context = await run_in_threadpool(_case_context, engine, actor, case_id)
    return page(request, "case.html", context, block="case")


def _fire_once(
    engine, actor: Actor, case_id: int, code: str, body: dict, uploads: list[Upload], key: str | None
) -> None:
    """The transition, fired once for its form: the form sent again (a double click) finds its
    key taken and the case as the first sending left it. Unlike the API's `fire_once` a refusal
    is not kept for the key, so the person may correct the form and send it again."""
    if key is None:
        fire_for(engine, actor, case_id, code, body, uploads)
        return
    files = [(u.kind, hashlib.sha256(u.content).hexdigest()) for u in uploads]
    claim = Claim(scoped(actor.id, key), digest({"case": case_id, "transition": code, **body}, files))
    if answer_of(engine.db, claim) is not None:
        return
    args = transition_args(engine, actor, case_id, body)
    try:
        engine.transition(case_id, code, actor, uploads=uploads, claim=claim, **args)
    except IntegrityError:  # the other sending committed first
        if answer_of(engine.db, claim) is None:
            raise


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

"""The public site, registered like any plugin: pages at /public/ that anyone may use without
logging in (docs/public-site.md).

- Reporting: a photo, a point picked on the map or, without the map (screen readers), a
  community chosen from a list and an address; a class, or only words (the classifier routes it);
  a phone number for SMS, kept as the report's contact and never shown.
- Following: the report's random token (Open311's) is the key to its page: its state, the city's
  public replies, "not fixed" and the satisfaction survey, each within the city's days.
- Public cases: a map and a list with their state and public replies. No contact, no reporter,
  and nothing of where a case of a sensitive class is (taxonomy `sensitive`).

The site acts as the system (`SYSTEM`): whoever holds a report's token speaks for its reporter.
"""

import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import shapely
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gridcase.admin_ui.places import grid_labels
from gridcase.admin_ui.views import ERRORS, FIELDS, UNKNOWN_ERROR, form_of
from gridcase.core.cases import scope
from gridcase.core.cases.evidence import Upload
from gridcase.core.db.connection import read
from gridcase.core.db.models import Case, CaseEvent, Grid, Report
from gridcase.core.errors import GridcaseError
from gridcase.core.hookspecs import hookimpl
from gridcase.core.hotline.orders import SURVEY_ANSWERS, VISIT
from gridcase.core.hotline.settings import CitizenNotices
from gridcase.core.intake.submit import Submission
from gridcase.core.people.actor import SYSTEM, Actor
from gridcase.core.profile.taxonomy import active_classes, label_zh

HERE = Path(__file__).parent
CASE, EVENT, GRID, REPORT = (t.__table__ for t in (Case, CaseEvent, Grid, Report))
PUBLIC_DAYS, PUBLIC_ROWS = 90, 200  # the public list: the last 90 days' cases, at most 200
SATISFACTION = {"satisfied": "满意", "basically": "基本满意", "unsatisfied": "不满意"}
CITIZEN = Actor.of("citizen")  # a report from the site: a citizen's, with no account
MAX_PHOTOS = 3
FORM_KEYS, KEPT_FORMS = "public_forms", 5  # the session's keys of the forms it was given (_new_form_key)
# refusals said in the page's own words: (status, message)
REFUSALS = {
    "rate_limited": (429, "同一网络提交的反映太多了，请 {seconds} 秒后再提交。"),
    "public_form_expired": (403, "页面已过期，请检查填写的内容后重新提交。"),
    "idempotency_key_reused": (409, "这张表单已经提交过了。如需反映另一个问题，请检查内容后重新提交。"),
}

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True),
    extensions=["jinja2.ext.i18n"],
)
# Chinese is the pages' own language; the marks ({{ _("…") }}) are where a catalogue would go
templates.install_null_translations(newstyle=True)  # type: ignore[attr-defined]


def _page(name: str, status: int = 200, **values: Any) -> HTMLResponse:
    return HTMLResponse(templates.get_template(name).render(**values), status_code=status)


def _local(engine, moment) -> str:
    return moment.astimezone(engine.city.timezone).strftime("%Y-%m-%d %H:%M") if moment else ""


def _message(exc: GridcaseError) -> str:
    """The engine's refusal in Chinese, with the field it names."""
    said = ERRORS.get(exc.code, UNKNOWN_ERROR)
    field = (exc.details or {}).get("field")
    return f"{said}：{FIELDS[field]}" if field in FIELDS else said


def _class_name(engine, kind: str, code: str) -> str:
    info = engine.catalogue.classes.get((kind, code))
    return label_zh(info["minor"]["name"]) if info else code


def _state_name(engine, case: dict[str, Any]) -> str:
    return label_zh(engine.catalogue.workflows[case["workflow"]].states[case["state"]].name)


def _shown(engine, case: dict[str, Any]) -> dict[str, Any]:
    """A case as the public sees it (scope.public_view's rule, which Open311 follows too)."""
    view = scope.public_view(engine, case)
    return {
        "number": case["number"],
        "class": _class_name(engine, case["kind"], case["class_code"]),
        "state": _state_name(engine, case),
        "closed": case["state_kind"] == "closed",
        "reported": _local(engine, case["reported_at"]),
        "sensitive": view["sensitive"],
        "description": view["description"],
        "address": view["address"],
        "point": None if view["lon"] is None else [view["lon"], view["lat"]],
    }


def _replies(engine, connection, case_ids: list[int]) -> dict[int, list[dict[str, str]]]:
    """The city's public replies (public_reply's `reply`) by case, oldest first."""
    out: dict[int, list[dict[str, str]]] = {}
    if not case_ids:
        return out
    for row in connection.execute(
        select(EVENT.c.case_id, EVENT.c.at, EVENT.c.payload)
        .where(EVENT.c.case_id.in_(case_ids), EVENT.c.transition == "public_reply")
        .order_by(EVENT.c.id)
    ):
        reply = (row.payload or {}).get("reply")
        if reply:
            out.setdefault(row.case_id, []).append({"at": _local(engine, row.at), "text": str(reply)})
    return out


def _public_cases(engine) -> list[dict[str, Any]]:
    since = engine.time.now() - timedelta(days=PUBLIC_DAYS)
    with read(engine.db) as connection:
        rows = [
            dict(r)
            for r in connection.execute(
                select(CASE)
                .where(
                    CASE.c.reported_at >= since,
                    CASE.c.parent_id.is_(None),
                    scope.publicly_listed(engine),
                )
                .order_by(CASE.c.reported_at.desc())
                .limit(PUBLIC_ROWS)
            ).mappings()
        ]
        replies = _replies(engine, connection, [r["id"] for r in rows])
    return [{**_shown(engine, r), "replies": replies.get(r["id"], [])} for r in rows]


def _classes(engine) -> list[dict[str, str]]:
    return [
        {"value": f"{i['kind']}:{i['minor']['code']}", "name": label_zh(i["minor"]["name"])}
        for i in active_classes(engine.profile)
        if i["minor"].get("published") is not False
    ]


def _communities(engine) -> list[dict[str, Any]]:
    """The grids of the level above the unit grids, by name, each with a point inside it: the
    no-map path places a report there."""
    levels = engine.city.grid_levels
    level = levels[-2] if len(levels) > 1 else levels[0]
    with read(engine.db) as connection:
        labels = grid_labels(connection)
        rows = connection.execute(
            select(GRID.c.code, GRID.c.geometry).where(GRID.c.level == level, GRID.c.active)
        ).all()
    out = []
    for code, geometry in rows:
        point = shapely.from_wkb(geometry).representative_point()
        out.append({"code": code, "name": labels.get(code, code), "point": [point.x, point.y]})
    return sorted(out, key=lambda c: c["name"])


def _site_on(request: Request) -> bool:
    engine = request.app.state.engine
    return engine is not None and engine.city.public.site


def _off() -> HTMLResponse:
    return _page("message.html", 404, title="页面不存在", text="本市没有开放公众网站。")


# -- pages ------------------------------------------------------------------------------


async def home(request: Request) -> Response:
    if not _site_on(request):
        return _off()
    engine = request.app.state.engine
    cases = await run_in_threadpool(_public_cases, engine)
    return _page("home.html", city=engine.city.title_zh, cases=cases, center=engine.city.region.center)


async def cases_json(request: Request) -> Response:
    if not _site_on(request):
        return JSONResponse({"cases": []}, status_code=404)
    cases = await run_in_threadpool(_public_cases, request.app.state.engine)
    return JSONResponse({"cases": [c for c in cases if c["point"]]})


async def report_form(request: Request) -> Response:
    if not _site_on(request):
        return _off()
    return await _form(request, request.url.path.endswith("/address"), {})


async def _form(
    request: Request, by_address: bool, values: dict[str, str], status: int = 200, error: str = ""
) -> Response:
    """The report form, with a new key of its own (`_new_form_key`)."""
    engine = request.app.state.engine
    communities = await run_in_threadpool(_communities, engine) if by_address else []
    return _page(
        "report.html",
        status,
        city=engine.city.title_zh,
        by_address=by_address,
        classes=_classes(engine),
        communities=communities,
        values=values,
        error=error,
        center=engine.city.region.center,
        form_key=_new_form_key(request),
        # the phone's SMS is promised only where the city sends notices to citizens
        sms=CitizenNotices.of(engine.profile) is not None,
    )


def _new_form_key(request: Request) -> str:
    """A key for one rendering of the form, remembered in the browser's session (a few, for a
    few tabs). The submit must bring one back: a page of another site cannot (the session
    cookie is SameSite), and it is the report's idempotency key, so a second submit of the same
    form makes no second report."""
    key = secrets.token_urlsafe(24)
    request.session[FORM_KEYS] = [*request.session.get(FORM_KEYS, [])[-(KEPT_FORMS - 1) :], key]
    return key


async def submit(request: Request) -> Response:
    if not _site_on(request):
        return _off()
    engine = request.app.state.engine
    by_address = request.query_params.get("by") == "address"
    values: dict[str, str] = {}
    try:
        form = await form_of(request, max_fields=20, max_files=MAX_PHOTOS)
        uploads: list[Upload] = []
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                content = await value.read()
                if content:
                    uploads.append(Upload(value.filename or "photo", content, "photo"))
            else:
                values[name] = value.strip()
        key = values.pop("form_key", "")
        if not key or key not in request.session.get(FORM_KEYS, []):
            raise GridcaseError("public_form_expired", "the form's key is not this browser's")
        report = await run_in_threadpool(_report_of, engine, values, by_address)
        # the JSON API's and Open311's path: written with the reports that arrive together, and
        # counted against the limit of the address it came from (core/intake/quota.py)
        address = request.client.host if request.client else "-"
        quota = request.app.state.limits["intake"].of(f"address:{address}")
        submission = Submission(report, CITIZEN, tuple(uploads), f"public:{key}", quota)
        result = await request.app.state.intake(submission)
    except GridcaseError as exc:
        status, error = REFUSALS.get(exc.code, (422, ""))
        if exc.code == "rate_limited":
            error = error.format(seconds=(exc.details or {}).get("retry_after", 60))
        error = error or (exc.message if exc.code == "public_form" else _message(exc))
        return await _form(request, by_address, values, status, error)
    return RedirectResponse(f"/public/follow/{result['token']}?new=1", status_code=303)


def _refuse(message: str) -> GridcaseError:
    return GridcaseError("public_form", message)


def _report_of(engine, values: dict[str, str], by_address: bool) -> dict[str, Any]:
    """The intake report of the site's form, or a refusal that names the field in Chinese."""
    if by_address:
        place = next((c for c in _communities(engine) if c["code"] == values.get("community")), None)
        if place is None:
            raise _refuse("请选择问题所在的社区")
        if not values.get("address"):
            raise _refuse("请填写详细地址，例如路名和门牌号")
        point = place["point"]
    else:
        try:
            point = [float(values["lon"]), float(values["lat"])]
        except (KeyError, ValueError):
            raise _refuse("请在地图上点选问题的位置，或改用“不用地图，按地址反映”") from None
    kind, _, code = (values.get("category") or "").partition(":")
    if not code and not values.get("description"):
        raise _refuse("请选择问题类别，或用文字描述问题")
    phone = values.get("phone") or None
    if phone and not (phone.isdigit() and 7 <= len(phone) <= 15):
        raise _refuse("手机号码只能是 7 到 15 位数字")
    report: dict[str, Any] = {
        "channel": engine.city.public.channel,
        "point": point,
        "description": values.get("description") or None,
        "address": values.get("address") or None,
        "contact": {"phone": phone} if phone else None,
    }
    if code:
        report.update(category=code, kind=kind)
    return {k: v for k, v in report.items() if v is not None}


# -- following a report -------------------------------------------------------------------


def _followed(engine, token: str) -> dict[str, Any] | None:
    """The case a token's report belongs to, with its public steps and what its reporter may do."""
    with read(engine.db) as connection:
        case = (
            connection.execute(
                select(CASE).join(REPORT, REPORT.c.case_id == CASE.c.id).where(REPORT.c.token == token)
            )
            .mappings()
            .first()
        )
        if case is None:
            return None
        events = connection.execute(
            select(EVENT.c.transition, EVENT.c.to_state, EVENT.c.at, EVENT.c.payload)
            .where(EVENT.c.case_id == case["id"])
            .order_by(EVENT.c.id)
        ).all()
        replies = _replies(engine, connection, [case["id"]]).get(case["id"], [])
    workflow = engine.catalogue.workflows[case["workflow"]]
    steps, last = [], None
    for event in events:  # the states it went through, as the public names them
        if event.to_state != last:
            steps.append(
                {"at": _local(engine, event.at), "state": label_zh(workflow.states[event.to_state].name)}
            )
            last = event.to_state
    now, closed_at, public = engine.time.now(), case["closed_at"], engine.city.public
    # each offered where the workflow takes it from the case's state, whatever the other's
    # existence; never for a case the city turned away (scope.voided_states)
    ended = (
        case["state_kind"] == "closed"
        and closed_at is not None
        and case["state"] not in scope.voided_states(workflow)
    )
    takes = {
        code: ended and code in workflow.transitions and case["state"] in workflow.transitions[code].sources
        for code in ("reopen", "survey")
    }
    # the closing's answer: the reporter's survey, or the 12345 platform's 回访 if it came first
    answers = [
        e.transition for e in events if e.transition in SURVEY_ANSWERS and closed_at and e.at >= closed_at
    ]
    survey = [e.payload.get("satisfaction") for e in events if e.transition == "survey"]
    return {
        "id": case["id"],
        "case": {
            **_shown(engine, dict(case)),
            "description": case["description"],
            "address": case["address"],
        },
        "steps": steps,
        "replies": replies,
        "can_reopen": takes["reopen"]
        and public.reopen_days is not None
        and now <= closed_at + timedelta(days=public.reopen_days),
        "reopen_until": _local(engine, closed_at + timedelta(days=public.reopen_days))
        if takes["reopen"] and public.reopen_days
        else "",
        "can_survey": takes["survey"]
        and not answers
        and public.survey_days is not None
        and now <= closed_at + timedelta(days=public.survey_days),
        "answered": SATISFACTION.get(survey[-1] or "", "") if survey else "",
        "visited": answers[:1] == [VISIT],
    }


async def follow_lookup(request: Request) -> Response:
    if not _site_on(request):
        return _off()
    token = (request.query_params.get("token") or "").strip()
    if token:
        return RedirectResponse(f"/public/follow/{token}", status_code=303)
    return _page("lookup.html", city=request.app.state.engine.city.title_zh)


async def follow(request: Request, notice: str = "", error: str = "", status: int = 200) -> Response:
    if not _site_on(request):
        return _off()
    engine = request.app.state.engine
    token = request.path_params["token"]
    found = await run_in_threadpool(_followed, engine, token)
    if found is None:
        return _page("lookup.html", 404, city=engine.city.title_zh, error="没有找到这个查询码，请核对后再试")
    if request.query_params.get("new") and not notice:
        notice = "已收到你的反映。请记下查询码，用它查看办理进度。"
    return _page(
        "follow.html",
        status,
        city=engine.city.title_zh,
        token=token,
        satisfaction=SATISFACTION,
        notice=notice,
        error=error,
        **found,
    )


async def reopen(request: Request) -> Response:
    return await _act(request, "reopen")


async def survey(request: Request) -> Response:
    return await _act(request, "survey")


async def _act(request: Request, code: str) -> Response:
    """ "Not fixed" or the survey, fired for the token's reporter; a refusal is said on the page."""
    if not _site_on(request):
        return _off()
    engine = request.app.state.engine
    found = await run_in_threadpool(_followed, engine, request.path_params["token"])
    if found is None:
        return _page("lookup.html", 404, city=engine.city.title_zh, error="没有找到这个查询码，请核对后再试")
    try:
        form = await form_of(request, max_fields=5)
        values = {k: v.strip() for k, v in form.items() if isinstance(v, str)}
        if code == "reopen":
            if not values.get("reason"):
                raise _refuse("请说明哪里还没有解决")
            await run_in_threadpool(engine.transition, found["id"], "reopen", SYSTEM, None, values["reason"])
            done = "已重新交办，我们会派人到现场核查。"
        else:
            if values.get("satisfaction") not in SATISFACTION:
                raise _refuse("请选择满意程度")
            payload = {"satisfaction": values["satisfaction"]}
            if values.get("comment"):
                payload["comment"] = values["comment"]
            await run_in_threadpool(engine.transition, found["id"], "survey", SYSTEM, payload)
            done = "感谢你的评价。"
    except GridcaseError as exc:
        error = exc.message if exc.code == "public_form" else _message(exc)
        return await follow(request, error=error, status=422)
    return await follow(request, notice=done)


@hookimpl
def register_routes() -> list:
    get, post = ["GET"], ["POST"]
    return [
        Mount(
            "/public/static",
            app=StaticFiles(directory=HERE / "static", check_dir=False),
            name="public_static",
        ),
        Route("/public/", home, methods=get),
        Route("/public/cases.json", cases_json, methods=get),
        Route("/public/report", report_form, methods=get),
        Route("/public/report/address", report_form, methods=get),
        Route("/public/report", submit, methods=post),
        Route("/public/follow", follow_lookup, methods=get),
        Route("/public/follow/{token}", follow, methods=get),
        Route("/public/follow/{token}/reopen", reopen, methods=post),
        Route("/public/follow/{token}/survey", survey, methods=post),
    ]

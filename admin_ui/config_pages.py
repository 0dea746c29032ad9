"""Configuration pages: units (with classes and command relations) and people (with roles);
time limits and calendars, with holiday overrides; assessment weights; and the workflow drawn
as a state diagram from the profile."""

import logging
import re
from collections.abc import Callable
from datetime import date
from functools import partial
from typing import Any

from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from gridcase.admin_ui import workflow_diagram
from gridcase.admin_ui.names import duration_code, time_unit_names
from gridcase.admin_ui.places import grid_labels
from gridcase.admin_ui.render import CATALOGUES, language_of, page
from gridcase.admin_ui.views import ADMIN, N_, WEIGHTS, WORKFLOW, text_form_of, ui
from gridcase.core.db.connection import read
from gridcase.core.db.models import Grid, Person, Responsibility, Unit
from gridcase.core.errors import GridcaseError
from gridcase.core.people import administration, throttle
from gridcase.core.people import roster as people
from gridcase.core.people.accounts import generate_password
from gridcase.core.people.actor import Actor
from gridcase.core.people.roster import PersonData
from gridcase.core.places.units import check_person, set_unit_class
from gridcase.core.profile import setting_changes
from gridcase.core.profile.taxonomy import KINDS, active_edition
from gridcase.core.sla import overrides as calendar_overrides

PERSON, RESPONSIBILITY, UNIT, GRID = (t.__table__ for t in (Person, Responsibility, Unit, Grid))
# a list of grids as an administrator types it: codes or names (which hold spaces), separated as
# Chinese text separates them
GRID_SEPARATORS_TYPED = re.compile(r"[,，、;；\n]+")
# an account change's refusal, in the page's words (the core's messages are for the command line)
ACCOUNT_ERRORS = {
    "not_found": N_("没有这个人员"),
    "inactive": N_("该人员已停用，不能分配网格；请先启用"),
    "weak_password": N_("密码至少要 10 个字符"),
}

log = logging.getLogger("gridcase.admin")


def _units_and_people(engine) -> dict[str, Any]:
    with read(engine.db) as connection:
        units = [dict(r) for r in connection.execute(select(UNIT).order_by(UNIT.c.path)).mappings()]
        people = [dict(r) for r in connection.execute(select(PERSON).order_by(PERSON.c.username)).mappings()]
        grids: dict[int, list[str]] = {}
        for person_id, grid in connection.execute(select(RESPONSIBILITY.c.person_id, RESPONSIBILITY.c.grid)):
            grids.setdefault(person_id, []).append(grid)
        names = grid_labels(connection)
        # the grids a person may be given: the active ones, coarsest level first
        choices = [
            {**r, "name": names.get(r["code"])}
            for r in connection.execute(
                select(GRID.c.code, GRID.c.level)
                .where(GRID.c.active)
                .order_by(func.length(GRID.c.path), GRID.c.code)
            ).mappings()
        ]
    for person in people:
        person.pop("password_hash", None)
        person["grids"] = [(g, names.get(g)) for g in sorted(grids.get(person["id"], []))]
    return {"units": units, "people": people, "grid_choices": choices, "grid_names": names}


def _units_page(engine) -> dict[str, Any]:
    now = engine.time.now()
    throttles = throttle.listing(engine.db, now)
    return {
        **_units_and_people(engine),
        "throttles": throttles,
        "locked": {t.username: t.failures for t in throttles if t.username is not None},
        "now": now,
        "tz": engine.city.timezone,
        "classes": sorted({u.get("class") for u in engine.profile.get("units", []) if u.get("class")}),
        "roles": {r["code"]: r.get("name") for r in engine.profile.get("roles", [])},
        "grid_levels": {lvl["code"]: lvl.get("name") for lvl in engine.profile.get("grid_levels", [])},
        "profile_units": {u["code"]: u for u in engine.profile.get("units", [])},
        "unit_kinds": {k["code"]: k.get("name") for k in engine.profile.get("unit_kinds", [])},
        "changes": administration.history(engine.db),
    }


@ui(ADMIN)
async def units(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    return page(request, "config_units.html", await run_in_threadpool(_units_page, engine))


@ui(ADMIN)
async def unit_class(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    form = dict((await text_form_of(request, max_fields=10)).items())
    code = request.path_params["code"]
    await run_in_threadpool(set_unit_class, engine.db, code, form.get("class") or None, engine.time.now())
    return Response(status_code=204, headers={"HX-Refresh": "true"})


@ui(ADMIN)
async def save_person(request: Request, actor: Actor) -> Response:
    """Change a person's roles, unit and whether they may log in; recorded in the audit log."""
    engine = request.app.state.engine
    form = await text_form_of(request, max_fields=60)
    roles, unit = form.getlist("roles"), form.get("unit") or None
    check_person(engine.profile, roles, unit)
    username = request.path_params["username"]
    if username == actor.username and ("admin" not in roles or form.get("active") != "on"):
        raise GridcaseError("invalid_role", "你不能去掉自己的管理员角色，也不能停用自己")
    values = {"roles": roles, "unit": unit, "active": form.get("active") == "on"}
    await _account(request, actor, administration.change, username, values)
    return Response(status_code=204, headers={"HX-Refresh": "true"})


async def _account(
    request: Request, actor: Actor, change: Callable[..., Any], username: str, *args: Any, **kw: Any
) -> Any:
    """Run an account change as `actor`, now, with the form's reason; its refusal in the page's words."""
    engine = request.app.state.engine
    by = actor.username or str(actor.id)
    try:
        return await run_in_threadpool(
            partial(change, engine.db, username, *args, by, engine.time.now(), **kw)
        )
    except GridcaseError as exc:
        if exc.code in ACCOUNT_ERRORS:
            message = _translate(request, ACCOUNT_ERRORS[exc.code])
            raise GridcaseError(exc.code, f"{message}: {username}", exc.details) from None
        raise


def _translate(request: Request, message: str) -> str:
    return CATALOGUES[language_of(request)].gettext(message)


def _grid_codes(engine, typed: str) -> list[str]:
    """The grids an administrator typed, by code or by name; a name two grids share must be
    typed as a code, and one that names no grid is refused, naming it."""
    items = [item.strip() for item in GRID_SEPARATORS_TYPED.split(typed) if item.strip()]
    with read(engine.db) as connection:
        labels = grid_labels(connection)
    codes = set(labels)
    by_name: dict[str, list[str]] = {}
    for code, name in labels.items():
        by_name.setdefault(name, []).append(code)
    found = []
    for item in items:
        if item in codes:
            found.append(item)
        elif len(by_name.get(item, [])) == 1:
            found.append(by_name[item][0])
        elif item in by_name:
            raise GridcaseError(
                "invalid_grid", f"有 {len(by_name[item])} 个网格叫“{item}”，请填写代码", {"field": "grids"}
            )
        else:
            raise GridcaseError("invalid_grid", f"没有网格“{item}”", {"field": "grids"})
    return found


@ui(ADMIN)
async def person_grids(request: Request, actor: Actor) -> Response:
    """Give a person their responsibility grids (a supervisor's, a grid worker's)."""
    engine = request.app.state.engine
    form = dict((await text_form_of(request, max_fields=10)).items())
    codes = await run_in_threadpool(_grid_codes, engine, form.get("grids", ""))
    username = request.path_params["username"]
    await _account(
        request, actor, administration.assign_grids, username, codes, reason=form.get("reason", "")
    )
    return await _person_result(request, _translate(request, N_("已保存责任网格")), username)


@ui(ADMIN)
async def person_password(request: Request, actor: Actor) -> Response:
    """A new password for a person: the temporary one typed, or a generated one, shown once."""
    form = dict((await text_form_of(request, max_fields=10)).items())
    username = request.path_params["username"]
    password = await _account(
        request,
        actor,
        administration.reset_password,
        username,
        password=form.get("password") or None,
        reason=form.get("reason", ""),
    )
    return await _person_result(request, _translate(request, N_("已重置密码")), username, password)


@ui(ADMIN)
async def person_unlock(request: Request, actor: Actor) -> Response:
    """Forget a person's failed logins, so they can log in again at once."""
    form = dict((await text_form_of(request, max_fields=10)).items())
    username = request.path_params["username"]
    await _account(request, actor, administration.unlock, username, reason=form.get("reason", ""))
    return await _person_result(request, _translate(request, N_("已解锁")), username)


@ui(ADMIN)
async def person_active(request: Request, actor: Actor) -> Response:
    """Deactivate a person (no login, no grids, no cases) or reactivate them."""
    form = dict((await text_form_of(request, max_fields=10)).items())
    username = request.path_params["username"]
    active = form.get("active") == "yes"
    if username == actor.username and not active:
        raise GridcaseError("invalid_request", "你不能停用自己")
    await _account(request, actor, administration.set_active, username, active, reason=form.get("reason", ""))
    done = N_("已启用") if active else N_("已停用")
    return await _person_result(request, _translate(request, done), username)


async def _person_result(request: Request, done: str, username: str, password: str | None = None) -> Response:
    """The people's block again, with what was done above it (a password only this once)."""
    engine = request.app.state.engine
    request.app.state.ui_cache.clear()
    context = {
        **await run_in_threadpool(_units_page, engine),
        "done": done,
        "done_for": username,
        "password": password,
    }
    return page(request, "config_units.html", context, block="people")


@ui(ADMIN)
async def add_person_page(request: Request, actor: Actor) -> Response:
    """A new person with a generated password, shown once."""
    engine = request.app.state.engine
    form = await text_form_of(request, max_fields=60)
    username, roles, unit = form.get("username", "").strip(), form.getlist("roles"), form.get("unit") or None
    if not username:
        raise GridcaseError("invalid_request", "用户名不能为空", {"field": "username"})
    check_person(engine.profile, roles, unit)
    password = generate_password()

    person = PersonData(username, form.get("name") or username, roles, unit)
    await run_in_threadpool(partial(people.add, temporary=True), engine.db, engine.profile, person, password)
    context = {**await run_in_threadpool(_units_page, engine), "added": username, "password": password}
    return page(request, "config_units.html", context, block="added")


def _calendar(engine) -> dict[str, Any]:
    """The overrides block: the overrides, and how far ahead each calendar is confirmed."""
    return {
        "limits": engine.profile.get("time_limits", {}),
        "overrides": calendar_overrides.listed(engine.db),
        "readiness": engine.limits.deadlines.readiness(engine.time.now()),
    }


def _rule_classes(profile: dict[str, Any], rule: dict[str, Any]) -> list[tuple[str, Any]]:
    """The (level, name) of the classes a rule's `class` matches: a major or a minor class, of
    the rule's kind when it names one (0101 is a component and an event)."""
    edition = active_edition(profile)
    found = []
    for kind in [rule["kind"]] if "kind" in rule else KINDS:
        for major in edition.get(kind, []):
            if major.get("code") == rule["class"]:
                found.append((N_("大类"), major.get("name")))
            found += [
                (N_("小类"), m.get("name")) for m in major.get("minors", []) if m.get("code") == rule["class"]
            ]
    return found or [(N_("类别"), rule["class"])]


def _limits_page(engine) -> dict[str, Any]:
    profile = engine.profile
    rules = profile.get("time_limits", {}).get("rules", [])
    return {
        **_calendar(engine),
        "history": _settings_history(engine, "rule"),
        "stage_names": {s["code"]: s.get("name") for s in profile.get("workflow", {}).get("stages", [])},
        "rule_classes": {r["code"]: _rule_classes(profile, r) for r in rules if "class" in r},
        "area_names": {a["code"]: a.get("name") for a in profile.get("area_classes", [])},
    }


def _settings_history(engine, kind: str) -> list[dict[str, Any]]:
    return [c for c in reversed(setting_changes.load(engine.db)) if c["kind"] == kind]


@ui(ADMIN)
async def time_limits(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    return page(request, "config_time_limits.html", await run_in_threadpool(_limits_page, engine))


def _record_setting(
    engine, actor: Actor, kind: str, code: str, fields: dict, reason: str, reverts=None
) -> None:
    by = actor.username or str(actor.id)
    guards = set(engine.guards)
    setting_changes.record(
        engine.db, engine.profile, guards, kind, code, fields, reason, by, engine.time.now(), reverts
    )
    engine.refresh_settings()


@ui(ADMIN)
async def save_rule(request: Request, actor: Actor) -> Response:
    """A time-limit rule's limit: clocks started from now on count with it."""
    engine = request.app.state.engine
    form = dict((await text_form_of(request, max_fields=10)).items())
    code = request.path_params["code"]
    await run_in_threadpool(
        _record_setting,
        engine,
        actor,
        "rule",
        code,
        {"limit": duration_code(form.get("limit", ""), time_unit_names(engine))},
        form.get("reason", ""),
    )
    return page(
        request, "config_time_limits.html", await run_in_threadpool(_limits_page, engine), block="rules"
    )


def _weight(raw: str) -> Any:
    try:
        return float(raw)
    except ValueError:
        return raw  # the schema says what is wrong with it, where


@ui(WEIGHTS)
async def save_composite(request: Request, actor: Actor) -> Response:
    """A composite's weights; assessments run from now on score with them."""
    engine = request.app.state.engine
    if "admin" not in actor.roles:
        raise GridcaseError("forbidden", "只有管理员可以修改权重")
    form = dict((await text_form_of(request, max_fields=100)).items())
    code = request.path_params["code"]
    composite = next(
        (c for c in engine.profile.get("assessment", {}).get("composites", []) if c["code"] == code), None
    )
    if composite is None:
        raise GridcaseError("not_found", f"没有综合评价 {code}")
    terms = [
        {**term, "weight": _weight(form[f"weight-{term['code']}"])}
        if f"weight-{term['code']}" in form
        else term
        for term in composite.get("terms", [])
    ]
    await run_in_threadpool(
        _record_setting, engine, actor, "composite", code, {"terms": terms}, form.get("reason", "")
    )
    request.app.state.ui_cache.clear()
    return await assessment(request)


@ui(ADMIN)
async def revert_setting(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    change_id = request.path_params["change_id"]
    history = await run_in_threadpool(setting_changes.load, engine.db)
    change = next((c for c in history if str(c["id"]) == change_id), None)
    if change is None:
        raise GridcaseError("not_found", f"没有修改记录 {change_id}")
    reason = f"撤销修改 #{change['id']}"
    kind, code = change["kind"], change["code"]
    await run_in_threadpool(
        _record_setting, engine, actor, kind, code, change["previous"], reason, change["id"]
    )
    request.app.state.ui_cache.clear()
    return Response(status_code=204, headers={"HX-Refresh": "true"})


@ui(ADMIN)
async def calendar_day(request: Request, actor: Actor) -> Response:
    """Add or remove a working-day override (调休, an extra holiday), or confirm a year whose days
    are entered; clocks started later use it, and provisional deadlines are counted again."""
    engine = request.app.state.engine
    form = dict((await text_form_of(request, max_fields=10)).items())
    calendar = form.get("calendar", "")
    if form.get("action") == "confirm":
        year = form.get("year", "")
        if not (year.isdigit() and 2000 <= int(year) <= 2200):
            raise GridcaseError("invalid_request", "年份格式为 YYYY", {"field": "year"})
        await run_in_threadpool(
            calendar_overrides.confirm_year, engine.db, int(year), engine.time.now(), calendar,
            form.get("reason") or None, actor.username,
        )  # fmt: skip
        return await _calendar_block(request, engine)
    try:
        day = date.fromisoformat(form.get("day", ""))
    except ValueError:
        raise GridcaseError("invalid_request", "日期格式为 YYYY-MM-DD", {"field": "day"}) from None
    if form.get("action") == "remove":
        await run_in_threadpool(calendar_overrides.remove_override, engine.db, day, calendar)
    else:
        await run_in_threadpool(
            calendar_overrides.set_override, engine.db, day, form.get("working") == "yes", engine.time.now(),
            calendar, form.get("reason") or None, actor.username,
        )  # fmt: skip
    return await _calendar_block(request, engine)


async def _calendar_block(request: Request, engine) -> Response:
    # the next sweep counts provisional deadlines again on the changed calendar
    await run_in_threadpool(engine.limits.refresh_calendars)
    context = await run_in_threadpool(_calendar, engine)
    return page(request, "config_time_limits.html", context, block="overrides")


@ui(WEIGHTS)
async def assessment(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    spec = engine.profile.get("assessment", {})
    history = await run_in_threadpool(_settings_history, engine, "composite")
    return page(request, "config_assessment.html", {"spec": spec, "history": history})


@ui(WORKFLOW)
async def workflow(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    specs = engine.profile.get("workflow", {}).get("workflows", [])
    language = language_of(request)
    roles = {r["code"]: r.get("name") for r in engine.profile.get("roles", [])}
    graphs = [workflow_diagram.graph(spec, language, roles) for spec in specs]
    return page(request, "config_workflow.html", {"workflows": specs, "graphs": graphs})


# the senders a notice goes through (core/notify's channels), as the page names them
NOTICE_CHANNELS = {
    "log": N_("系统日志"),
    "sms": N_("短信"),
    "web": N_("站内通知"),
    "hotline": N_("12345热线"),
    "webhook": N_("接口推送"),
}


def outbox_of(db: Any, status: str | None, channel: str | None, limit: int) -> dict[str, Any]:
    """The outbox's listing, with the channels the page names first."""
    from gridcase.core.notify.outbox import outbox_listing

    listing = outbox_listing(db, status, limit, channel)
    return {**listing, "channels": sorted(listing["channels"], key=lambda c: (c not in NOTICE_CHANNELS, c))}


@ui(ADMIN)
async def outbox(request: Request, actor: Actor) -> Response:
    """The notices: how many wait, were sent or failed, the newest with their last error, of
    every channel or of one, and how long delivered ones are kept."""
    from gridcase.core.notify.outbox import STATUSES

    engine = request.app.state.engine
    status = request.query_params.get("status") or None
    if status is not None and status not in STATUSES:
        raise GridcaseError(
            "invalid_request", "状态只能是待发送、发送中、已发送或发送失败", {"field": "status"}
        )
    channel = request.query_params.get("channel") or None
    if channel is not None and (len(channel) > 40 or not re.fullmatch(r"[A-Za-z0-9_.:-]+", channel)):
        raise GridcaseError(
            "invalid_request", "渠道写得不对：应是发送渠道的代码，例如 hotline 或 sms", {"field": "channel"}
        )
    listing = await run_in_threadpool(outbox_of, engine.db, status, channel, 100)
    retention = request.app.state.retention
    context = {
        "listing": listing,
        "status": status,
        "channel": channel,
        "tz": engine.city.timezone,
        "keep_days": retention.notices.days,
        "unit_names": {u["code"]: u.get("name") for u in engine.profile.get("units", [])},
        "channel_names": NOTICE_CHANNELS,
    }
    return page(request, "config_outbox.html", context)


@ui(ADMIN)
async def unthrottle(request: Request, actor: Actor) -> Response:
    """Clear a login throttle (an address's failures, or a name's from an address): the person
    who locked themselves out, or a colleague behind the same office address, may try again."""
    engine = request.app.state.engine
    form = dict((await text_form_of(request, max_fields=10)).items())
    address, username = form.get("address") or None, form.get("username") or None
    cleared = await run_in_threadpool(throttle.clear, engine.db, address, username)
    log.info(
        "login throttle cleared",
        extra={
            "fields": {"by": actor.username, "address": address, "username": username, "failures": cleared}
        },
    )
    return Response(status_code=204, headers={"HX-Refresh": "true"})

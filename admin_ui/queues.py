"""Work queues: each person's to-do list, the cases where one of their roles has a step, the
overdue first and then by deadline; paged with a total, searched and filtered, acted on in bulk
and exported as a workbook. The queries are in queries.py; the engine fires every transition, so
a bulk action is exactly the same steps taken one case at a time."""

import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

import xlsxwriter
from sqlalchemy import Connection, func, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import Response

from gridcase.admin_ui.names import class_names, state_names, transition_names
from gridcase.admin_ui.places import grid_labels
from gridcase.admin_ui.queries import (
    by_deadline,
    in_queue,
    matching,
    nearest_deadline,
    queue_states,
)
from gridcase.admin_ui.render import CATALOGUES, label, language_of, page
from gridcase.admin_ui.views import N_, explain, form_of, ui
from gridcase.core.cases import scope
from gridcase.core.db.connection import read
from gridcase.core.db.models import Case, CaseUnit, Grid
from gridcase.core.errors import GridcaseError
from gridcase.core.people.actor import Actor
from gridcase.core.text import clean_text
from gridcase.core.web.api_cases import SUMMARY, fire_for, light_is, light_of

CASE, CASE_UNIT, GRID = Case.__table__, CaseUnit.__table__, Grid.__table__
PAGE = 50
# a queue this short is read whole and ordered here; a longer one by walking the running
# clocks in deadline order
FEW = 2_000
MAX_EXPORT = 10_000  # rows in one workbook: a queue longer than that is narrowed by its filters first
MAX_BULK = 200
LIGHTS = {"green": N_("正常"), "yellow": N_("将到期"), "red": N_("已超期")}
# the fields a bulk action fills from each case itself; a transition that needs others (an
# extension's amount, a callback's satisfaction) is decided case by case, on the case's page
FROM_THE_CASE = {"units", "category"}
FILTERS = ("state", "light", "class", "unit", "grid", "channel", "from", "to", "q")
COLUMNS = (N_("案件号"), N_("灯"), N_("环节"), N_("小类"), N_("渠道"), N_("网格"), N_("责任单位"), N_("地址"),
           N_("问题描述"), N_("上报时间"), N_("处置时限"))  # fmt: skip


@dataclass
class Filters:
    """A queue's filters as the page's form sends them, checked: `shown` keeps the values for
    the form and the links, the rest is what the query needs."""

    shown: dict[str, str] = field(default_factory=dict)
    page: int = 1
    states: dict[str, list[str]] = field(default_factory=dict)
    units: frozenset[str] | None = None
    since: datetime | None = None
    before: datetime | None = None

    def link(self, **changes: Any) -> str:
        """The query string of this queue with `changes` (a page, say)."""
        values = {**self.shown, "page": str(self.page), **{k: str(v) for k, v in changes.items()}}
        return urlencode({k: v for k, v in values.items() if v and not (k == "page" and v == "1")})


def _invalid(message: str, name: str) -> GridcaseError:
    return GridcaseError("invalid_request", message, {"field": name})


def _day(raw: str, name: str, what: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise _invalid(f"{what}“{raw}”无法识别：请写作 年-月-日，如 2026-10-01", name) from None


def read_filters(engine, connection: Connection, actor: Actor, params: ImmutableMultiDict) -> Filters:
    """The queue's filters from the query string; a value the form could not have sent is
    refused with a message naming the filter."""
    shown = {k: clean_text(params[k]).strip()[:100] for k in FILTERS if params.get(k)}
    shown = {k: v for k, v in shown.items() if v}
    mine = queue_states(engine, actor)
    found = Filters(shown, states=mine)
    if "state" in shown:
        chosen = {w: [s for s in states if s == shown["state"]] for w, states in mine.items()}
        found.states = {w: states for w, states in chosen.items() if states}
        if not found.states:
            raise _invalid(f"你的待办中没有环节“{shown['state']}”", "state")
    if shown.get("light", "green") not in LIGHTS:
        raise _invalid("灯只能选 正常、将到期 或 已超期", "light")
    if "class" in shown and shown["class"] not in class_names(engine):
        raise _invalid(f"没有这个小类（{shown['class']}），请从列表中选择小类", "class")
    if "channel" in shown and shown["channel"] not in {c["code"] for c in engine.profile.get("channels", [])}:
        raise _invalid(f"没有这个渠道（{shown['channel']}），请从列表中选择渠道", "channel")
    if "unit" in shown:
        found.units = engine.places.subtree(shown["unit"], connection)
        if not found.units:
            raise _invalid(f"没有这个单位（{shown['unit']}），请从列表中选择单位", "unit")
    if "grid" in shown:
        code = connection.execute(
            select(GRID.c.code)
            .where((GRID.c.code == shown["grid"]) | (GRID.c.name == shown["grid"]))
            .limit(1)
        ).scalar()
        if code is None:
            raise _invalid(f"没有网格“{shown['grid']}”：请填网格编码或名称", "grid")
        shown["grid"] = code
    zone = engine.city.timezone
    start = _day(shown["from"], "from", "开始日期") if "from" in shown else None
    end = _day(shown["to"], "to", "结束日期") if "to" in shown else None
    if start and end and start > end:
        raise _invalid("开始日期晚于结束日期", "from")
    # a day is the city's day: from its midnight to the next, in the profile's time zone
    found.since = datetime.combine(start, time(), zone) if start else None
    found.before = datetime.combine(end + timedelta(days=1), time(), zone) if end else None
    raw_page = params.get("page", "1")
    if not raw_page.isdigit() or not 0 < int(raw_page) < 100_000:
        raise _invalid(f"页码“{raw_page[:20]}”不对：请写正整数", "page")
    found.page = int(raw_page)
    return found


def _conditions(engine, actor: Actor, f: Filters, now: datetime) -> list[Any]:
    conditions = [in_queue(engine, f.states), scope.case_filter(engine, actor, few=True)]
    shown = f.shown
    if "light" in shown:
        conditions.append(light_is(now, shown["light"]))
    if "class" in shown:
        kind, _, code = shown["class"].partition(":")
        # open, as every case on a queue is: the index on (class, open or closed) then finds
        # the class's open cases alone, not all it ever had
        conditions += [CASE.c.kind == kind, CASE.c.class_code == code, CASE.c.state_kind == "open"]
    if "channel" in shown:
        conditions.append(CASE.c.channel == shown["channel"])
    if "grid" in shown:
        conditions.append(CASE.c.grid_path.contains(f"/{shown['grid']}/", autoescape=True))
    if f.units is not None:
        conditions.append(scope.handled_by(f.units, few=True))
    if f.since is not None:
        conditions.append(CASE.c.reported_at >= f.since)
    if f.before is not None:
        conditions.append(CASE.c.reported_at < f.before)
    if "q" in shown:
        conditions.append(matching(shown["q"], scope.reads_contacts(engine, actor)))
    return conditions


def _rows(connection: Connection, ids: list[int], now: datetime) -> list[dict[str, Any]]:
    """The cases of `ids` in that order, with their light, deadline, responsible units and the
    name of their grid."""
    if not ids:
        return []
    query = select(
        *SUMMARY,
        CASE.c.description,
        light_of(now).label("light"),
        nearest_deadline().label("deadline"),
    ).where(CASE.c.id.in_(ids))
    found = {r["id"]: dict(r, units=[]) for r in connection.execute(query).mappings()}
    units = select(CASE_UNIT.c.case_id, CASE_UNIT.c.unit).where(
        CASE_UNIT.c.case_id.in_(ids), CASE_UNIT.c.active, CASE_UNIT.c.role == "responsible"
    )
    for case_id, unit in connection.execute(units.order_by(CASE_UNIT.c.share.desc(), CASE_UNIT.c.id)):
        found[case_id]["units"].append(unit)
    labels = grid_labels(connection, {r["grid"] for r in found.values() if r["grid"]})
    for row in found.values():
        row["grid_label"] = labels.get(row["grid"], row["grid"])
    return [found[i] for i in ids if i in found]


def find(engine, actor: Actor, params: ImmutableMultiDict, limit: int = PAGE) -> dict[str, Any]:
    """One page of the person's queue and how many cases it holds in all.

    A queue of up to FEW cases (a department's, a search, narrow filters) is read whole, then
    counted and ordered here by each case's nearest deadline: one pass over the open cases,
    where counting and then ordering them in SQL took two. A longer one is counted, and ordered
    by walking the running clocks in deadline order (see queries.by_deadline): ordering every
    open case of a city by a lookup each took longer."""
    now = engine.time.now()
    with read(engine.db) as connection:
        if connection.dialect.name == "postgresql":
            # the per-case lookups are costed high enough for PostgreSQL to compile the
            # queries first, which took longer than running them
            connection.exec_driver_sql("SET LOCAL jit = off")
        f = read_filters(engine, connection, actor, params)
        conditions = _conditions(engine, actor, f, now)
        few = connection.execute(select(CASE.c.id).where(*conditions).limit(FEW + 1)).scalars().all()
        if len(few) <= FEW:
            total = len(few)
            f.page = min(f.page, max(1, -(-total // limit)))
            # their deadlines looked up once they are known to be few: a long queue's first
            # FEW cases would be looked up for nothing
            due = select(CASE.c.id, nearest_deadline().label("due")).where(CASE.c.id.in_(few))
            ordered = sorted(connection.execute(due), key=lambda r: (r.due is None, r.due or now, r.id))
            ids = [r.id for r in ordered[(f.page - 1) * limit : f.page * limit]]
        else:
            total = connection.execute(select(func.count()).select_from(CASE).where(*conditions)).scalar_one()
            f.page = min(f.page, max(1, -(-total // limit)))
            skip = (f.page - 1) * limit
            ids = by_deadline(connection, conditions, skip, limit, now, f.shown.get("light"))
        rows = _rows(connection, ids, now)
    return {"rows": rows, "total": total, "pages": max(1, -(-total // limit)), "filters": f, "now": now}


def page_numbers(current: int, last: int) -> list[int | None]:
    """The pages a pager links: the first, the last and two either side of the current one;
    None stands for the pages skipped between."""
    shown = sorted({1, last, *range(max(1, current - 2), min(last, current + 2) + 1)})
    out: list[int | None] = []
    for number in shown:
        if out and number - (out[-1] or 0) > 1:
            out.append(None)
        out.append(number)
    return out


def bulk_transitions(engine, actor: Actor, states: dict[str, list[str]]) -> list[Any]:
    """The steps the queue offers in bulk: those of its states that need no photo and no field
    the cases cannot fill themselves."""
    seen: dict[str, Any] = {}
    for code, chosen in states.items():
        workflow = engine.catalogue.workflows[code]
        for state in chosen:
            for t in workflow.available(state, actor.roles):
                if not t.evidence and set(t.fields) <= FROM_THE_CASE and t.code not in seen:
                    seen[t.code] = t
    return list(seen.values())


def _options(engine, grids: bool = False) -> dict[str, Any]:
    """Names for the rows, and the choices the filters offer (the grids only when asked: the
    rows a refresh or a filter fetches do not show the filters)."""
    found = []
    if grids:
        with read(engine.db) as connection:
            labels = grid_labels(connection)
            active = select(GRID.c.code).where(GRID.c.active).order_by(GRID.c.path)
            found = [(code, labels[code]) for code in connection.execute(active).scalars()]
    return {
        "state_names": state_names(engine),
        "class_names": class_names(engine),
        "transition_names": transition_names(engine),
        "units": engine.profile.get("units", []),
        "unit_names": {u["code"]: u.get("name") for u in engine.profile.get("units", [])},
        "channels": engine.profile.get("channels", []),
        "grids": found,
        "lights": LIGHTS,
    }


@ui()
async def queue(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    data = await run_in_threadpool(find, engine, actor, request.query_params)
    f: Filters = data["filters"]
    context = {
        **data,
        **await run_in_threadpool(_options, engine, not request.headers.get("hx-request")),
        "q": f.shown,
        "my_states": [s for states in queue_states(engine, actor).values() for s in states],
        "page_numbers": page_numbers(f.page, data["pages"]),
        "bulk": bulk_transitions(engine, actor, queue_states(engine, actor)),
    }
    return page(request, "queue.html", context, block="rows")


def _routed_units(connection: Connection, case_id: int) -> list[str]:
    """Where the engine routed the case (its responsible units), the largest share first."""
    query = (
        select(CASE_UNIT.c.unit)
        .where(CASE_UNIT.c.case_id == case_id, CASE_UNIT.c.role == "responsible", CASE_UNIT.c.active)
        .order_by(CASE_UNIT.c.share.desc(), CASE_UNIT.c.id)
    )
    return list(connection.execute(query).scalars())


def _bulk_payload(engine, transition, case_id: int, override: list[str]) -> dict[str, Any]:
    """The fields of `transition` for one case: the units it was routed to unless the form
    names others, the class it is in."""
    payload: dict[str, Any] = {}
    if "units" in transition.fields:
        if override:
            payload["units"] = override
        else:
            with read(engine.db) as connection:
                payload["units"] = _routed_units(connection, case_id)
            if not payload["units"]:
                raise GridcaseError("invalid_field", "案件没有路由到责任单位：请在“派遣到”中选择单位")
    if "category" in transition.fields:
        case = engine.case(case_id)
        payload.update(category=case["class_code"], kind=case["kind"])
    return payload


@ui()
async def bulk(request: Request, actor: Actor) -> Response:
    """One step on several cases; each succeeds or fails on its own, and the page says which."""
    engine = request.app.state.engine
    form = await form_of(request, max_fields=MAX_BULK + 60)
    ids = [int(i) for i in form.getlist("cases") if isinstance(i, str) and i.isdigit() and int(i) < 2**31]
    if not ids:
        raise _invalid("没有勾选案件：请先勾选要处理的案件，再点“执行”", "cases")
    if len(ids) > MAX_BULK:
        raise _invalid(f"一次最多处理 {MAX_BULK} 件，已勾选 {len(ids)} 件", "cases")
    code = str(form.get("transition", ""))
    offered = {t.code: t for t in bulk_transitions(engine, actor, queue_states(engine, actor))}
    if code not in offered:
        raise _invalid("这个操作不能批量执行：请在案件页面逐件办理", "transition")
    transition = offered[code]
    reason = str(form.get("reason") or "").strip() or None
    if transition.reason and not reason:
        raise _invalid(
            f"“{label(transition_names(engine).get(code), language_of(request))}”需要填写理由", "reason"
        )
    override = [u for u in form.getlist("units") if isinstance(u, str) and u]

    def run() -> list[dict[str, Any]]:
        results = []
        for case_id in ids:
            try:
                payload = _bulk_payload(engine, transition, case_id, override)
                case = fire_for(engine, actor, case_id, code, {"payload": payload, "reason": reason}, [])
                results.append({"id": case_id, "number": case.get("number"), "error": None})
            except GridcaseError as exc:
                results.append({"id": case_id, "number": None, "error": explain(request, exc)})
        return results

    results = await run_in_threadpool(run)
    request.app.state.ui_cache.clear()
    done = sum(1 for r in results if r["error"] is None)
    response = page(request, "bulk.html", {"results": results, "code": code, "done": done})
    response.headers["HX-Trigger"] = "gridcase:refresh"  # the queue shows the cases that moved on
    return response


def workbook(engine, language: str, data: dict[str, Any], options: dict[str, Any]) -> bytes:
    """The listed cases as an .xlsx workbook, times in the city's time zone."""
    zone, _ = engine.city.timezone, CATALOGUES[language].gettext
    out = io.BytesIO()
    book = xlsxwriter.Workbook(
        # a citizen's "=HYPERLINK(…)" stays text, never a live formula in the centre's workbook
        out,
        {"in_memory": True, "remove_timezone": True, "strings_to_formulas": False},
    )
    sheet = book.add_worksheet(_("待办"))
    bold = book.add_format({"bold": True})
    moment = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    sheet.write_row(0, 0, [_(c) for c in COLUMNS], bold)
    channels = {c["code"]: c.get("name") for c in options["channels"]}
    for n, row in enumerate(data["rows"], start=1):
        cells = [
            row["number"],
            _(LIGHTS[row["light"]]),
            label(options["state_names"].get(row["state"]), language) or row["state"],
            label(options["class_names"].get(f"{row['kind']}:{row['class_code']}"), language)
            or row["class_code"],
            label(channels.get(row["channel"]), language) or row["channel"],
            row["grid_label"] or "",
            "、".join(label(options["unit_names"].get(u), language) or u for u in row["units"]),
            row["address"] or "",
            row["description"] or "",
        ]
        sheet.write_row(n, 0, [clean_text(c) for c in cells])
        for column, value in ((9, row["reported_at"]), (10, row["deadline"])):
            if value is not None:
                sheet.write_datetime(n, column, value.astimezone(zone), moment)
    sheet.set_column(0, 0, 22)
    sheet.set_column(7, 8, 30)
    sheet.set_column(9, 10, 17)
    sheet.freeze_panes(1, 0)
    book.close()
    return out.getvalue()


@ui()
async def export(request: Request, actor: Actor) -> Response:
    """The queue as filtered, every page of it (up to MAX_EXPORT cases), as .xlsx."""
    engine = request.app.state.engine
    params = ImmutableMultiDict([(k, v) for k, v in request.query_params.multi_items() if k != "page"])
    data = await run_in_threadpool(find, engine, actor, params, MAX_EXPORT)
    if data["total"] > MAX_EXPORT:  # a workbook cut short without saying so would mislead its reader
        raise GridcaseError(
            "invalid_request",
            f"共 {data['total']} 件，超过一次导出的上限 {MAX_EXPORT} 件：请先用筛选缩小范围",
            {"field": "q"},
        )
    options = await run_in_threadpool(_options, engine, True)
    body = await run_in_threadpool(workbook, engine, language_of(request), data, options)
    stamp = data["now"].astimezone(engine.city.timezone).strftime("%Y%m%d-%H%M")
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="queue-{stamp}.xlsx"'},
    )

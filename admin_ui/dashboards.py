"""What the centre looks at: today's intake, open and overdue work, trends and peaks
(高发时段/区域/类型), the offline map (一张图), the month's rankings with their explanations, and
the bulletin as xlsx or csv.

Counts run in the database as range queries on indexed columns. Over millions of cases a week's
peaks and a month's assessment still take a good part of a second, so each person's overview is
kept for 30 seconds and the ranking for a minute, in the worker, and dropped on any change made
through the UI.
"""

import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, cast, func, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from gridcase.admin_ui.names import class_names, state_names
from gridcase.admin_ui.places import grid_labels, outlines
from gridcase.admin_ui.queries import newest_open
from gridcase.admin_ui.render import label, language_of, page
from gridcase.admin_ui.views import DASHBOARD, N_, RANKINGS, ui
from gridcase.core.assess.assessor import Assessor
from gridcase.core.assess.bulletin import render as render_bulletin
from gridcase.core.cases import scope
from gridcase.core.db.connection import read
from gridcase.core.db.models import Case, Clock, Component, Grid
from gridcase.core.errors import GridcaseError
from gridcase.core.people.actor import Actor
from gridcase.core.web.api_cases import SUMMARY, light_is, light_of

CASE, CLOCK, GRID, COMPONENT = Case.__table__, Clock.__table__, Grid.__table__, Component.__table__
RANKING_SECONDS = 60
DASHBOARD_SECONDS = 30  # a wall display refreshes about this often; a week's peaks cost a scan
MAP_CASES = 2000
FORMULA_NAMES = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # the indicator codes in a formula


def _local_midnight(engine, moment: datetime) -> datetime:
    local = moment.astimezone(engine.city.timezone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _local_hour(connection, engine, column):
    """The hour of day, in the city's time zone, computed by the database."""
    if (
        connection.dialect.name == "sqlite"
    ):  # no zone data in SQLite: the zone's offset now (China keeps no DST)
        offset = engine.time.now().astimezone(engine.city.timezone).utcoffset().total_seconds() / 60
        return cast(func.strftime("%H", column, f"{offset:+.0f} minutes"), Integer)
    return func.extract("hour", func.timezone(str(engine.city.timezone), column))


def _dashboard(engine, actor: Actor) -> dict[str, Any]:
    now = engine.time.now()
    today = _local_midnight(engine, now)
    seen = scope.case_filter(engine, actor)
    with read(engine.db) as connection:
        by_channel = connection.execute(
            select(CASE.c.channel, func.count())
            .where(CASE.c.reported_at >= today, seen)
            .group_by(CASE.c.channel)
            .order_by(func.count().desc())
        ).all()
        by_unit = connection.execute(
            select(
                CLOCK.c.owner,
                func.count(func.distinct(CLOCK.c.case_id)),
                func.count(func.distinct(CLOCK.c.case_id)).filter(CLOCK.c.deadline < now),
            )
            .where(CLOCK.c.status == "running", CLOCK.c.stage == "handle")
            .group_by(CLOCK.c.owner)
        ).all()
        days = [today - timedelta(days=n) for n in range(29, -1, -1)]
        trend = [
            connection.execute(
                select(func.count()).where(
                    CASE.c.reported_at >= day, CASE.c.reported_at < day + timedelta(days=1), seen
                )
            ).scalar()
            for day in days
        ]
        week = today - timedelta(days=6)
        in_week = (CASE.c.reported_at >= week, seen)
        top_grids = connection.execute(
            select(CASE.c.grid, func.count())
            .where(*in_week)
            .group_by(CASE.c.grid)
            .order_by(func.count().desc())
            .limit(10)
        ).all()
        grid_names = grid_labels(connection, [g for g, _ in top_grids if g])
        top_classes = connection.execute(
            select(CASE.c.kind, CASE.c.class_code, func.count())
            .where(*in_week)
            .group_by(CASE.c.kind, CASE.c.class_code)
            .order_by(func.count().desc())
            .limit(10)
        ).all()
        hour = _local_hour(connection, engine, CASE.c.reported_at)
        hours = [0] * 24
        for h, n in connection.execute(select(hour, func.count()).where(*in_week).group_by(hour)):
            hours[int(h) % 24] += n
    units = {u["code"]: u.get("name") for u in engine.profile.get("units", [])}
    return {
        "by_channel": [(c, n) for c, n in by_channel],
        "by_unit": sorted(
            ((units.get(o, o or "—"), n, late) for o, n, late in by_unit), key=lambda r: (-r[2], -r[1])
        )[:20],
        "trend": {"days": [d.strftime("%m-%d") for d in days], "counts": trend},
        "hours": hours,
        "top_grids": [(g, grid_names.get(g, g) if g else "—", n) for g, n in top_grids],
        "top_classes": [(f"{k}:{c}", n) for k, c, n in top_classes],
        "today_total": sum(n for _, n in by_channel),
    }


@ui(DASHBOARD)
async def dashboard(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    data = await run_in_threadpool(
        cached, request, ("dashboard", actor.id), DASHBOARD_SECONDS, lambda: _dashboard(engine, actor)
    )
    channels = {c["code"]: c.get("name") for c in engine.profile.get("channels", [])}

    return page(
        request,
        "dashboard.html",
        {
            **data,
            "channels": channels,
            "class_names": class_names(engine),
            "charts": _charts(data, channels),
        },
    )


def _charts(data: dict[str, Any], channels: dict[str, Any]) -> dict[str, Any]:
    def name(code: str) -> str:
        value = channels.get(code, code)
        return value.get("zh", code) if isinstance(value, dict) else str(value)

    return {
        "channel": [{"name": name(c), "value": n} for c, n in data["by_channel"]],
        "trend": data["trend"],
        "hours": data["hours"],
    }


def cached(request: Request, key: tuple, seconds: float, compute: Callable[[], Any]) -> Any:
    """`compute()`'s answer, kept `seconds` in this worker; any change made through the UI
    drops every kept answer (operations.py clears the cache)."""
    cache = request.app.state.ui_cache
    hit = cache.get(key)
    if hit and time.monotonic() - hit[0] < seconds:
        return hit[1]
    if len(cache) > 1000:  # one entry per person and page: forget them all rather than grow
        cache.clear()
    value = compute()
    cache[key] = (time.monotonic(), value)
    return value


def _ranking(request: Request, period: str) -> dict[str, Any]:
    return cached(
        request,
        ("ranking", period),
        RANKING_SECONDS,
        lambda: Assessor(request.app.state.engine).assess(period),
    )


def last_complete_month(engine) -> str:
    """The month before the current one in the city's time zone: the period a ranking opens on
    (the current month is still partial). On 1 January it is the last year's December."""
    local = engine.time.now().astimezone(engine.city.timezone)
    return (local.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def _indicators(engine) -> dict[str, dict[str, Any]]:
    return {i["code"]: i for i in engine.profile.get("assessment", {}).get("indicators", [])}


def _figures(engine, language: str) -> dict[str, Any]:
    """What the ranking's templates show a figure with: an indicator's name, a value as a
    percentage with two decimals where the indicator is a rate, and a formula in names."""
    indicators = _indicators(engine)
    composites = {
        c["code"]: c.get("name") for c in engine.profile.get("assessment", {}).get("composites", [])
    }
    facts = {f["code"]: f.get("name") for f in engine.profile.get("assessment", {}).get("facts", [])}

    def name(code: str | None) -> str:
        spec = indicators.get(code or "")
        return label(spec.get("name"), language) or str(code) if spec else str(code or "")

    def value(number: Any, code: str | None = None) -> str:
        if number is None:
            return "—"
        spec = indicators.get(code or "", {})
        if spec.get("percent"):
            return f"{number * 100:.2f}%"
        if isinstance(number, float) and not number.is_integer():
            return f"{number:.2f}"
        return f"{number:g}" if isinstance(number, float) else str(number)

    def formula(text: str) -> str:
        return FORMULA_NAMES.sub(lambda m: name(m.group(0)) if m.group(0) in indicators else m.group(0), text)

    return {
        "indicator_name": name,
        "figure": value,
        "formula_names": formula,
        "composite_name": lambda code: label(composites.get(code), language) or code,
        "fact_name": lambda code: label(facts.get(code), language) or code,
    }


@ui(RANKINGS)
async def rankings(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    period = request.query_params.get("period") or last_complete_month(engine)
    result = await run_in_threadpool(_ranking, request, period)
    by_object = {o["object"]: o for o in result["objects"]}
    groups = [(r, [by_object[o] for o in r["objects"]]) for r in result["rankings"]]
    ranked = {o for r in result["rankings"] for o in r["objects"]}
    rest = [o for o in result["objects"] if o["object"] not in ranked and o["object"].startswith("unit:")]
    if rest:  # listed with their figures, as the bulletin lists them
        groups.append(({"composite": None, "class": None}, rest))
    context = {"result": result, "groups": groups, "period": period, **_figures(engine, language_of(request))}
    return page(request, "rankings.html", context)


@ui(RANKINGS)
async def explain(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    period = request.query_params.get("period") or last_complete_month(engine)
    target = request.query_params.get("object", "")
    indicator = request.query_params.get("indicator") or None
    found = await run_in_threadpool(Assessor(engine).explain, period, target, indicator)
    context = {"found": found, "period": period, "target": target, **_figures(engine, language_of(request))}
    return page(request, "explain.html", context, block="explanation")


@ui(RANKINGS)
async def bulletin(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    period = request.query_params.get("period") or last_complete_month(engine)
    fmt = request.path_params["fmt"]
    if fmt not in ("xlsx", "csv"):
        raise GridcaseError("not_found", "通报可下载为 xlsx 或 csv")
    result = await run_in_threadpool(_ranking, request, period)
    body = await run_in_threadpool(render_bulletin, result, fmt)
    media = {
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "csv": "text/csv; charset=utf-8",
    }
    return Response(
        body,
        media_type=media[fmt],
        headers={"Content-Disposition": f'attachment; filename="bulletin-{period}.{fmt}"'},
    )


# -- the map --------------------------------------------------------------------------

MAP_CASE_COLUMNS = (
    CASE.c.id,
    CASE.c.number,
    CASE.c.lon,
    CASE.c.lat,
    CASE.c.kind,
    CASE.c.class_code,
    CASE.c.grid_path,
)
# the heat layer's periods: the cases reported in the last N days
HEAT_PERIODS = {"7": N_("近 7 天"), "30": N_("近 30 天"), "90": N_("近 90 天")}
HEAT_POINTS = 20000
MAP_COMPONENTS = 3000


def _map(engine, actor: Actor, q: dict[str, str]) -> dict[str, Any]:
    levels = [lvl["code"] for lvl in engine.profile.get("grid_levels", [])]
    level = q.get("level") if q.get("level") in levels else (levels[-1] if levels else None)
    days = q.get("days") or "30"
    days = days if days in HEAT_PERIODS else "30"
    now = engine.time.now()
    light = light_of(now)
    with read(engine.db) as connection:
        labels = grid_labels(connection)
        grids = outlines(connection, level, labels)
        conditions = []
        if q.get("light") in ("green", "yellow", "red"):
            conditions.append(light_is(now, q["light"]))
        if q.get("class"):
            conditions.append(CASE.c.class_code == q["class"])
        newest = newest_open(engine, actor, MAP_CASES, *conditions)
        query = (
            select(*MAP_CASE_COLUMNS, light.label("light"))
            .where(CASE.c.id.in_(newest))
            .order_by(CASE.c.id.desc())
        )
        cases = [dict(r) for r in connection.execute(query).mappings()]
        heat = connection.execute(
            select(CASE.c.lat, CASE.c.lon)
            .where(CASE.c.reported_at >= now - timedelta(days=int(days)), scope.case_filter(engine, actor))
            .order_by(CASE.c.id.desc())
            .limit(HEAT_POINTS)
        ).all()
        components = connection.execute(
            select(
                COMPONENT.c.lat, COMPONENT.c.lon, COMPONENT.c.code, COMPONENT.c.class_code, COMPONENT.c.name
            )
            .order_by(COMPONENT.c.code)
            .limit(MAP_COMPONENTS)
        ).all()
    # a case's grid path names every grid it lies in, at every level
    open_by_grid = Counter(code for c in cases for code in (c["grid_path"] or "").strip("/").split("/"))
    return {
        "grids": [{**f["properties"], "open": open_by_grid.get(f["properties"]["code"], 0)} for f in grids],
        "count": len(cases),
        "levels": levels,
        "level_names": {lvl["code"]: lvl.get("name") for lvl in engine.profile.get("grid_levels", [])},
        "level": level,
        "days": days,
        "heat_periods": HEAT_PERIODS,
        "q": q,
        "map_data": {
            "grids": {"type": "FeatureCollection", "features": grids},
            # a class by kind and code: 0101 is an event (暴露垃圾) and a component (上水井盖) alike
            "cases": [
                [c["lat"], c["lon"], c["light"], c["id"], c["number"], f"{c['kind']}:{c['class_code']}"]
                for c in cases
            ],
            "heat": [[lat, lon] for lat, lon in heat],
            "components": [
                [lat, lon, code, name or "", f"component:{cls}"] for lat, lon, code, cls, name in components
            ],
        },
    }


def _map_page(request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """What the page's script draws besides the data: the basemap, and names in the page's language."""
    engine = request.app.state.engine
    language = language_of(request)
    tiles, attribution = request.app.state.map_tiles
    names = class_names(engine)
    return {
        **data,
        "map_data": {
            **data["map_data"],
            "tiles": tiles,
            "attribution": attribution,
            "class_names": {key: label(name, language) for key, name in names.items()},
        },
    }


@ui()
async def city_map(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    data = await run_in_threadpool(_map, engine, actor, dict(request.query_params))
    return page(request, "map.html", _map_page(request, data))


def _grid_cases(engine, actor: Actor, grid: str) -> tuple[str, list[dict[str, Any]]]:
    """The grid's name, and the newest open cases in it the actor sees."""
    light = light_of(engine.time.now()).label("light")
    with read(engine.db) as connection:
        path = connection.execute(select(GRID.c.path).where(GRID.c.code == grid)).scalar()
        if path is None:
            raise GridcaseError("not_found", f"没有网格 {grid}")
        newest = newest_open(engine, actor, 50, CASE.c.grid_path.startswith(path, autoescape=True))
        query = select(*SUMMARY, light).where(CASE.c.id.in_(newest)).order_by(CASE.c.id.desc())
        return grid_labels(connection).get(grid, grid), [
            dict(r) for r in connection.execute(query).mappings()
        ]


@ui()
async def grid_cases(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    grid = request.path_params["grid"]
    name, rows = await run_in_threadpool(_grid_cases, engine, actor, grid)
    context = {
        "grid": grid,
        "grid_name": name,
        "rows": rows,
        "state_names": state_names(engine),
        "class_names": class_names(engine),
    }
    if not request.headers.get("hx-request"):  # opened directly: the map, with the grid's cases beside it
        context = {**_map_page(request, await run_in_threadpool(_map, engine, actor, {})), **context}
    return page(request, "map.html", context, block="grid_cases")

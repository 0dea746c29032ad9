"""Places as the pages show them: a grid by its name, never only its 15-digit code; grids'
outlines for the maps; and the intake's location picker's search among the city's known places.

A grid's name is its own when it has one; else the name of the unit it belongs to (a street
office, a community); else, for a unit grid, its parent's name and its number within the parent
(太原街第7社区 003号网格).
"""

import json
from collections.abc import Collection
from datetime import timedelta
from typing import Any

import shapely
from sqlalchemy import Connection, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gridcase.admin_ui.views import INTAKE, ui
from gridcase.core.cases import scope
from gridcase.core.db.connection import read
from gridcase.core.db.models import Case, Component, Grid, Unit
from gridcase.core.errors import GridcaseError
from gridcase.core.people.actor import Actor
from gridcase.core.text import check_text

GRID, UNIT, CASE, COMPONENT = Grid.__table__, Unit.__table__, Case.__table__, Component.__table__
# a grid's outline simplified to about a metre (in degrees): the page carries less, looks the same
OUTLINE_TOLERANCE = 0.00001


def grid_labels(connection: Connection, codes: Collection[str] | None = None) -> dict[str, str]:
    """Every grid's label, or those of `codes` (with the ancestors their labels may come from)."""
    query = (
        select(GRID.c.code, GRID.c.name, GRID.c.parent, UNIT.c.name.label("unit_name"))
        .select_from(GRID.outerjoin(UNIT, UNIT.c.code == GRID.c.unit))
        .order_by(GRID.c.path)  # a parent before its children
    )
    if codes is not None:
        paths = connection.execute(select(GRID.c.path).where(GRID.c.code.in_(set(codes)))).scalars()
        query = query.where(GRID.c.code.in_({code for path in paths for code in path.split("/") if code}))
    rows = connection.execute(query).all()
    labels: dict[str, str] = {}
    # an unnamed grid is numbered under its nearest named ancestor: 一街道 001-003号网格 is the
    # third grid of the first community of 一街道, when neither the community nor the grid has a name
    numbers: dict[str, tuple[str, str]] = {}
    for code, name, parent, unit_name in rows:
        if name or unit_name:
            labels[code] = name or unit_name
        elif parent in labels and code.startswith(parent):
            ancestor, above = numbers.get(parent, (labels[parent], ""))
            numbers[code] = (ancestor, f"{above}-{code[len(parent) :]}" if above else code[len(parent) :])
            labels[code] = f"{ancestor} {numbers[code][1]}号网格"
        else:
            labels[code] = code
    return labels


def outlines(connection: Connection, level: str | None, labels: dict[str, str]) -> list[dict[str, Any]]:
    """The active grids of a level (not those the profile dropped) as GeoJSON features."""
    features = []
    for code, geometry in connection.execute(
        select(GRID.c.code, GRID.c.geometry).where(GRID.c.level == level, GRID.c.active).order_by(GRID.c.code)
    ):
        if geometry:
            shape = shapely.from_wkb(geometry).simplify(OUTLINE_TOLERANCE)
            features.append(
                {
                    "type": "Feature",
                    "properties": {"code": code, "name": labels.get(code, code)},
                    "geometry": json.loads(shapely.to_geojson(shape)),
                }
            )
    return features


# -- the intake's location picker (_location_picker.html, picker.js) ----------------------

SEARCH_RESULTS = 6  # of each kind
ADDRESS_DAYS = 365  # past cases' addresses searched: the last year's, through the reported_at index


def _picker(engine) -> dict[str, Any]:
    """The grids the picker draws: the level above the unit grids (communities), or the only one."""
    levels = [lvl["code"] for lvl in engine.profile.get("grid_levels", [])]
    level = levels[-2] if len(levels) > 1 else (levels[0] if levels else None)
    with read(engine.db) as connection:
        labels = grid_labels(connection)
        return {"grids": {"type": "FeatureCollection", "features": outlines(connection, level, labels)}}


@ui(INTAKE)
async def picker(request: Request, actor: Actor) -> Response:
    engine = request.app.state.engine
    tiles, attribution = request.app.state.map_tiles
    data = await run_in_threadpool(_picker, engine)
    return JSONResponse({**data, "tiles": tiles, "attribution": attribution})


def _search(engine, actor: Actor, text: str) -> list[dict[str, Any]]:
    """Known places whose name holds `text`: grids by name or code, components by name or code,
    and the addresses of past cases the person may see, each with a point."""
    found: list[dict[str, Any]] = []
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    with read(engine.db) as connection:
        labels = grid_labels(connection)
        codes = [code for code, name in labels.items() if text in name or code.startswith(text)]
        codes.sort(key=lambda code: (len(labels[code]), code))
        shapes = dict(
            connection.execute(
                select(GRID.c.code, GRID.c.geometry).where(
                    GRID.c.code.in_(codes[:SEARCH_RESULTS]), GRID.c.active
                )
            ).all()
        )
        for code in (c for c in codes if c in shapes):
            point = shapely.from_wkb(shapes[code]).representative_point()
            found.append({"kind": "grid", "label": labels[code], "lon": point.x, "lat": point.y})
        for code, name, lon, lat in connection.execute(
            select(COMPONENT.c.code, COMPONENT.c.name, COMPONENT.c.lon, COMPONENT.c.lat)
            .where(COMPONENT.c.code.like(pattern, escape="\\") | COMPONENT.c.name.like(pattern, escape="\\"))
            .order_by(COMPONENT.c.code)
            .limit(SEARCH_RESULTS)
        ):
            found.append(
                {"kind": "component", "label": f"{name or ''} {code}".strip(), "lon": lon, "lat": lat}
            )
        since = engine.time.now() - timedelta(days=ADDRESS_DAYS)
        addresses: dict[str, dict[str, Any]] = {}
        for address, lon, lat in connection.execute(
            select(CASE.c.address, CASE.c.lon, CASE.c.lat)
            .where(
                CASE.c.reported_at >= since,
                CASE.c.address.like(pattern, escape="\\"),
                scope.case_filter(engine, actor),
            )
            .order_by(CASE.c.reported_at.desc())
            .limit(SEARCH_RESULTS * 5)
        ):
            addresses.setdefault(address, {"kind": "address", "label": address, "lon": lon, "lat": lat})
        found += list(addresses.values())[:SEARCH_RESULTS]
    return found


@ui(INTAKE)
async def search(request: Request, actor: Actor) -> Response:
    text = request.query_params.get("q", "").strip()[:100]
    check_text(text, "q")
    engine = request.app.state.engine
    results = await run_in_threadpool(_search, engine, actor, text) if text else []
    return JSONResponse({"results": results})


def _at(engine, lon: float, lat: float) -> str | None:
    located = engine.places.grids.locate(lon, lat)
    if located is None:
        return None
    with read(engine.db) as connection:
        return grid_labels(connection).get(located["grid"], located["grid"])


@ui(INTAKE)
async def place_at(request: Request, actor: Actor) -> Response:
    """The grid a point lies in, by name (None outside the city's grids)."""
    try:
        lon, lat = float(request.query_params["lon"]), float(request.query_params["lat"])
    except (KeyError, ValueError):
        raise GridcaseError("invalid_request", "经纬度必须是数字", {"field": "lon"}) from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):  # NaN and infinities fail these too
        raise GridcaseError(
            "invalid_request", "经度应在 -180 到 180 之间，纬度在 -90 到 90 之间", {"field": "lon"}
        )
    grid = await run_in_threadpool(_at, request.app.state.engine, lon, lat)
    return JSONResponse({"grid": grid})

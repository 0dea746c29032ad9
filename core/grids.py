"""Grids (网格): import and export as GeoJSON, point lookup, coverage checks, lattice generation.

Geometry is WGS-84 longitude/latitude. Lookups use a shapely STRtree; areas and overlaps are
measured in square metres on a local equirectangular projection, which is accurate to well
under 1% at the size of a city.
"""

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import box, mapping, shape
from sqlalchemy import Connection, Engine, delete, insert, select

from .db.engine import read, write
from .db.models import Grid
from .errors import GridImportError
from .gridindex import GridIndex, area_m2
from .profile.located import ParseError, mark_at, parse_file
from .profile.merge import pointer

GRID = Grid.__table__
OVERLAP_TOLERANCE_M2 = 1.0  # shared edges of adjacent grids have zero area; this absorbs float noise


def load_index(engine: Engine, level_order: list[str]) -> GridIndex:
    """The deployment's grids in use (not those the profile dropped), indexed for lookups."""
    with read(engine) as connection:
        rows = connection.execute(
            select(
                GRID.c.code, GRID.c.parent, GRID.c.level, GRID.c.unit, GRID.c.area_class, GRID.c.geometry
            ).where(GRID.c.active)
        ).mappings()
        return GridIndex.build(rows, level_order)


def _row(props: dict[str, Any], geometry: shapely.Geometry, path: str) -> dict[str, Any]:
    minx, miny, maxx, maxy = geometry.bounds
    name = props.get("name")
    return {
        "code": props["code"],
        "name": name.get("zh") if isinstance(name, dict) else name,
        "level": props["level"],
        "parent": props.get("parent"),
        "unit": props.get("unit"),
        "area_class": props.get("area_class"),
        "region_class": props.get("region_class"),
        "path": path,
        "geometry": shapely.to_wkb(geometry),
        "minx": minx,
        "miny": miny,
        "maxx": maxx,
        "maxy": maxy,
    }


def check_features(
    doc: Any, profile: dict[str, Any], existing: dict[str, str] | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows ready to insert, and every problem as `file:line:col: /pointer: message`."""
    from .profile.crosscheck import _compile

    problems: list[str] = []

    def problem(path: list, message: str) -> None:
        problems.append(f"{mark_at(doc, path)}: {pointer(path)}: {message}")

    if (
        not isinstance(doc, dict)
        or doc.get("type") != "FeatureCollection"
        or not isinstance(doc.get("features"), list)
    ):
        problem([], "expected a GeoJSON FeatureCollection with a features list")
        return [], problems
    levels = [lvl["code"] for lvl in profile.get("grid_levels", [])]
    patterns = {lvl["code"]: _compile(lvl.get("pattern")) for lvl in profile.get("grid_levels", [])}
    default_pattern = _compile(profile.get("codes", {}).get("grid"))
    units = {u["code"] for u in profile.get("units", [])}
    parsed: list[tuple[int, dict, shapely.Geometry]] = []
    seen: dict[str, int] = {}
    for i, feature in enumerate(doc["features"]):
        base = ["features", i]
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict):
            problem(base, "a feature needs properties with code and level")
            continue
        code, level = props.get("code"), props.get("level")
        if not isinstance(code, str) or not code:
            problem(base + ["properties"], "missing grid code (properties.code, as text)")
            continue
        if level not in levels:
            problem(
                base + ["properties", "level"],
                f"unknown grid level {level!r}; the profile has {', '.join(levels)}",
            )
            continue
        pattern = patterns.get(level) or default_pattern
        if pattern is not None and not pattern.search(code):
            problem(
                base + ["properties", "code"],
                f"grid code {code!r} does not match the pattern {pattern.pattern}",
            )
        if code in seen:
            problem(
                base + ["properties", "code"], f"duplicate grid code {code!r} (also feature {seen[code]})"
            )
            continue
        seen[code] = i
        if props.get("unit") is not None and props["unit"] not in units:
            problem(base + ["properties", "unit"], f"unknown unit {props['unit']!r}")
        try:
            geometry = shape(feature.get("geometry"))
        except Exception as exc:  # shapely raises several types for malformed coordinates
            problem(base + ["geometry"], f"not a valid GeoJSON geometry: {exc}")
            continue
        if geometry.geom_type not in ("Polygon", "MultiPolygon"):
            problem(
                base + ["geometry", "type"],
                f"a grid must be a Polygon or MultiPolygon, not {geometry.geom_type}",
            )
            continue
        if not geometry.is_valid:
            problem(base + ["geometry"], f"invalid polygon: {shapely.is_valid_reason(geometry)}")
            continue
        parsed.append((i, props, geometry))
    known = set(seen) | set(existing or {})
    for i, props, _ in parsed:
        if props.get("parent") is not None and props["parent"] not in known:
            problem(["features", i, "properties", "parent"], f"unknown parent grid {props['parent']!r}")
    problems += [f"{mark_at(doc, ['features', a, 'geometry'])}: {msg}" for a, msg in _overlaps(parsed, doc)]
    if problems:
        return [], problems
    paths = _paths({p["code"]: p.get("parent") for _, p, _ in parsed}, existing or {})
    return [_row(props, geometry, paths[props["code"]]) for _, props, geometry in parsed], []


def _overlaps(parsed: list[tuple[int, dict, shapely.Geometry]], doc: Any) -> list[tuple[int, str]]:
    """Same-level grids must not overlap (shared edges are fine)."""
    out = []
    by_level: dict[str, list[tuple[int, dict, shapely.Geometry]]] = {}
    for item in parsed:
        by_level.setdefault(item[1]["level"], []).append(item)
    for items in by_level.values():
        geoms = np.array([g for _, _, g in items], dtype=object)
        tree = shapely.STRtree(geoms)
        left, right = tree.query(geoms, predicate="intersects")
        for a, b in zip(left, right, strict=True):
            if a < b:
                shared = area_m2(shapely.intersection(geoms[a], geoms[b]))
                if shared > OVERLAP_TOLERANCE_M2:
                    (ia, pa, _), (_, pb, _) = items[a], items[b]
                    out.append(
                        (
                            ia,
                            f"{pointer(['features', ia])}: grid {pa['code']!r} overlaps {pb['code']!r} "
                            f"by {shared:.0f} m²",
                        )
                    )
    return out


def _paths(parents: dict[str, str | None], existing: dict[str, str]) -> dict[str, str]:
    paths = dict(existing)

    def path(code: str, trail: tuple = ()) -> str:
        if code in paths:
            return paths[code]
        parent = parents.get(code)
        if parent is None or parent in trail:
            paths[code] = f"/{code}/"
        else:
            paths[code] = path(parent, trail + (code,)) + f"{code}/"
        return paths[code]

    return {code: path(code) for code in parents}


def _insert_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parents before children (foreign keys), i.e. by path depth."""
    return sorted(rows, key=lambda r: r["path"].count("/"))


def import_features(engine: Engine, doc: Any, profile: dict[str, Any], *, replace: bool = False) -> int:
    """Validate everything, then insert in one transaction: all grids or none."""
    with write(engine) as connection:
        existing = {} if replace else dict(connection.execute(select(GRID.c.code, GRID.c.path)).all())
        rows, problems = check_features(doc, profile, existing)
        if problems:
            raise GridImportError(problems)
        clash = sorted(set(existing) & {r["code"] for r in rows})
        if clash:
            raise GridImportError(
                [f"grid {c!r} already exists (import with --replace to reload)" for c in clash[:20]]
            )
        if replace:
            connection.execute(delete(GRID))
        for chunk_start in range(0, len(rows), 1000):
            connection.execute(insert(GRID), _insert_order(rows)[chunk_start : chunk_start + 1000])
    return len(rows)


def import_file(engine: Engine, path: Path, profile: dict[str, Any], *, replace: bool = False) -> int:
    try:
        doc = parse_file(path)
    except ParseError as exc:
        raise GridImportError([f"{mark}: {message}" for mark, message in exc.problems]) from None
    return import_features(engine, doc, profile, replace=replace)


def export(connection: Connection, level: str | None = None) -> dict[str, Any]:
    query = select(GRID).order_by(GRID.c.path)
    if level:
        query = query.where(GRID.c.level == level)
    features = []
    for row in connection.execute(query).mappings():
        properties = {
            k: row[k] for k in ("code", "name", "level", "parent", "unit", "area_class", "region_class")
        }
        features.append(
            {
                "type": "Feature",
                "properties": {k: v for k, v in properties.items() if v is not None},
                "geometry": mapping(shapely.from_wkb(row["geometry"])),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def coverage(connection: Connection, level: str) -> dict[str, Any]:
    """Gaps and overlaps of the grids of `level` inside each parent, in square metres."""
    rows = (
        connection.execute(select(GRID.c.code, GRID.c.parent, GRID.c.level, GRID.c.geometry)).mappings().all()
    )
    geoms = {r["code"]: shapely.from_wkb(r["geometry"]) for r in rows}
    children: dict[str | None, list[str]] = {}
    for r in rows:
        if r["level"] == level:
            children.setdefault(r["parent"], []).append(r["code"])
    gaps, overlaps = [], []
    for parent, codes in sorted(children.items(), key=lambda kv: str(kv[0])):
        parts = [geoms[c] for c in codes]
        union = shapely.union_all(parts)
        if parent in geoms:
            missing = area_m2(shapely.difference(geoms[parent], union))
            if missing > OVERLAP_TOLERANCE_M2:
                gaps.append({"parent": parent, "area_m2": round(missing, 1)})
        excess = sum(area_m2(p) for p in parts) - area_m2(union)
        if excess > OVERLAP_TOLERANCE_M2:
            overlaps.append({"parent": parent, "area_m2": round(excess, 1)})
    return {
        "level": level,
        "grids": sum(len(c) for c in children.values()),
        "gaps": gaps,
        "overlaps": overlaps,
    }


def lattice(
    bbox: tuple[float, float, float, float],
    root: str,
    levels: list[str],
    counts: list[int | list[int]],
    code_widths: list[int],
) -> dict[str, Any]:
    """Nested rectangular grids: the root cell is `bbox` with code `root` at `levels[0]`; each
    further level splits every cell into `counts[i]` cells (as square as possible), numbered
    west→east, then north→south, as the grid standards number them. A list in `counts` gives
    each parent its own number of cells, in the parents' order (13 streets, 100 communities)."""
    features = [
        {"type": "Feature", "properties": {"code": root, "level": levels[0]}, "geometry": mapping(box(*bbox))}
    ]
    cells = [(root, bbox)]
    for level, count, width in zip(levels[1:], counts, code_widths, strict=True):
        next_cells = []
        per_parent = count if isinstance(count, list) else [count] * len(cells)
        if len(per_parent) != len(cells):
            raise ValueError(f"{level}: {len(per_parent)} counts for {len(cells)} parents")
        for (parent, (minx, miny, maxx, maxy)), cells_here in zip(cells, per_parent, strict=True):
            cols = max(1, round(math.sqrt(cells_here)))
            rows = math.ceil(cells_here / cols)
            dx, dy = (maxx - minx) / cols, (maxy - miny) / rows
            for n in range(cells_here):
                r, c = divmod(n, cols)
                last_in_row = n == cells_here - 1 or c == cols - 1
                cell = (
                    minx + c * dx,
                    maxy - (r + 1) * dy,
                    maxx if last_in_row else minx + (c + 1) * dx,
                    maxy - r * dy,
                )
                code = f"{parent}{n + 1:0{width}d}"
                next_cells.append((code, cell))
                features.append(
                    {
                        "type": "Feature",
                        "properties": {"code": code, "level": level, "parent": parent},
                        "geometry": mapping(box(*cell)),
                    }
                )
        cells = next_cells
    return {"type": "FeatureCollection", "features": features}


def to_json(collection: dict[str, Any]) -> str:
    return json.dumps(collection, ensure_ascii=False)

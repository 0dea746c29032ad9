"""Grids (网格): import and export as GeoJSON, point lookup, coverage checks, lattice generation.

Geometry is WGS-84 longitude/latitude. Lookups use a shapely STRtree; areas and overlaps are
measured in square metres on a local equirectangular projection, which is accurate to well
under 1% at the size of a city.
"""

import json
import math
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import box, mapping
from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy import Engine as Database

from gridcase.core.db.connection import read, write
from gridcase.core.db.models import Case, Component, Counter, Grid, Responsibility
from gridcase.core.db.numbering import claim
from gridcase.core.errors import GridcaseError, GridImportError
from gridcase.core.places.geojson import FeatureStream
from gridcase.core.places.grid_check import OVERLAP_TOLERANCE_M2, Checked, GridChecker, check_items
from gridcase.core.places.gridindex import GridIndex, area_m2
from gridcase.core.profile.located import Mark, ParseError, mark_at

GRID, COUNTER = Grid.__table__, Counter.__table__
IMPORT = "import"  # a grid's origin: see reconcile.py, which never writes over these
VERSION = "grids:version"  # a counter every write of grids moves, so servers reload theirs


def mark_changed(connection: Connection) -> None:
    """Record, in the writing transaction, that the grids changed."""
    claim(connection, VERSION)


def version(db: Database) -> int:
    """How often the grids have changed: a server reloads its index when this moves."""
    with read(db) as connection:
        return connection.execute(select(COUNTER.c.value).where(COUNTER.c.key == VERSION)).scalar() or 0


def load_index(db: Database, level_order: list[str]) -> GridIndex:
    """The deployment's grids in use (not those the profile dropped), indexed for lookups."""
    with read(db) as connection:
        rows = connection.execute(
            select(
                GRID.c.code, GRID.c.parent, GRID.c.level, GRID.c.unit, GRID.c.area_class, GRID.c.geometry
            ).where(GRID.c.active)
        ).mappings()
        return GridIndex.build(rows, level_order)


def check_features(
    doc: Any, profile: dict[str, Any], existing: dict[str, str] | None = None, *, lenient: bool = False
) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows ready to insert, and every problem as `file:line:col: /pointer: message`, for a parsed
    document (a profile's grids); files are read as a stream by `import_file`."""
    if (
        not isinstance(doc, dict)
        or doc.get("type") != "FeatureCollection"
        or not isinstance(doc.get("features"), list)
    ):
        return [], [f"{mark_at(doc, [])}: /: expected a GeoJSON FeatureCollection with a features list"]
    checker = check_items(
        enumerate(doc["features"]),
        profile,
        lambda i, path: mark_at(doc, ["features", i, *path]),
        existing=existing,
        lenient=lenient,
    )
    checked = checker.finish(doc.get("crs"), mark_at(doc, ["crs"]))
    return checked.rows, checked.problems


@dataclass
class GridImport:
    """What an import did. `total` counts the grids of the file."""

    total: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    reassigned: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if not (self.added or self.updated or self.removed):
            return f"nothing changed: {self.unchanged} grids as in the file"
        parts = [f"imported {self.added} grids"]
        parts += [f"{what} {n}" for what, n in (("updated", self.updated), ("removed", self.removed)) if n]
        parts += [f"{self.unchanged} unchanged"] if self.unchanged else []
        moved = ", ".join(f"{n} {what}" for what, n in self.reassigned.items() if n)
        return ", ".join(parts) + (f"; moved to the remaining grids: {moved}" if moved else "")


FIELDS = ("name", "level", "parent", "unit", "area_class", "region_class", "path", "geometry")
# what points at a grid, and how to say how many
REFERRERS = (
    ("cases", Case.__table__, "case", "cases"),
    ("components", Component.__table__, "component", "components"),
    ("people", Responsibility.__table__, "person's grids", "people's grids"),
)


def _differs(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [k for k in FIELDS if (bytes(old[k]) if k == "geometry" else old[k]) != new[k]]


def store(
    db: Database,
    checked: Checked,
    *,
    replace: bool = False,
    reassign: str | None = None,
) -> GridImport:
    """Store checked grids in one transaction: new grids are added and, with `replace`, changed
    ones updated in place and those missing from the file removed, once whatever points at them
    is reassigned (`reassign`: "parent", or a grid's code)."""
    if checked.problems:
        raise GridImportError(checked.problems)
    with write(db) as connection:
        stored = {r["code"]: dict(r) for r in connection.execute(select(GRID)).mappings()}
        result = GridImport(total=len(checked.rows), warnings=checked.warnings)
        added, changed = [], []
        for row in checked.rows:
            old = stored.get(row["code"])
            if old is None:
                added.append(row)
            elif _differs(old, row) or not old["active"]:
                # a grid the profile had dropped (deactivated) is in use again once imported
                changed.append(({**row, "active": True, "origin": IMPORT}, _differs(old, row)))
            else:
                result.unchanged += 1
        clashes = [(row, what) for row, what in changed if what]
        if clashes and not replace:
            raise GridImportError(
                [
                    f"grid {row['code']!r} already exists with another {', '.join(what)} "
                    "(import with --replace to change it)"
                    for row, what in clashes[:20]
                ]
            )
        kept = {row["code"]: row for row in checked.rows}
        removed = (
            sorted(set(stored) - set(kept), key=lambda c: -stored[c]["path"].count("/")) if replace else []
        )
        added = _insert_order(added)  # parents first: grid.parent is a foreign key
        for start in range(0, len(added), 1000):
            connection.execute(insert(GRID), added[start : start + 1000])
        for row in _insert_order([r for r, _ in changed]):
            connection.execute(update(GRID).where(GRID.c.code == row["code"]).values(row))
        result.reassigned = _reassign(connection, removed, stored, kept, reassign)
        _follow_paths(connection, [row for row, what in changed if "path" in what])
        for code in removed:  # deepest first: children before their parents
            connection.execute(delete(GRID).where(GRID.c.code == code))
        result.added, result.updated, result.removed = len(added), len(changed), len(removed)
        if added or changed or removed:
            mark_changed(connection)
    return result


def _stored_paths(db: Database, replace: bool) -> dict[str, str]:
    """The paths a file's grids may hang below: none when the file replaces every grid."""
    if replace:
        return {}
    with read(db) as connection:
        return dict(connection.execute(select(GRID.c.code, GRID.c.path)).all())


def import_features(db: Database, doc: Any, profile: dict[str, Any], *, replace: bool = False) -> int:
    """A parsed document's grids (a profile's): all of them, or none if any is wrong."""
    rows, problems = check_features(doc, profile, _stored_paths(db, replace))
    return store(db, Checked(rows, problems), replace=replace).total


def check_file(
    path: Path, profile: dict[str, Any], existing: dict[str, str], *, lenient: bool = False
) -> Checked:
    """A GeoJSON file's grids, read feature by feature, checked against the profile."""
    stream = FeatureStream(path)
    marks: list[Mark] = []
    checker = GridChecker(profile, lambda i, _: marks[i], existing=existing, lenient=lenient)
    try:
        for i, (mark, feature) in enumerate(stream):
            marks.append(mark)
            checker.add(i, feature)
    except ParseError as exc:
        raise GridImportError([f"{mark}: {message}" for mark, message in exc.problems]) from None
    if stream.members.get("type") != "FeatureCollection" or "features" not in stream.members:
        raise GridImportError([f"{path}:1:1: /: expected a GeoJSON FeatureCollection with a features list"])
    return checker.finish(stream.members.get("crs"), f"{path}:1:1")


def import_file(
    db: Database,
    path: Path,
    profile: dict[str, Any],
    *,
    replace: bool = False,
    lenient: bool = False,
    reassign: str | None = None,
) -> GridImport:
    """A GeoJSON file's grids: all of them, or none if any is wrong."""
    if not path.is_file():
        raise GridImportError([f"{path}: no such file"])
    checked = check_file(path, profile, _stored_paths(db, replace), lenient=lenient)
    return store(db, checked, replace=replace, reassign=reassign)


def _insert_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parents before children (foreign keys), i.e. by path depth."""
    return sorted(rows, key=lambda r: r["path"].count("/"))


def _reassign(
    connection: Connection,
    removed: list[str],
    stored: dict[str, dict[str, Any]],
    kept: dict[str, dict[str, Any]],
    reassign: str | None,
) -> dict[str, int]:
    """Move what points at removed grids to the grids that stay; refuse when not told where."""
    counts = {what: _referred(connection, table, removed) for what, table, _, _ in REFERRERS}
    referred = sorted({code for found in counts.values() for code in found})
    if not referred:
        return {}
    if reassign is None:
        problems = []
        for code in referred[:20]:
            said = [
                f"{counts[what][code]} {one if counts[what][code] == 1 else many}"
                for what, _, one, many in REFERRERS
                if counts[what].get(code)
            ]
            listed = ", ".join(said[:-1]) + (" and " if len(said) > 1 else "") + said[-1]
            problems.append(f"grid {code} would be removed, but {listed} point at it")
        problems.append(
            "say where they go: --reassign parent (each to its nearest remaining ancestor) "
            "or --reassign CODE (all to that grid)"
        )
        raise GridImportError(problems)
    moved = {what: 0 for what, _, _, _ in REFERRERS}
    for code in referred:
        target = reassign if reassign != "parent" else _remaining_ancestor(code, stored, kept)
        if target not in kept:
            raise GridImportError(
                [f"grid {code}: cannot move what points at it to {target or 'a remaining ancestor'!r}, "
                 "which is not in the file; give --reassign a grid code of the file"]
            )  # fmt: skip
        for what in moved:
            moved[what] += counts[what].get(code, 0)
        _move(connection, code, target, kept[target]["path"])
    return moved


def _referred(connection: Connection, table: Any, codes: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(codes), 500):
        query = (
            select(table.c.grid, func.count())
            .where(table.c.grid.in_(codes[start : start + 500]))
            .group_by(table.c.grid)
        )
        found.update(dict(connection.execute(query).all()))
    return found


def _remaining_ancestor(code: str, stored: dict[str, dict[str, Any]], kept: dict[str, Any]) -> str | None:
    parent = stored[code]["parent"]
    while parent is not None and parent not in kept:
        parent = stored.get(parent, {}).get("parent")
    return parent


def _move(connection: Connection, code: str, target: str, path: str) -> None:
    case, component, duty = Case.__table__, Component.__table__, Responsibility.__table__
    connection.execute(update(case).where(case.c.grid == code).values(grid=target, grid_path=path))
    connection.execute(update(component).where(component.c.grid == code).values(grid=target))
    # a person responsible for both grids keeps one row
    both = select(duty.c.person_id).where(duty.c.grid == target).scalar_subquery()
    connection.execute(delete(duty).where(duty.c.grid == code, duty.c.person_id.in_(both)))
    connection.execute(update(duty).where(duty.c.grid == code).values(grid=target))


def _follow_paths(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Cases keep their grid's path (scope queries read it): follow grids that moved."""
    case = Case.__table__
    for row in rows:
        connection.execute(update(case).where(case.c.grid == row["code"]).values(grid_path=row["path"]))


def export(connection: Connection, level: str | None = None, codes: Collection[str] = ()) -> dict[str, Any]:
    """The grids as GeoJSON: all, a level's, or those named by `codes`."""
    query = select(GRID).order_by(GRID.c.path)
    if level:
        query = query.where(GRID.c.level == level)
    if codes:
        query = query.where(GRID.c.code.in_(sorted(codes)))
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
    """Gaps and overlaps of the grids of `level` inside each parent, in square metres; each gap
    with its geometry, so a map shows where it is."""
    levels: dict[str, int] = dict(
        connection.execute(select(GRID.c.level, func.count()).where(GRID.c.active).group_by(GRID.c.level))
        .tuples()
        .all()
    )
    if not levels.get(level):
        have = ", ".join(f"{lvl} {n}" for lvl, n in sorted(levels.items())) or "no grids at all"
        raise GridcaseError(
            "not_found",
            f"no grids of level {level!r} to check; the database has {have} (gridcase import grids FILE)",
        )
    rows = (
        connection.execute(
            select(GRID.c.code, GRID.c.parent, GRID.c.level, GRID.c.geometry).where(GRID.c.active)
        )
        .mappings()
        .all()
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
            gap = shapely.difference(geoms[parent], union)
            missing = area_m2(gap)
            if missing > OVERLAP_TOLERANCE_M2:
                gaps.append({"parent": parent, "area_m2": round(missing, 1), "geometry": mapping(gap)})
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

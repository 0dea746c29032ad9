"""Checking grids before any is stored: every problem of a file at once, each with its position.

A feature is checked for its properties as it is read; geometries are built in batches with
shapely's array functions (one Python object per ring would cost most of an import's time), then
converted from the file's `crs`, placed against the deployment's territory, validated and
tested for overlaps all at once.

Structure checks from the grid standards (a grid code starts with its parent's code) are
problems, or warnings when the import is lenient (legacy data); everything else is a problem.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from gridcase.core.city import CityProfile
from gridcase.core.places.geo import CoordinateError, crs_named, outside_hint, territory, xy_to_wgs84
from gridcase.core.places.gridindex import area_m2
from gridcase.core.profile.merge import pointer
from gridcase.core.text import problem

OVERLAP_TOLERANCE_M2 = 1.0  # shared edges of adjacent grids have zero area; this absorbs float noise
BATCH = 2000
SHRINK_DEGREES = 1e-7  # about a centimetre
POLYGONAL = ("Polygon", "MultiPolygon")
SEQUENCES = (list, tuple)  # JSON gives lists; shapely's mapping(), as lattice() uses, tuples

Where = Callable[[int, list], Any]  # (feature index, path inside the feature) -> its mark


@dataclass
class Checked:
    rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _compile(pattern: str | None):
    from gridcase.core.profile.crosscheck import _compile as compile_pattern

    return compile_pattern(pattern)


def _rings(geometry: Any) -> list[list] | str:
    """The rings of a Polygon or MultiPolygon as given (polygon by polygon), or what is wrong."""
    if not isinstance(geometry, dict) or not isinstance(geometry.get("coordinates"), SEQUENCES):
        return "not a valid GeoJSON geometry: it needs a type and coordinates"
    kind = geometry.get("type")
    if kind not in POLYGONAL:
        return f"a grid must be a Polygon or MultiPolygon, not {kind}"
    polygons = geometry["coordinates"] if kind == "MultiPolygon" else [geometry["coordinates"]]
    for polygon in polygons:
        if not isinstance(polygon, SEQUENCES) or not polygon:
            return "not a valid GeoJSON geometry: a polygon needs at least one ring"
        for ring in polygon:
            if not isinstance(ring, SEQUENCES) or len(ring) < 4:
                return "not a valid GeoJSON geometry: a ring needs at least 4 positions"
            if ring[0] != ring[-1]:
                return f"the ring is not closed: it starts at {ring[0]} and ends at {ring[-1]}"
    return polygons


def _build(polygons: list[list[list]]) -> list[shapely.Geometry]:
    """(Multi)polygons from their rings, with one call per kind of part for a whole batch."""
    coords: list[list[float]] = []
    ring_sizes: list[int] = []
    ring_polygon: list[int] = []
    polygon_feature: list[int] = []
    for f, parts in enumerate(polygons):
        for polygon in parts:
            for ring in polygon:
                coords.extend(ring)
                ring_sizes.append(len(ring))
                ring_polygon.append(len(polygon_feature))
            polygon_feature.append(f)
    xy = np.asarray(coords, dtype=float)
    if xy.ndim != 2 or xy.shape[1] < 2:
        raise ValueError("positions must be [longitude, latitude]")
    rings = shapely.linearrings(xy[:, :2], indices=np.repeat(np.arange(len(ring_sizes)), ring_sizes))
    parts = shapely.polygons(rings, indices=np.array(ring_polygon))
    counts = np.bincount(np.array(polygon_feature, dtype=np.int64), minlength=len(polygons))
    singles = counts == 1
    out = np.empty(len(polygons), dtype=object)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out[singles] = parts[starts[singles]]
    if not singles.all():
        multi = np.flatnonzero(~singles)
        members = np.concatenate([np.arange(starts[m], starts[m] + counts[m]) for m in multi])
        out[multi] = shapely.multipolygons(
            parts[members], indices=np.repeat(np.arange(len(multi)), counts[multi])
        )
    return list(out)


class GridChecker:
    """Feed it features with `add`, then `finish` for the rows to store and every problem."""

    def __init__(
        self,
        profile: dict[str, Any],
        where: Where,
        existing: dict[str, str] | None = None,
        *,
        lenient: bool = False,
        bounded: bool = True,
    ) -> None:
        self.where, self.existing, self.lenient = where, existing or {}, lenient
        city = CityProfile.of(profile)
        self.levels = list(city.grid_levels)
        self.patterns = {lvl["code"]: _compile(lvl.get("pattern")) for lvl in profile.get("grid_levels", [])}
        self.default_pattern = _compile(city.codes.grid)
        self.units = {u.code for u in city.units}
        self.territory = territory(profile) if bounded else None
        self.out = Checked()
        self.seen: dict[str, int] = {}
        self.accepted: list[tuple[int, dict[str, Any]]] = []
        self.geoms: list[shapely.Geometry] = []
        self.pending: list[tuple[int, dict[str, Any], list]] = []

    def problem(self, i: int, path: list, message: str, *, structural: bool = False) -> None:
        where = f"{self.where(i, path)}: {pointer(['features', i, *path])}"
        if structural and self.lenient:
            self.out.warnings.append(f"{where}: warning: {message}")
        else:
            self.out.problems.append(f"{where}: {message}")

    def add(self, i: int, feature: Any) -> None:
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict):
            return self.problem(i, [], "a feature needs properties with code and level")
        for key, value in props.items():  # core/text.py's rule, as at every entry point
            for sub, text in value.items() if isinstance(value, dict) else [(None, value)]:
                wrong = problem(text) if isinstance(text, str) else None
                if wrong is not None:
                    return self.problem(i, ["properties", key, *([sub] if sub else [])], wrong)
        code, level = props.get("code"), props.get("level")
        if not isinstance(code, str) or not code:
            return self.problem(i, ["properties"], "missing grid code (properties.code, as text)")
        if level not in self.levels:
            message = f"unknown grid level {level!r}; the profile has {', '.join(self.levels)}"
            return self.problem(i, ["properties", "level"], message)
        pattern = self.patterns.get(level) or self.default_pattern
        if pattern is not None and not pattern.search(code):
            self.problem(
                i, ["properties", "code"], f"grid code {code!r} does not match the pattern {pattern.pattern}"
            )
        if code in self.seen:
            message = f"duplicate grid code {code!r} (also feature {self.seen[code]})"
            return self.problem(i, ["properties", "code"], message)
        self.seen[code] = i
        if props.get("unit") is not None and props["unit"] not in self.units:
            self.problem(i, ["properties", "unit"], f"unknown unit {props['unit']!r}")
        rings = _rings(feature.get("geometry"))
        if isinstance(rings, str):
            return self.problem(i, ["geometry"], rings)
        self.pending.append((i, props, rings))
        if len(self.pending) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        batch, self.pending = self.pending, []
        try:
            geoms = _build([rings for _, _, rings in batch])
        except (ValueError, TypeError):  # a position that is not two numbers: find which, one by one
            good, geoms = [], []
            for item in batch:
                try:
                    geoms += _build([item[2]])
                    good.append(item)
                except (ValueError, TypeError):
                    self.problem(
                        item[0], ["geometry"], "not a valid GeoJSON geometry: positions must be [lon, lat]"
                    )
            batch = good
        self.accepted += [(i, props) for i, props, _ in batch]
        self.geoms += geoms

    def finish(self, crs: Any = None, crs_where: Any = "") -> Checked:
        self._flush()
        geoms = np.array(self.geoms, dtype=object)
        if crs is not None and len(geoms):
            try:
                system = crs_named(crs)
            except CoordinateError as exc:
                self.out.problems.insert(0, f"{crs_where}: /crs: {exc}")
                return self.out
            geoms = shapely.transform(geoms, lambda xy: xy_to_wgs84(xy, system))
        keep = self._placed(geoms) & self._valid(geoms)
        accepted = [a for a, k in zip(self.accepted, keep, strict=True) if k]
        geoms = geoms[keep]
        self._parents(accepted)
        self._overlaps(accepted, geoms)
        if self.out.problems:
            return self.out
        paths = _paths({p["code"]: p.get("parent") for _, p in accepted}, self.existing)
        wkbs, bounds = shapely.to_wkb(geoms), shapely.bounds(geoms).tolist()
        self.out.rows = [
            _row(p, wkb, box, paths[p["code"]])
            for (_, p), wkb, box in zip(accepted, wkbs, bounds, strict=True)
        ]
        return self.out

    def _placed(self, geoms: np.ndarray) -> np.ndarray:
        """Inside the deployment's territory: swapped axes and metres land far outside it."""
        if self.territory is None or not len(geoms):
            return np.ones(len(geoms), dtype=bool)
        bounds = shapely.bounds(geoms)
        minx, miny, maxx, maxy = self.territory
        inside = (
            (bounds[:, 0] >= minx) & (bounds[:, 1] >= miny) & (bounds[:, 2] <= maxx) & (bounds[:, 3] <= maxy)
        )
        for n in np.flatnonzero(~inside):
            i = self.accepted[n][0]
            extent = ", ".join(f"{v:.6g}" for v in bounds[n])
            box = ", ".join(f"{v:.4f}" for v in self.territory)
            hint = outside_hint(tuple(bounds[n]), self.territory)
            self.problem(i, ["geometry"], f"({extent}) is outside the deployment's territory ({box}): {hint}")
        return inside

    def _valid(self, geoms: np.ndarray) -> np.ndarray:
        valid = shapely.is_valid(geoms) if len(geoms) else np.ones(0, dtype=bool)
        for n in np.flatnonzero(~valid):
            self.problem(
                self.accepted[n][0], ["geometry"], f"invalid polygon: {shapely.is_valid_reason(geoms[n])}"
            )
        return valid

    def _parents(self, accepted: list[tuple[int, dict[str, Any]]]) -> None:
        known = set(self.seen) | set(self.existing)
        for i, props in accepted:
            parent = props.get("parent")
            if parent is None:
                continue
            if parent not in known:
                self.problem(i, ["properties", "parent"], f"unknown parent grid {parent!r}")
            elif not props["code"].startswith(parent):
                message = f"grid code {props['code']!r} does not start with its parent's code {parent!r}"
                self.problem(i, ["properties", "code"], message, structural=True)

    def _overlaps(self, accepted: list[tuple[int, dict[str, Any]]], geoms: np.ndarray) -> None:
        """Same-level grids must not overlap (shared edges are fine)."""
        by_level: dict[str, list[int]] = {}
        for n, (_, props) in enumerate(accepted):
            by_level.setdefault(props["level"], []).append(n)
        for members in by_level.values():
            level_geoms = geoms[members]
            # each grid shrunk by a centimetre meets only the grids whose interiors it enters:
            # neighbours sharing an edge drop out, and they are nearly all the candidate pairs
            shrunk = shapely.buffer(level_geoms, -SHRINK_DEGREES, quad_segs=1, join_style="mitre")
            left, right = shapely.STRtree(level_geoms).query(shrunk, predicate="intersects")
            pairs = sorted({(min(a, b), max(a, b)) for a, b in zip(left, right, strict=True) if a != b})
            for a, b in pairs:
                shared = area_m2(shapely.intersection(level_geoms[a], level_geoms[b]))
                if shared > OVERLAP_TOLERANCE_M2:
                    (ia, pa), (_, pb) = accepted[members[a]], accepted[members[b]]
                    self.problem(ia, [], f"grid {pa['code']!r} overlaps {pb['code']!r} by {shared:.0f} m²")


def _row(props: dict[str, Any], wkb: bytes, bounds: list[float], path: str) -> dict[str, Any]:
    name = props.get("name")
    minx, miny, maxx, maxy = bounds
    return {
        "code": props["code"],
        "name": name.get("zh") if isinstance(name, dict) else name,
        "level": props["level"],
        "parent": props.get("parent"),
        "unit": props.get("unit"),
        "area_class": props.get("area_class"),
        "region_class": props.get("region_class"),
        "path": path,
        "geometry": wkb,
        "minx": minx,
        "miny": miny,
        "maxx": maxx,
        "maxy": maxy,
    }


def _paths(parents: dict[str, str | None], existing: dict[str, str]) -> dict[str, str]:
    paths = dict(existing)

    def path(code: str, trail: tuple = ()) -> str:
        if code in paths and code not in parents:
            return paths[code]
        if code in trail:
            return f"/{code}/"
        parent = parents.get(code, None)
        if parent is None:
            return f"/{code}/"
        return path(parent, trail + (code,)) + f"{code}/"

    out: dict[str, str] = {}
    for code in parents:
        out[code] = paths[code] = path(code)
    return out


def check_items(
    items: Iterable[tuple[int, Any]], profile: dict[str, Any], where: Where, **options: Any
) -> GridChecker:
    """Check (index, feature) pairs; call `finish(crs)` on the result."""
    checker = GridChecker(profile, where, **options)
    for i, feature in items:
        checker.add(i, feature)
    return checker

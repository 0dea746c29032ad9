"""Point-to-grid lookups: the hot path of intake (numpy and shapely only, no database)."""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely


@dataclass
class GridIndex:
    """Every grid, for point lookups: the hot path of intake.

    A point is first tried against the deepest-level grids through a uniform bucket hash
    (cell size about one unit grid, so a handful of candidates and no geometry object to
    build); the deepest grid's chain of parents is precomputed. Points that no deepest-level
    grid holds (a street without unit grids, say) fall back to an STRtree over all levels.
    A point on a shared edge belongs to the grid with the lowest code (grids are indexed in
    code order), whichever path finds it.
    """

    codes: list[str]
    parents: dict[str, str | None]
    units: dict[str, str | None]
    area_classes: dict[str, str | None]
    depth: np.ndarray
    tree: shapely.STRtree
    geoms: np.ndarray
    buckets: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    cell: float = 1.0
    origin: tuple[float, float] = (0.0, 0.0)
    answers: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def build(cls, rows: Iterable[Mapping[Any, Any]], level_order: list[str]) -> "GridIndex":
        rows = sorted(rows, key=lambda r: r["code"])
        depth_of = {code: i for i, code in enumerate(level_order)}
        geoms = shapely.from_wkb([r["geometry"] for r in rows]) if rows else np.array([], dtype=object)
        shapely.prepare(geoms)
        index = cls(
            codes=[r["code"] for r in rows],
            parents={r["code"]: r["parent"] for r in rows},
            units={r["code"]: r["unit"] for r in rows},
            area_classes={r["code"]: r["area_class"] for r in rows},
            depth=np.array([depth_of.get(r["level"], 0) for r in rows], dtype=np.int32),
            tree=shapely.STRtree(geoms),
            geoms=geoms,
        )
        index.answers = [index._answer(code) for code in index.codes]
        index._bucket()
        return index

    def _answer(self, code: str) -> dict[str, Any]:
        grids = self.chain(code)
        return {
            "grid": code,
            "grids": grids,
            "unit": next((self.units[g] for g in grids if self.units.get(g)), None),
            "area_class": next((self.area_classes[g] for g in grids if self.area_classes.get(g)), None),
        }

    def _bucket(self) -> None:
        if not len(self.codes):
            return
        deepest = np.flatnonzero(self.depth == self.depth.max())
        bounds = shapely.bounds(self.geoms[deepest])
        sizes = np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])
        self.cell = float(np.median(sizes)) or 1e-3
        self.origin = (float(bounds[:, 0].min()), float(bounds[:, 1].min()))
        cells: dict[tuple[int, int], list[int]] = {}
        spans = np.floor((bounds - np.array([*self.origin, *self.origin])) / self.cell).astype(np.int64)
        for i, (x0, y0, x1, y1) in zip(deepest, spans, strict=True):
            if (x1 - x0 + 1) * (y1 - y0 + 1) > 10_000:
                continue  # a grid far larger than the rest is left to the STRtree
            for cx in range(x0, x1 + 1):
                for cy in range(y0, y1 + 1):
                    cells.setdefault((cx, cy), []).append(int(i))
        self.buckets = {key: np.array(members, dtype=np.int64) for key, members in cells.items()}

    @classmethod
    def from_profile(cls, profile: dict[str, Any]) -> "GridIndex":
        """An index of the grids a profile carries (without a database)."""
        from gridcase.core.errors import GridImportError
        from gridcase.core.places.grids import check_features

        rows, problems = check_features(
            profile.get("grids") or {"type": "FeatureCollection", "features": []}, profile
        )
        if problems:
            raise GridImportError(problems)
        return cls.build(rows, [lvl["code"] for lvl in profile.get("grid_levels", [])])

    def __len__(self) -> int:
        return len(self.codes)

    def chain(self, code: str | None) -> list[str]:
        out: list[str] = []
        while code is not None and code not in out:
            out.append(code)
            code = self.parents.get(code)
        return out

    def units_of(self, codes: Iterable[str]) -> dict[str, str | None]:
        """The territorial unit of each grid (routing's 属地兜底 reads these, not the profile)."""
        return {code: self.units.get(code) for code in codes}

    def locate(self, lon: float, lat: float) -> dict[str, Any] | None:
        """The deepest grid holding the point, with its chain of parents; None outside every grid."""
        key = (math.floor((lon - self.origin[0]) / self.cell), math.floor((lat - self.origin[1]) / self.cell))
        candidates = self.buckets.get(key)
        if candidates is not None:
            inside = candidates[shapely.intersects_xy(self.geoms[candidates], lon, lat)]
            if len(inside):
                return dict(self.answers[int(inside[0])])
        candidates = self.tree.query(shapely.Point(lon, lat))
        if len(candidates) == 0:
            return None
        inside = candidates[shapely.intersects_xy(self.geoms[candidates], lon, lat)]
        if len(inside) == 0:
            return None
        deepest = inside[self.depth[inside] == self.depth[inside].max()]
        return dict(self.answers[int(deepest.min())])

    def locate_many(self, lons: np.ndarray, lats: np.ndarray) -> list[str | None]:
        """The deepest grid of each point (vectorised: for imports and analyses)."""
        points = shapely.points(lons, lats)
        point_idx, grid_idx = self.tree.query(points, predicate="intersects")
        out: list[str | None] = [None] * len(points)
        best = np.full(len(points), -1)
        for p, g in zip(point_idx, grid_idx, strict=True):
            b = best[p]
            if b < 0 or self.depth[g] > self.depth[b] or (self.depth[g] == self.depth[b] and g < b):
                best[p] = g
        for p, g in enumerate(best):
            if g >= 0:
                out[p] = self.codes[g]
        return out


def metres_scale(lat: float) -> tuple[float, float]:
    """Metres per degree of longitude and of latitude at `lat`."""
    return 111_320.0 * math.cos(math.radians(lat)), 110_574.0


def area_m2(geometry: shapely.Geometry) -> float:
    if geometry.is_empty:
        return 0.0
    sx, sy = metres_scale(geometry.centroid.y)
    return geometry.area * sx * sy

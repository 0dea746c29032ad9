"""Built-in location: which grids of the profile contain a WGS-84 point (shapely STRtree)."""

from typing import Any

import shapely
from shapely.geometry import shape

from gridcase.core.hookspecs import hookimpl


class GridIndex:
    """The profile's grid polygons in an STRtree, deepest level preferred."""

    def __init__(self, profile: dict[str, Any]) -> None:
        features = profile.get("grids", {}).get("features", [])
        depth = {lvl["code"]: i for i, lvl in enumerate(profile.get("grid_levels", []))}
        self.props = [f["properties"] for f in features]
        self.depth = [depth.get(p.get("level"), 0) for p in self.props]
        self.tree = shapely.STRtree([shape(f["geometry"]) for f in features])
        self.by_code = {p["code"]: p for p in self.props}

    def locate(self, lon: float, lat: float) -> dict[str, Any] | None:
        hits = self.tree.query(shapely.Point(lon, lat), predicate="intersects")
        if len(hits) == 0:
            return None
        props = self.props[max(hits, key=lambda i: (self.depth[i], -i))]
        chain, seen = [], set()
        while props is not None and props["code"] not in seen:
            seen.add(props["code"])
            chain.append(props)
            props = self.by_code.get(props.get("parent"))
        unit = next((p["unit"] for p in chain if p.get("unit")), None)
        return {"grid": chain[0]["code"], "grids": [p["code"] for p in chain], "unit": unit}


_indexes: dict[int, tuple[Any, GridIndex]] = {}


def index_for(profile: dict[str, Any]) -> GridIndex:
    features = profile.get("grids", {}).get("features", [])
    cached = _indexes.get(id(features))
    if cached is None or cached[0] is not features:  # keep the list alive so its id stays unique
        cached = (features, GridIndex(profile))
        _indexes[id(features)] = cached
    return cached[1]


@hookimpl
def locate_case(report: dict[str, Any], profile: dict[str, Any]) -> dict[str, Any] | None:
    point = report.get("point")
    if not point or not profile.get("grids", {}).get("features"):
        return None
    return index_for(profile).locate(float(point[0]), float(point[1]))

"""Built-in location: the deepest grid containing the point, from the deployment's grid index."""

from typing import Any

from gridcase.core.grids import GridIndex
from gridcase.core.hookspecs import hookimpl


@hookimpl
def locate_case(
    report: dict[str, Any], profile: dict[str, Any], grids: GridIndex | None
) -> dict[str, Any] | None:
    point = report.get("point")
    if not point:
        return None
    index = grids if grids is not None else GridIndex.from_profile(profile)
    return index.locate(float(point[0]), float(point[1]))

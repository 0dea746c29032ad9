"""Built-in location: the deepest grid containing the point, from the deployment's grid index."""

from typing import Any

from gridcase.core.hookspecs import hookimpl


@hookimpl
def locate_case(report: dict[str, Any], profile: dict[str, Any], grids: Any) -> dict[str, Any] | None:
    point = report.get("point")
    if not point:
        return None
    if grids is None:  # no deployment index (a profile checked on its own): index the profile's grids
        from gridcase.core.places.gridindex import GridIndex

        grids = GridIndex.from_profile(profile)
    return grids.locate(float(point[0]), float(point[1]))

"""Built-in location: the deepest grid containing the point, from the deployment's grid index."""

from typing import Any

from gridcase.core.context import HookContext, IncomingReport, Location
from gridcase.core.hookspecs import hookimpl


@hookimpl
def locate_case(ctx: HookContext, report: IncomingReport, grids: Any) -> Location | None:
    if report.lon is None or report.lat is None:
        return None
    return grids.locate(report.lon, report.lat)

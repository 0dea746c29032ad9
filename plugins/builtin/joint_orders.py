"""Joint orders (禅城's 联合执法): one order, a sub-task of the case for each unit named.

A transition with ``moves: [joint_order]`` and ``requires: {fields: [units]}`` gives each unit in
its ``units`` a sub-task of the case instead of re-dispatching the case itself: numbered
``<case>-1``, ``<case>-2`` …, dispatched at once with clocks of their own, and fed back to the
case as each closes (core's sub-task machinery, cases/subtasks.py).
"""

from collections.abc import Sequence

from gridcase.core.context import HookContext, MoveRequest, UnitMove
from gridcase.core.errors import GridcaseError
from gridcase.core.hookspecs import hookimpl


def units_named(ctx: HookContext, request: MoveRequest) -> Sequence[str]:
    units = request.payload.get("units")
    if isinstance(units, str):
        units = [units]
    if not (isinstance(units, list) and units and all(isinstance(u, str) for u in units)):
        raise GridcaseError("invalid_field", "units must be a list of unit codes", {"field": "units"})
    return units


@hookimpl
def register_unit_moves() -> list[UnitMove]:
    return [UnitMove("joint_order", "联合执法", takes_units=True, subtasks=units_named)]

"""Tiered raising (禅城's 小事不出网格、一般事不出片区、大事不出街道): a unit that cannot resolve a
case raises it to the unit above it.

A transition with ``moves: [raise_units]`` dispatches the case afresh to the parent, in the
profile's unit tree, of the deepest unit handling it (a grid's team → the area → the street);
the unit below lets go. A case with no unit above its handler cannot be raised.
"""

from collections.abc import Sequence

from gridcase.core.context import HookContext, MoveRequest, UnitMove
from gridcase.core.errors import GridcaseError
from gridcase.core.hookspecs import hookimpl


def unit_above(ctx: HookContext, request: MoveRequest) -> Sequence[str]:
    deepest = max(request.handling, key=lambda h: h.depth).unit if request.handling else None
    found = ctx.units.get(deepest) if deepest else None
    if found is None or found.parent is None:
        raise GridcaseError("invalid_field", f"there is no unit above {deepest or 'an undispatched case'}")
    return [found.parent]


@hookimpl
def register_unit_moves() -> list[UnitMove]:
    return [UnitMove("raise_units", "逐级上报", handling=unit_above)]

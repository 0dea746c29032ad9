"""The command routing mechanism (和平 五所进街): a street commands its territory's stations.

A class with a `line` of work (public security, market supervision …) goes to the unit that
commands the station of that line in the case's territory, nearest grid first: a unit lists the
stations it commands under `commands`, a station names its line under `line`. With
`routing.command.line_owner_share`, the station's own bureau shares the case (一事双责), the
commander keeping `commander_share`. A city without lines never meets this mechanism; a city
with its own command rules answers `route_case` before it.
"""

from typing import Any

from gridcase.core.context import HookContext, Routing, RoutingRequest, Share
from gridcase.core.hookspecs import hookimpl
from gridcase.core.profile.taxonomy import find_class, label_zh
from gridcase.plugins.builtin.routing import component_unit


@hookimpl
def route_case(ctx: HookContext, request: RoutingRequest) -> Routing | None:
    profile = ctx.profile.plain
    found = find_class(profile, request.class_code, request.kind)
    line = found["minor"].get("line") if found else None
    if not line or component_unit(request):  # a known component's own unit comes first
        return None
    units = {u["code"]: u for u in profile.get("units", [])}
    for code in request.grids or ((request.grid,) if request.grid else ()):
        commander = units.get(request.grid_units.get(code) or "")
        if commander is None:
            continue
        station = next(
            (units[c] for c in commander.get("commands", []) if units.get(c, {}).get("line") == line), None
        )
        if station is not None and found is not None:
            name = label_zh(found["minor"].get("name")) or request.class_code
            return _shares(profile.get("routing", {}).get("command", {}), units, commander, station, name)
    return None


def _shares(
    spec: dict[str, Any],
    units: dict[str, Any],
    commander: dict[str, Any],
    station: dict[str, Any],
    name: str,
) -> Routing:
    owner: str | None = station.get("parent")
    commander_share = float(spec.get("commander_share", 1.0))
    shared = owner is not None and owner != commander["code"] and bool(spec.get("line_owner_share"))
    result: list[Share] = [{"unit": commander["code"], "share": commander_share if shared else 1.0}]
    if shared and owner is not None:
        result.append({"unit": owner, "share": round(1 - commander_share, 6)})
    commander_name, station_name = label_zh(commander.get("name")), label_zh(station.get("name"))
    why = f"小类 {name}：{commander_name}指挥本辖区的{station_name}"
    if shared and owner is not None:
        owner_name = label_zh(units.get(owner, {}).get("name")) or owner
        why += f"，与{owner_name}共同负责（{commander_share:.0%}/{1 - commander_share:.0%}）"
    return {"units": result, "rule": "command", "explanation": why}

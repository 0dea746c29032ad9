"""Built-in routing: who is responsible for a case, and why.

Precedence: the component's maintainer, owner or supervising unit (for a component case with
a known component); then, for a class with a `line` of work, the unit that commands the
territory's station of that line (和平 五所进街), sharing with the station's own bureau when
`routing.command` says so (一事双责); then the class's responsible units (with shares); then the
territorial unit of the case's grid or its nearest ancestor grid (属地兜底).
"""

from typing import Any

from gridcase.core.hookspecs import hookimpl
from gridcase.core.profile.taxonomy import find_class, label_zh

COMPONENT_UNITS = (
    ("maintainer_unit", "养护单位"),
    ("owner_unit", "权属单位"),
    ("supervisor_unit", "主管部门"),
)


def _commanded(profile: dict[str, Any], case: dict[str, Any], line: str, name: str) -> dict[str, Any] | None:
    """The territory's commanding unit for a station of `line`, nearest grid first."""
    units = {u["code"]: u for u in profile.get("units", [])}
    grids = _grid_units(case, profile)
    for code in case.get("grids") or ([case["grid"]] if case.get("grid") else []):
        commander = units.get(grids.get(code) or "")
        if commander is None:
            continue
        station = next(
            (units[c] for c in commander.get("commands", []) if units.get(c, {}).get("line") == line), None
        )
        if station is None:
            continue
        spec = profile.get("routing", {}).get("command", {})
        owner = station.get("parent")
        commander_share = float(spec.get("commander_share", 1.0))
        shared = owner and owner != commander["code"] and spec.get("line_owner_share")
        result = [{"unit": commander["code"], "share": commander_share if shared else 1.0}]
        if shared:
            result.append({"unit": owner, "share": round(1 - commander_share, 6)})
        commander_name, station_name = label_zh(commander.get("name")), label_zh(station.get("name"))
        why = f"小类 {name} 属{line}条线；{commander_name}指挥本辖区的{station_name}"
        if shared:
            owner_name = label_zh(units.get(owner, {}).get("name")) or owner
            why += f"，与{owner_name}共同负责（{commander_share:.0%}/{1 - commander_share:.0%}）"
        return {"units": result, "rule": "command", "explanation": why, "station": station["code"]}
    return None


# grid code → unit, per profile's grid list: building it took a fortieth of a simulated month's
# time. Keyed by the list's id and checked by identity, a few profiles at a time.
_GRID_UNITS: dict[int, tuple[list, dict[str, str | None]]] = {}


def _grid_units(case: dict[str, Any], profile: dict[str, Any]) -> dict[str, str | None]:
    """The territorial unit of each grid: the deployment's grid table, as the engine hands it over
    in `grid_units`; the profile's own grids only for a case routed without a deployment."""
    if "grid_units" in case:
        return case["grid_units"]
    features = profile.get("grids", {}).get("features", [])
    cached = _GRID_UNITS.get(id(features))
    if cached is None or cached[0] is not features:
        if len(_GRID_UNITS) >= 8:
            _GRID_UNITS.clear()
        cached = _GRID_UNITS[id(features)] = (
            features,
            {f["properties"]["code"]: f["properties"].get("unit") for f in features},
        )
    return cached[1]


@hookimpl
def route_case(case: dict[str, Any], profile: dict[str, Any]) -> dict[str, Any] | None:
    found = find_class(profile, case.get("class"), case.get("kind"))
    minor = found["minor"] if found else {}
    name = label_zh(minor.get("name")) or case.get("class")
    component = case.get("component") or {}
    if found and found["kind"] == "component":
        for key, title in COMPONENT_UNITS:
            if component.get(key):
                return {
                    "units": [{"unit": component[key], "share": 1.0}],
                    "rule": "component",
                    "explanation": f"部件 {component.get('code', '')} 的{title}为 {component[key]}",
                }
    if minor.get("line"):
        found = _commanded(profile, case, minor["line"], name)
        if found:
            return found
    if minor.get("units"):
        units = [{"unit": u["unit"], "share": float(u["share"])} for u in minor["units"]]
        shares = "、".join(f"{u['unit']} {u['share']:.0%}" for u in units)
        return {
            "units": units,
            "rule": "class_shares",
            "explanation": f"小类 {name} 由多个单位共同负责：{shares}",
        }
    if minor.get("unit"):
        return {
            "units": [{"unit": minor["unit"], "share": 1.0}],
            "rule": "class",
            "explanation": f"小类 {name} 的责任单位为 {minor['unit']}",
        }
    grids = _grid_units(case, profile)
    for code in case.get("grids") or ([case["grid"]] if case.get("grid") else []):
        unit = grids.get(code)
        if unit:
            return {
                "units": [{"unit": unit, "share": 1.0}],
                "rule": "territorial",
                "explanation": f"属地兜底：网格 {code} 的属地单位为 {unit}",
            }
    return None

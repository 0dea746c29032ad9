"""Built-in routing: who is responsible for a case, and why.

Precedence: the component's maintainer, owner or supervising unit (for a component case with
a known component); then the class's responsible units (with shares, 一事双责); then the
territorial unit of the case's grid or its nearest ancestor grid (属地兜底).
"""

from typing import Any

from gridcase.core.hookspecs import hookimpl
from gridcase.core.taxonomy import find_class, label_zh

COMPONENT_UNITS = (
    ("maintainer_unit", "养护单位"),
    ("owner_unit", "权属单位"),
    ("supervisor_unit", "主管部门"),
)


def _grid_units(profile: dict[str, Any]) -> dict[str, dict]:
    return {f["properties"]["code"]: f["properties"] for f in profile.get("grids", {}).get("features", [])}


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
    grids = _grid_units(profile)
    for code in case.get("grids") or ([case["grid"]] if case.get("grid") else []):
        unit = grids.get(code, {}).get("unit")
        if unit:
            return {
                "units": [{"unit": unit, "share": 1.0}],
                "rule": "territorial",
                "explanation": f"属地兜底：网格 {code} 的属地单位为 {unit}",
            }
    return None

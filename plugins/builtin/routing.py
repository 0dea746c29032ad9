"""Built-in routing: who is responsible for a case, and why.

Precedence: the component's maintainer, owner or supervising unit (for a component case with
a known component); then the class's responsible units (with shares); then the territorial unit
of the case's grid or its nearest ancestor grid (属地兜底). A mechanism that routes by other
rules (和平's command routing, gridcase.plugins.builtin.command_routing) answers before this.
"""

from gridcase.core.context import HookContext, Routing, RoutingRequest, Share
from gridcase.core.hookspecs import hookimpl
from gridcase.core.profile.taxonomy import find_class, label_zh

COMPONENT_UNITS = (
    ("maintainer_unit", "养护单位"),
    ("owner_unit", "权属单位"),
    ("supervisor_unit", "主管部门"),
)


def component_unit(request: RoutingRequest) -> tuple[str, str] | None:
    """The unit a known component names for its case, and which of its units that is."""
    if request.kind != "component" or not request.component:
        return None
    for key, title in COMPONENT_UNITS:
        if request.component.get(key):
            return request.component[key], title
    return None


@hookimpl
def route_case(ctx: HookContext, request: RoutingRequest) -> Routing | None:
    found = find_class(ctx.profile.plain, request.class_code, request.kind)
    minor = found["minor"] if found else {}
    name = label_zh(minor.get("name")) or request.class_code
    by_component = component_unit(request) if found else None
    if by_component:
        unit, title = by_component
        return {
            "units": [{"unit": unit, "share": 1.0}],
            "rule": "component",
            "explanation": f"部件 {(request.component or {}).get('code', '')} 的{title}为 {unit}",
        }
    if minor.get("units"):
        units: list[Share] = [{"unit": u["unit"], "share": float(u["share"])} for u in minor["units"]]
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
    for code in request.grids or ((request.grid,) if request.grid else ()):
        territorial = request.grid_units.get(code)
        if territorial:
            return {
                "units": [{"unit": territorial, "share": 1.0}],
                "rule": "territorial",
                "explanation": f"属地兜底：网格 {code} 的属地单位为 {territorial}",
            }
    return None

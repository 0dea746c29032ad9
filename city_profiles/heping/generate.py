"""Writes units.yaml, grids.geojson and taxonomy.yaml of the 和平 (Heping, Shenyang) profile.

    python -m gridcase.city_profiles.heping.generate

The structure is the seed's (shared seeds/000): 13 street offices with 100 communities between
them, and in each street the five stations (环卫所, 执法所, 房产维修所, 派出所, 水务所) that belong
to their bureaus but are commanded by the street (五所进街); the centre's 9 divisions; 130 unit
grids, one per supervisor. The grids are rectangles over Heping's real extent (their shapes are
placeholders; a deployment imports its surveyed grids with `gridcase import grids`).

The taxonomy: 民生110 grew 和平's classes from 12 major / 178 minor to 35 major / 337 minor. The
seed names none of the new ones, so the standard's 11 majors and 139 minors are kept and the rest
are placeholders named as such (民生110 事项 NN-MM), to be replaced by the district's item list.
Classes of a station's line of work carry that `line` (五所进街).
"""

from pathlib import Path

from gridcase.city_profiles.generated import write
from gridcase.core.places.grids import lattice

HERE = Path(__file__).parent
DIVISION = "210102"  # 沈阳市和平区, GB/T 2260
BBOX = (123.335, 41.735, 123.455, 41.810)
STREETS = [
    "太原街",
    "南市场",
    "八经",
    "马路湾",
    "集贤",
    "长白",
    "浑河湾",
    "新华",
    "北市场",
    "南湖",
    "沈水湾",
    "光荣",
    "浑河站",
]
COMMUNITIES = [8] * 9 + [7] * 4  # 100 communities
GRIDS_PER_COMMUNITY = [2] * 30 + [1] * 70  # 130 unit grids
LINES = [  # code, station, bureau code, bureau
    ("sanitation", "环卫所", "sanitation_bureau", "环境卫生管理局"),
    ("enforcement", "执法所", "enforcement_bureau", "城市管理行政执法局"),
    ("housing", "房产维修所", "housing_bureau", "房产局"),
    ("police", "派出所", "police_bureau", "公安分局"),
    ("water", "水务所", "water_bureau", "水务局"),
]
DIVISIONS = [
    "呼叫派遣处",
    "督查督办处",
    "纪检监察处",
    "代整治处",
    "互检互查处",
    "绩效考评考核处",
    "监督员管理处",
    "系统运维处",
    "水务整治处",
]


def units() -> list[dict]:
    out = [
        {"code": "heping", "name": "和平区", "kind": "district"},
        {"code": "centre", "name": "和平区城市协同服务监督指挥中心", "kind": "centre", "parent": "heping"},
    ]
    out += [
        {"code": f"division{i}", "name": name, "kind": "centre", "parent": "centre"}
        for i, name in enumerate(DIVISIONS, 1)
    ]
    out += [
        {"code": bureau, "name": name, "kind": "department", "parent": "heping"}
        for _, _, bureau, name in LINES
    ]
    community = 0
    for s, (street_name, communities) in enumerate(zip(STREETS, COMMUNITIES, strict=True), 1):
        street = f"street{s:02d}"
        stations = [f"{street}_{line}" for line, *_ in LINES]
        out.append(
            {"code": street, "name": f"{street_name}街道办事处", "kind": "street", "parent": "heping",
             "commands": stations}
        )  # fmt: skip
        out += [
            {"code": f"{street}_{line}", "name": f"{street_name}{station}", "kind": "station",
             "parent": bureau, "line": line}
            for line, station, bureau, _ in LINES
        ]  # fmt: skip
        for _ in range(communities):
            community += 1
            out.append(
                {"code": f"community{community:03d}", "name": f"{street_name}第{community}社区",
                 "kind": "community", "parent": street}
            )  # fmt: skip
    return out


# (kind, major, minor) -> line of work: the stations' classes among the standard ones
CLASS_LINES = {
    ("component", "01", "0101"): "water", ("component", "01", "0102"): "water",
    ("component", "01", "0103"): "water",
    ("event", "01", "0101"): "enforcement", ("event", "01", "0102"): "sanitation",
    ("event", "01", "0103"): "sanitation", ("event", "01", "0104"): "sanitation",
    ("event", "01", "0113"): "housing", ("event", "04", "0404"): "water", ("event", "04", "0409"): "police",
    ("event", "05", "0501"): "enforcement", ("event", "05", "0504"): "enforcement",
    ("event", "05", "0505"): "police",
}  # fmt: skip
MAJORS, MINORS = 35, 337
STANDARD_MAJORS, STANDARD_MINORS = 11, 139


def taxonomy() -> dict:
    """The overrides on the standard's CJ/T 214 edition: lines of work, and the 民生110 placeholders."""
    component, event = {}, {}
    for (kind, major, minor), line in CLASS_LINES.items():
        (component if kind == "component" else event).setdefault(major, []).append(
            {"code": minor, "line": line}
        )
    extra_majors = MAJORS - STANDARD_MAJORS
    extra_minors = MINORS - STANDARD_MINORS
    for n in range(extra_majors):
        major = f"{6 + n:02d}"  # the standard's 事件 majors end at 05
        count = extra_minors // extra_majors + (1 if n < extra_minors % extra_majors else 0)
        event[major] = [
            {
                "code": f"{major}{m:02d}",
                "name": f"民生110 事项 {major}-{m:02d}（占位）",
                "unit": "centre",
                "published": False,
            }
            for m in range(1, count + 1)
        ]
    majors = {f"{6 + n:02d}": f"民生110 大类 {6 + n:02d}（占位）" for n in range(extra_majors)}
    return {
        "editions": [
            {
                "code": "cjt214",
                "component": [{"code": m, "minors": minors} for m, minors in component.items()],
                "event": [
                    {"code": m, **({"name": majors[m]} if m in majors else {}), "minors": minors}
                    for m, minors in event.items()
                ],
            }
        ]
    }


def grids() -> dict:
    doc = lattice(
        BBOX, DIVISION, ["district", "street", "community", "unit_grid"],
        [len(STREETS), COMMUNITIES, GRIDS_PER_COMMUNITY], [3, 3, 3],
    )  # fmt: skip
    streets = {f"{DIVISION}{s:03d}": f"street{s:02d}" for s in range(1, len(STREETS) + 1)}
    communities = iter(range(1, 101))
    for feature in doc["features"]:
        props = feature["properties"]
        if props["level"] == "district":
            props["unit"] = "heping"
        elif props["level"] == "street":
            props["unit"] = streets[props["code"]]
        elif props["level"] == "community":
            props["unit"] = f"community{next(communities):03d}"
    return doc


def main() -> None:
    write(HERE, units(), grids(), taxonomy())


if __name__ == "__main__":
    main()

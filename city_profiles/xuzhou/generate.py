"""Writes units.yaml, grids.geojson and taxonomy.yaml of the 徐州 (Xuzhou) profile.

    python -m gridcase.city_profiles.xuzhou.generate

The structure is the seed's (shared seeds/002): 7 districts, 54 street offices in classes A–E,
41 departments in 3 classes, and 955 km² gridded; and the five county platforms that feed the
city's (丰县, 沛县, 睢宁县, 新沂市, 邳州市), each with placeholder towns and grids around its
seat. The taxonomy grows the standard's 6/85 component and 5/54 event classes to the seed's 7/90
and 6/81; the seed gives the counts, not the names, so the new classes are placeholders marked
（占位）. Names of districts and counties are real; the others are placeholders. The grids are
rectangles over the city (placeholders for the survey).
"""

from pathlib import Path

from gridcase.city_profiles.generated import assign_units, numbered_units, write
from gridcase.core.places.grids import lattice

HERE = Path(__file__).parent
DIVISION = "320300"  # 徐州市, GB/T 2260
BBOX = (117.02, 34.1, 117.35, 34.36)  # about 30 × 29 km
DISTRICTS = [
    ("gulou", "鼓楼区"), ("yunlong", "云龙区"), ("jiawang", "贾汪区"), ("quanshan", "泉山区"),
    ("tongshan", "铜山区"), ("economic", "经济技术开发区"), ("xincheng", "新城区"),
]  # fmt: skip
STREETS = [9, 8, 6, 9, 12, 5, 5]  # 54 street offices
# city-county integration: the county platforms (县级平台), each over its own territory, feed the
# city's; code, name, GB/T 2260 code and the bbox its placeholder grids cover
COUNTIES = [
    ("fengxian", "丰县", "320321", (116.50, 34.60, 116.70, 34.76)),
    ("peixian", "沛县", "320322", (116.85, 34.65, 117.05, 34.80)),
    ("suining", "睢宁县", "320324", (117.85, 33.83, 118.05, 33.98)),
    ("xinyi", "新沂市", "320381", (118.25, 34.30, 118.45, 34.44)),
    ("pizhou", "邳州市", "320382", (117.86, 34.26, 118.06, 34.40)),
]
COUNTY_TOWNS = 4  # placeholder towns per county, each with 4 communities of 4 unit grids
STREET_CLASSES = "ABCDE"
DEPARTMENTS = 41
DEPARTMENT_CLASSES = ["I", "II", "III"]
NAMED_DEPARTMENTS = [
    ("municipal", "市政工程管理处"), ("sanitation", "环境卫生管理处"), ("greening", "园林局"),
    ("enforcement", "城市管理行政执法支队"), ("traffic_police", "公安局交通巡逻警察支队"),
    ("water", "威立雅水务"), ("gas", "港华燃气"), ("power", "供电公司"), ("telecom", "通信管线管理办公室"),
    ("lighting", "路灯管理处"),
]  # fmt: skip
# the seed's totals against the standard's (CJ/T 214 edition)
COMPONENT_MAJORS, COMPONENT_MINORS = 7, 90
EVENT_MAJORS, EVENT_MINORS = 6, 81
STANDARD = {"component": (6, 85), "event": (5, 54)}
# the seven key problems counted 2×, 3× or 5× in closure and on-time rates; the seed gives the
# multipliers and the count, not the classes, so these are the usual suspects
KEY_PROBLEMS = {
    ("component", "01", "0101"): 5, ("component", "01", "0102"): 5,  # 上水, 污水井盖
    ("event", "01", "0102"): 3, ("event", "01", "0104"): 3,  # 暴露垃圾, 道路不洁
    ("event", "05", "0501"): 2, ("event", "05", "0504"): 2, ("event", "02", "0201"): 2,  # 游商, 店外, 小广告
}  # fmt: skip


def units() -> list[dict]:
    out: list[dict] = [
        {"code": "xuzhou", "name": "徐州市", "kind": "district"},
        {"code": "centre", "name": "徐州市数字化城市管理监督指挥中心", "kind": "centre", "parent": "xuzhou"},
    ]
    out += [{"code": code, "name": name, "kind": "district", "parent": "xuzhou"} for code, name in DISTRICTS]
    districts = [(code, name, count) for (code, name), count in zip(DISTRICTS, STREETS, strict=True)]
    streets = numbered_units("street", "street{n:02d}", "{parent}街道{n:02d}（占位）", districts)
    out += [{**street, "class": STREET_CLASSES[i % len(STREET_CLASSES)]} for i, street in enumerate(streets)]
    for code, name, _, _ in COUNTIES:
        out.append({"code": code, "name": f"{name}数字城管平台", "kind": "county", "parent": "xuzhou"})
        out += [
            {"code": f"{code}_town{t}", "name": f"{name}第{t}镇（占位）", "kind": "street", "parent": code}
            for t in range(1, COUNTY_TOWNS + 1)
        ]
    named = dict(NAMED_DEPARTMENTS)
    codes = list(named) + [f"dept{d:02d}" for d in range(len(named) + 1, DEPARTMENTS + 1)]
    for d, code in enumerate(codes):
        out.append(
            {"code": code, "name": named.get(code, f"专业部门{d + 1:02d}（占位）"), "kind": "department",
             "parent": "xuzhou", "class": DEPARTMENT_CLASSES[d % len(DEPARTMENT_CLASSES)]}
        )  # fmt: skip
    return out


def taxonomy() -> dict:
    edition: dict[str, list] = {"component": [], "event": []}
    for (kind, major, minor), multiplier in KEY_PROBLEMS.items():
        majors = {m["code"]: m for m in edition[kind]}
        if major not in majors:
            edition[kind].append(majors.setdefault(major, {"code": major, "minors": []}))
        majors[major]["minors"].append({"code": minor, "multiplier": multiplier})
    totals = {"component": (COMPONENT_MAJORS, COMPONENT_MINORS), "event": (EVENT_MAJORS, EVENT_MINORS)}
    for kind, (majors, minors) in totals.items():
        standard_majors, standard_minors = STANDARD[kind]
        major = f"{standard_majors + 1:02d}"  # one new major class holds the new minor classes
        assert majors == standard_majors + 1
        label = "部件" if kind == "component" else "事件"
        edition[kind].append(
            {
                "code": major,
                "name": f"徐州{label}大类 {major}（占位）",
                "minors": [
                    {
                        "code": f"{major}{m:02d}",
                        "name": f"徐州{label} {major}-{m:02d}（占位）",
                        "published": False,
                    }
                    for m in range(1, minors - standard_minors + 1)
                ],
            }
        )
    return {"editions": [{"code": "cjt214", **edition}]}


def grids() -> dict:
    doc = lattice(
        BBOX, DIVISION, ["district", "street", "community", "unit_grid"], [sum(STREETS), 4, 4], [3, 3, 3]
    )
    streets = [f"street{s:02d}" for s in range(1, sum(STREETS) + 1)]
    assign_units(doc, {"district": ["xuzhou"], "street": streets})
    for code, _, division, bbox in COUNTIES:
        county = lattice(
            bbox, division, ["district", "street", "community", "unit_grid"], [COUNTY_TOWNS, 4, 4], [3, 3, 3]
        )
        towns = [f"{code}_town{t}" for t in range(1, COUNTY_TOWNS + 1)]
        doc["features"] += assign_units(county, {"district": [code], "street": towns})["features"]
    return doc


def main() -> None:
    write(HERE, units(), grids(), taxonomy())


if __name__ == "__main__":
    main()

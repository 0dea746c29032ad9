"""Writes units.yaml and grids.geojson of the 泰州 (Taizhou, Jiangsu) profile.

    python -m gridcase.city_profiles.taizhou.generate

The structure is the seed's (shared seeds/001), "一级监督、二级指挥、三级考核、四级联动": the
city centre supervises; 36 second-level platforms command (the four urban districts' and 32
departments'); 23 third-level platforms (street offices, under their district) and 8
fourth-level platforms (communities) take cases handed straight down 2 → 3 → 4; contracted
emergency repair teams, chosen by annual tender, are paid once the centre confirms their work.
The seed names the districts but not every platform: the others are placeholders marked
（占位）. The grids are rectangles over the urban area (placeholders for the surveyed ones).
"""

from pathlib import Path

from gridcase.city_profiles.generated import assign_units, numbered_units, write
from gridcase.core.places.grids import lattice

HERE = Path(__file__).parent
DIVISION = "321200"  # 泰州市, GB/T 2260
BBOX = (119.84, 32.38, 120.04, 32.56)
DISTRICTS = [("hailing", "海陵区"), ("gaogang", "高港区"), ("jiangyan", "姜堰区"), ("yiyao", "医药高新区")]
STREETS = [8, 6, 6, 3]  # 23 third-level platforms
COMMUNITIES = 8  # fourth-level platforms, under 海陵区's first streets
DEPARTMENTS = [
    ("municipal", "市政设施管理处"), ("sanitation", "环境卫生管理处"), ("greening", "园林管理局"),
    ("enforcement", "城市管理行政执法支队"), ("traffic_police", "公安局交通警察支队"),
    ("housing", "住房和城乡建设局"),
    ("water", "自来水公司"), ("gas", "港华燃气公司"), ("power", "供电公司"), ("telecom", "电信公司"),
    ("transport", "交通运输局"), ("ecology", "生态环境局"),
]  # fmt: skip
SECOND_LEVEL = 36
REPAIR_TEAMS = [
    ("repair_roads", "道路设施抢修队"),
    ("repair_green", "绿化抢修队"),
    ("repair_lights", "路灯抢修队"),
]


def units() -> list[dict]:
    out: list[dict] = [{"code": "taizhou", "name": "泰州市", "kind": "district"}]
    out.append(
        {"code": "centre", "name": "泰州市数字化城市管理监督指挥中心", "kind": "centre", "parent": "taizhou"}
    )
    for code, name in DISTRICTS:  # second-level platforms of the districts
        out.append({"code": code, "name": f"{name}城管指挥平台", "kind": "district", "parent": "taizhou"})
    departments = DEPARTMENTS + [
        (f"dept{n:02d}", f"专业部门{n:02d}（占位）")
        for n in range(len(DEPARTMENTS) + 1, SECOND_LEVEL - len(DISTRICTS) + 1)
    ]
    out += [
        {"code": code, "name": name, "kind": "department", "parent": "taizhou"} for code, name in departments
    ]
    districts = [(code, name, count) for (code, name), count in zip(DISTRICTS, STREETS, strict=True)]
    out += numbered_units("street", "street{n:02d}", "{parent}街道{n:02d}（占位）", districts)
    out += [
        {
            "code": f"community{c}",
            "name": f"海陵区社区{c}（占位）",
            "kind": "community",
            "parent": f"street{c:02d}",
        }
        for c in range(1, COMMUNITIES + 1)
    ]
    out += [
        {"code": code, "name": name, "kind": "contractor", "parent": "centre"} for code, name in REPAIR_TEAMS
    ]
    return out


def grids() -> dict:
    doc = lattice(
        BBOX, DIVISION, ["district", "street", "community", "unit_grid"],
        [sum(STREETS), 4, 3], [3, 3, 3],
    )  # fmt: skip
    streets = [f"street{s:02d}" for s in range(1, sum(STREETS) + 1)]
    return assign_units(doc, {"district": ["taizhou"], "street": streets})


def main() -> None:
    write(HERE, units(), grids())


if __name__ == "__main__":
    main()

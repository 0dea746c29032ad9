"""Writes units.yaml, grids.geojson and taxonomy.yaml of the 宜昌 (Yichang) profile.

    python -m gridcase.city_profiles.yichang.generate

The structure is the seed's (shared seeds/003): three centres sharing one intake (supervision
and command, social-conflict resolution, emergency); 三环运转, with the city bureau's 14 base
units as ring 1, the district handling centres as ring 2 and the city management committee's 48
member units as ring 3; 33 communities and 1,100-odd grids, one supervisor each; and a 24-hour
emergency team of 500. The seed names few units: the others are placeholders marked （占位）.
The taxonomy keeps the survey's 5/33 component and 5/45 event classes of the standard (which
ones the seed does not say: see SURVEY) and adds the two case types the standard lacks, social
conflicts and emergencies, with names of the usual kinds; each class names its case type
(workflow).
"""

from pathlib import Path

from gridcase.city_profiles.generated import assign_units, keep_only, numbered_units, standard_edition, write
from gridcase.core.places.grids import lattice

HERE = Path(__file__).parent
DIVISION = "420500"  # 宜昌市, GB/T 2260
BBOX = (111.22, 30.64, 111.38, 30.78)
DISTRICTS = [
    ("xiling", "西陵区"),
    ("wujiagang", "伍家岗区"),
    ("dianjun", "点军区"),
    ("xiaoting", "猇亭区"),
    ("yiling", "夷陵区"),
]
COMMUNITIES = [12, 9, 4, 3, 5]  # 33
GRIDS_PER_COMMUNITY = 34  # 1,122 grids
BASE_UNITS = 14
MEMBER_UNITS = 48
# the survey of the city-managed area (普查): 5 major and 33 minor component classes (11,393
# components) and 5 major and 45 minor event classes, classified against the national standard.
# The seed gives the counts, not the classes: the first of each of the standard's major classes
# stand in, as many of each as below.
SURVEY = {"component": [12, 8, 6, 4, 3], "event": [16, 5, 4, 8, 12]}
CONFLICTS = [
    "邻里纠纷",
    "物业纠纷",
    "劳资纠纷",
    "征地拆迁纠纷",
    "婚姻家庭纠纷",
    "消费纠纷",
    "医患纠纷",
    "群体性诉求",
]
EMERGENCIES = ["道路塌陷", "供水管道爆裂", "燃气泄漏", "城市内涝", "树木倒伏", "户外广告牌坠落", "冰雪灾害"]


def units() -> list[dict]:
    out: list[dict] = [
        {"code": "yichang", "name": "宜昌市", "kind": "district"},
        {"code": "centre", "name": "宜昌市城市管理监督指挥中心", "kind": "centre", "parent": "yichang"},
        {"code": "conflict_centre", "name": "社会矛盾调处中心", "kind": "centre", "parent": "yichang"},
        {"code": "emergency_centre", "name": "城市管理应急指挥中心", "kind": "centre", "parent": "yichang"},
        {"code": "emergency_team", "name": "24小时应急队伍（500人）", "kind": "task_force",
         "parent": "emergency_centre", "calendar": "round_the_clock"},
        {"code": "bureau", "name": "宜昌市城市管理局", "kind": "department", "parent": "yichang"},
    ]  # fmt: skip
    out += numbered_units(
        "base_unit", "base{n:02d}", "局属基层单位{n:02d}（占位）", [("bureau", "", BASE_UNITS)]
    )
    out += [
        {"code": code, "name": f"{name}城管处置中心", "kind": "district", "parent": "yichang"}
        for code, name in DISTRICTS
    ]
    out += numbered_units(
        "department", "member{n:02d}", "城管委成员单位{n:02d}（占位）", [("yichang", "", MEMBER_UNITS)]
    )
    districts = [(code, name, count) for (code, name), count in zip(DISTRICTS, COMMUNITIES, strict=True)]
    out += numbered_units("community", "community{n:02d}", "{parent}社区{n:02d}（占位）", districts)
    return out


def taxonomy() -> dict:
    conflicts = [
        {"code": f"06{m:02d}", "name": name, "workflow": "conflict"} for m, name in enumerate(CONFLICTS, 1)
    ]
    emergencies = [
        {"code": f"07{m:02d}", "name": name, "workflow": "emergency", "unit": "emergency_team"}
        for m, name in enumerate(EMERGENCIES, 1)
    ]
    edition = standard_edition()
    kept = {}
    for kind, keep in SURVEY.items():
        for major, count in zip(edition[kind], keep, strict=False):
            kept.update({(kind, major["code"], minor["code"]): {} for minor in major["minors"][:count]})
    out = keep_only(kept)
    out["event"] += [
        {"code": "06", "name": "社会矛盾", "minors": conflicts},
        {"code": "07", "name": "突发事件", "minors": emergencies},
    ]
    return {"editions": [{"code": "cjt214", **out}]}


def grids() -> dict:
    doc = lattice(
        BBOX, DIVISION, ["district", "street", "community", "unit_grid"],
        [len(DISTRICTS), COMMUNITIES, GRIDS_PER_COMMUNITY], [3, 3, 3],
    )  # fmt: skip
    return assign_units(
        doc,
        {
            "district": ["yichang"],
            "street": [code for code, _ in DISTRICTS],
            "community": [f"community{n:02d}" for n in range(1, sum(COMMUNITIES) + 1)],
        },
    )


def main() -> None:
    write(HERE, units(), grids(), taxonomy())


if __name__ == "__main__":
    main()

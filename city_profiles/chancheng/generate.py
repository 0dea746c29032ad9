"""Writes units.yaml, grids.geojson and taxonomy.yaml of the 禅城 (Chancheng, Foshan) profile.

    python -m gridcase.city_profiles.chancheng.generate

The structure is the seed's (shared seeds/004): a five-level grid (district, town, area,
village or residential community, micro-grid) with 921 micro-grids, about 6 per km² over the
district's 154 km²; the centre, the four towns, their areas and villages, and the 18
departments of the 一门式 item list. The grids are rectangles over Chancheng's real extent
(placeholders for the surveyed ones). The seed gives the item list's size (17 major, 133 minor
classes, about 1,367 items) but not its entries: the taxonomy here keeps the standard classes
the list's words name, each with the department answering for it and the words citizens use
for it (what the 一门式 classifier reads), removes the standard's others, and adds placeholder
classes marked （占位）, each with a department, up to the seed's 17 and 133.
"""

from pathlib import Path

from gridcase.city_profiles.generated import assign_units, keep_only, standard_edition, write
from gridcase.core.places.grids import lattice

HERE = Path(__file__).parent
DIVISION = "440604"  # 佛山市禅城区, GB/T 2260
BBOX = (113.035, 22.955, 113.165, 23.075)  # about 13 × 13 km
TOWNS = ["祖庙街道", "石湾镇街道", "张槎街道", "南庄镇"]
AREAS = [5, 4, 4, 3]  # 16 areas (片区)
VILLAGES_PER_AREA = 6  # 96 villages and residential communities (村居)
MICRO_GRIDS = 921
MAJORS, MINORS = 17, 133  # the item list of the 18 departments (事项清单)
CHECKLIST_ITEMS = 334  # what grid workers patrol for (334个事项清单)
DEPARTMENTS = [  # code, name
    ("enforcement", "城市管理和综合执法局"),
    ("market", "市场监督管理局"),
    ("environment", "环境运输和城市管理局"),
    ("housing", "住房城乡建设和水利局"),
    ("resources", "自然资源分局"),
    ("police", "公安分局"),
    ("ecology", "生态环境分局"),
    ("health", "卫生健康局"),
    ("education", "教育局"),
    ("civil", "民政局"),
    ("labour", "人力资源和社会保障局"),
    ("emergency", "应急管理局"),
    ("transport", "交通运输局"),
    ("culture", "文化广电旅游体育局"),
    ("fire", "消防救援大队"),
    ("power", "供电局"),
    ("water", "水业集团"),
    ("gas", "燃气公司"),
]
# (kind, major, minor): department, and the words people use for it (一门式 reads these)
ITEMS = {
    ("event", "05", "0501"): ("enforcement", ["摆摊", "摊贩", "流动商贩", "小贩", "卖水果", "推车叫卖"]),
    ("event", "05", "0504"): ("enforcement", ["占道经营", "店门口摆", "出店经营", "货物摆到人行道"]),
    ("event", "05", "0510"): ("enforcement", ["烧烤摊", "路边烧烤", "油烟"]),
    ("event", "05", "0507"): ("enforcement", ["堆放杂物", "乱堆", "堆料"]),
    ("event", "02", "0201"): ("enforcement", ["牛皮癣", "小广告", "乱贴", "贴广告", "喷涂电话"]),
    ("event", "02", "0202"): ("enforcement", ["横幅", "违规招牌"]),
    ("event", "02", "0204"): ("enforcement", ["派传单", "发传单"]),
    ("event", "01", "0101"): ("enforcement", ["违建", "违章搭建", "乱搭", "铁皮棚"]),
    ("event", "01", "0102"): ("environment", ["垃圾没清", "垃圾堆", "垃圾满", "乱扔垃圾", "垃圾溢出"]),
    ("event", "01", "0103"): ("environment", ["建筑垃圾", "渣土", "余泥"]),
    ("event", "01", "0104"): ("environment", ["路面脏", "道路很脏", "没人扫", "油污"]),
    ("event", "01", "0105"): ("environment", ["河涌", "水面漂浮", "水浮莲"]),
    ("event", "01", "0106"): (None, ["绿地脏乱", "草地垃圾"]),  # no department: the territory answers
    ("event", "01", "0107"): ("police", ["僵尸车", "废弃车", "报废车"]),
    ("event", "01", "0110"): ("housing", ["路面坑洼", "坑洞", "路面破", "路烂"]),
    ("event", "03", "0301"): ("ecology", ["施工噪音", "夜间施工", "半夜施工"]),
    ("event", "03", "0302"): ("ecology", ["扬尘", "灰尘大", "工地尘土"]),
    ("event", "04", "0401"): ("housing", ["塌陷", "地陷", "下沉"]),
    ("event", "04", "0402"): ("water", ["水管爆", "爆管", "漏水", "停水"]),
    ("event", "04", "0403"): ("gas", ["燃气泄漏", "煤气味", "气味很大"]),
    ("event", "04", "0404"): ("water", ["下水道堵", "渠道堵塞", "污水冒出", "沙井冒水"]),
    ("event", "04", "0406"): ("water", ["水浸", "内涝", "积水"]),
    ("event", "04", "0408"): ("power", ["电线垂落", "电线掉", "线缆断"]),
    ("event", "05", "0505"): ("police", ["乱停车", "违停", "堵住车道", "占用人行道停车"]),
    ("event", "05", "0506"): ("police", ["单车乱停", "共享单车", "电动车乱放"]),
    ("event", "05", "0508"): ("ecology", ["喇叭", "音响太吵", "噪音扰民"]),
    ("component", "01", "0101"): ("water", ["自来水井盖", "上水井盖"]),
    ("component", "01", "0102"): ("housing", ["污水井盖", "沙井盖", "井盖不见", "井盖坏", "井盖松动"]),
    ("component", "01", "0105"): ("power", ["电力井盖"]),
    ("component", "01", "0111"): ("gas", ["燃气井盖"]),
    ("component", "02", "0210"): ("police", ["红绿灯", "信号灯坏"]),
    ("component", "02", "0211"): ("transport", ["护栏倒", "护栏坏", "栏杆断"]),
    ("component", "03", "0305"): ("environment", ["垃圾桶坏", "果皮箱", "垃圾箱坏"]),
    ("component", "03", "0301"): ("environment", ["公厕", "厕所"]),
    ("component", "04", "0402"): ("environment", ["树倒", "树枝断", "大树倾斜"]),
}  # fmt: skip


def villages() -> int:
    return sum(AREAS) * VILLAGES_PER_AREA


def micro_grids_per_village() -> list[int]:
    n = villages()
    base, extra = divmod(MICRO_GRIDS, n)
    return [base + 1] * extra + [base] * (n - extra)


def units() -> list[dict]:
    out = [
        {"code": "chancheng", "name": "禅城区", "kind": "district"},
        {"code": "centre", "name": "禅城区社会综合治理指挥中心", "kind": "centre", "parent": "chancheng"},
    ]
    out += [
        {"code": code, "name": name, "kind": "department", "parent": "chancheng"}
        for code, name in DEPARTMENTS
    ]
    village = 0
    area = 0
    for t, (town_name, areas) in enumerate(zip(TOWNS, AREAS, strict=True), 1):
        town = f"town{t}"
        out.append({"code": town, "name": town_name, "kind": "street", "parent": "chancheng"})
        for a in range(1, areas + 1):
            area += 1
            out.append(
                {"code": f"area{area:02d}", "name": f"{town_name}第{a}片区", "kind": "area", "parent": town}
            )
            for _ in range(VILLAGES_PER_AREA):
                village += 1
                out.append(
                    {"code": f"village{village:03d}", "name": f"{town_name}第{village}村居",
                     "kind": "community", "parent": f"area{area:02d}"}
                )  # fmt: skip
    return out


def taxonomy() -> dict:
    """The 一门式 item list of 17 major and 133 minor classes over the standard's CJ/T 214 edition:
    the standard classes the item list names keep their rows and gain their department and
    words; the rest of the standard's are removed; placeholder classes, each with a department,
    make up the seed's counts."""
    edition = standard_edition()
    out = keep_only(
        {key: {**({"unit": unit} if unit else {}), "aliases": words} for key, (unit, words) in ITEMS.items()}
    )
    kept_majors = sum(1 for kind in out for m in out[kind] if "$remove" not in m)
    new_majors, new_minors = MAJORS - kept_majors, MINORS - len(ITEMS)
    first = max(int(m["code"]) for m in edition["event"]) + 1
    # departments the named classes leave without items come first, so all 18 answer for some
    named = {unit for unit, _ in ITEMS.values() if unit}
    departments = [c for c, _ in DEPARTMENTS if c not in named] + [c for c, _ in DEPARTMENTS if c in named]
    n = 0
    for i in range(new_majors):
        major = f"{first + i:02d}"
        count = new_minors // new_majors + (1 if i < new_minors % new_majors else 0)
        minors = []
        for m in range(1, count + 1):
            minors.append(
                {"code": f"{major}{m:02d}", "name": f"禅城事项 {major}-{m:02d}（占位）",
                 "unit": departments[n % len(departments)], "published": False}
            )  # fmt: skip
            n += 1
        out["event"].append({"code": major, "name": f"禅城事项大类 {major}（占位）", "minors": minors})
    return {"editions": [{"code": "cjt214", **out}]}


def checklists() -> list[dict]:
    """The grid workers' patrol checklist: 334 items, two or three for each class of the item
    list. A class the list's words name gets items named after the class and those words; the
    placeholder classes get placeholder items."""
    names = {
        (kind, minor["code"]): minor["name"]
        for kind in ("component", "event")
        for major in standard_edition()[kind]
        for minor in major["minors"]
    }
    classes = [
        (kind, minor["code"], minor)
        for kind, majors in taxonomy()["editions"][0].items()
        if kind in ("component", "event")
        for major in majors
        if "$remove" not in major
        for minor in major["minors"]
        if "$remove" not in minor
    ]
    per_class, extra = divmod(CHECKLIST_ITEMS, len(classes))
    items = []
    for c, (kind, code, minor) in enumerate(classes):
        words = minor.get("aliases", [])
        base = (minor.get("name") or names[kind, code]).removesuffix("（占位）")
        for j in range(per_class + (1 if c < extra else 0)):
            n = len(items) + 1
            name = f"{names[kind, code]}：{words[j]}" if j < len(words) else f"{base} 巡查项{j + 1}（占位）"
            items.append({"code": f"P{n:03d}", "name": name, "kind": kind, "class": code})
    return [
        {"code": "patrol", "name": {"zh": "网格巡查事项清单", "en": "Grid patrol checklist"},
         "channels": ["patrol"], "items": items}
    ]  # fmt: skip


def grids() -> dict:
    doc = lattice(
        BBOX, DIVISION, ["district", "street", "area", "village", "micro_grid"],
        [len(TOWNS), AREAS, [VILLAGES_PER_AREA] * sum(AREAS), micro_grids_per_village()], [3, 2, 2, 2],
    )  # fmt: skip
    return assign_units(
        doc,
        {
            "district": ["chancheng"],
            "street": [f"town{t}" for t in range(1, len(TOWNS) + 1)],
            "area": [f"area{a:02d}" for a in range(1, sum(AREAS) + 1)],
            "village": [f"village{v:03d}" for v in range(1, villages() + 1)],
        },
    )


def main() -> None:
    write(HERE, units(), grids(), taxonomy(), checklists())


if __name__ == "__main__":
    main()

"""docs/plugins.md's tutorial, run as a reader would (issue 24, "What it must show").

江岸区 (420102) is not bundled: its profile, grids and roster are written here. The 街长制 plugin is
made with `gridcase plugin new`, its module replaced by the tutorial's code blocks in order, and
enabled by the profile block the tutorial gives. A simulated fortnight runs through the CLI; then
the test counts by hand, from the tables, what the 街长 should have been told and what the street
offices should lose, and compares it with the outbox and the assessment.
"""

import json
import re
import textwrap
from pathlib import Path

from .test_journey_new_city import Tables, grid

REPO = Path(__file__).parents[1]
DIVISION = "420102"
WEST, EAST, SOUTH, NORTH = 114.28, 114.32, 30.58, 30.61
STREETS = [("001", "大智街道", "dazhi"), ("002", "一元街道", "yiyuan")]

PROFILE = """
name: jiangan
extends: standard
title: {zh: 江岸区数字城管, en: Jiang'an digital city management}
region: {name: 江岸区, division_code: '420102', center: [114.30, 30.595], area_km2: 80}
units:
  - {code: jiangan, name: 江岸区人民政府, kind: district}
  - {code: dazhi, name: 大智街道, kind: street, parent: jiangan}
  - {code: yiyuan, name: 一元街道, kind: street, parent: jiangan}
  - {code: water, name: 区水务局, kind: department, parent: jiangan}
  - {code: enforcement, name: 区城管执法局, kind: department, parent: jiangan}
taxonomy:
  editions:
    - code: cjt214
      component:
        - code: '01'
          minors:
            - {code: '0101', unit: water}
      event:
        - code: '05'
          minors:
            - {code: '0501', unit: enforcement}
"""

PEOPLE = """\
姓名,登录名,角色,单位,网格
张大智,zhang,街长,dazhi,
王一元,wang,街长,yiyuan,
周监督,zhou,监督员,,420102
李坐席,li,受理员、值班长、派遣员,,
吴水务,wu,专业部门,water,
"""


def grids() -> dict:
    """The district, two streets side by side, each of two unit grids."""
    features = [grid(DIVISION, "江岸区", "district", (WEST, SOUTH, EAST, NORTH), unit="jiangan")]
    width = (EAST - WEST) / 2
    for i, (s, name, unit) in enumerate(STREETS):
        x0 = WEST + i * width
        street = DIVISION + s
        features.append(grid(street, name, "street", (x0, SOUTH, x0 + width, NORTH), DIVISION, unit))
        community = street + "001"
        features.append(grid(community, f"{name}社区", "community", (x0, SOUTH, x0 + width, NORTH), street))
        for g in range(2):
            bounds = (x0 + g * width / 2, SOUTH, x0 + (g + 1) * width / 2, NORTH)
            features.append(
                grid(f"{community}{g + 1:03d}", f"{name}{g + 1}号网格", "unit_grid", bounds, community)
            )
    return {"type": "FeatureCollection", "features": features}


def tutorial(kind: str) -> list[str]:
    text = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
    return re.findall(rf"<!-- tutorial: {kind} -->\n```\w+\n(.*?)```", text, flags=re.S)


def test_the_street_chief_tutorial_runs_a_fortnight(cli, tmp_path):
    city = tmp_path / "jiangan"

    def run(*args, code=0):
        result = cli(*args, cwd=city)
        assert "Traceback" not in result.err
        assert result.code == code, (args, result.out, result.err)
        return result

    assert cli("init", city, "--from", "standard", cwd=tmp_path).code == 0
    # step 1: the scaffold; steps 2 to 5: its module, from the tutorial's blocks in order
    made = run("plugin", "new", "street_chief", "--dir", "plugins")
    assert "gridcase-street-chief" in made.out
    blocks = tutorial("street_chief")
    assert len(blocks) == 4
    module = city / "plugins" / "gridcase-street-chief" / "gridcase_street_chief" / "__init__.py"
    module.write_text("\n\n".join(blocks), encoding="utf-8")
    # step 6: the profile block, in a profile of the city's own (the package is named by its file,
    # as a deployment does while the plugin is not installed yet; installed, its name does)
    (profile_block,) = tutorial("profile")
    profile_block = profile_block.replace(
        "plugins: [street_chief]",
        "plugins: [../plugins/gridcase-street-chief/gridcase_street_chief/__init__.py]",
    )
    (city / "profile" / "profile.yaml").write_text(
        textwrap.dedent(PROFILE).lstrip() + profile_block, encoding="utf-8"
    )
    (city / "grids.geojson").write_text(json.dumps(grids(), ensure_ascii=False), encoding="utf-8")
    (city / "people.csv").write_text(PEOPLE, encoding="utf-8")
    db_url = f"sqlite:///{city / 'gridcase.db'}"

    assert run("profile", "validate").out.startswith("ok: jiangan")
    listed = run("plugins").out
    hooks = "hooks: adjust_scores, after_case_created, register_assessment_facts, register_profile_schemas"
    assert hooks in listed
    # the plugin's block is validated by its schema, with the profile's line numbers
    good = (city / "profile" / "profile.yaml").read_text(encoding="utf-8")
    (city / "profile" / "profile.yaml").write_text(good.replace("points_per_red: 2", "points_per_red: -1"))
    bad = run("profile", "validate", code=1)
    assert re.search(r"profile\.yaml:\d+:\d+: /config/street_chief/points_per_red: ", bad.out + bad.err)
    (city / "profile" / "profile.yaml").write_text(good, encoding="utf-8")

    run("db", "upgrade")
    assert run("import", "grids", "grids.geojson").out == "imported 9 grids\n"
    assert run("import", "people", "people.csv").out.startswith("imported 5 people")
    run(
        "simulate", "--start", "2026-11-02", "--days", "14", "--reports-per-day", "40", "--seed", "5", "--quiet",
    )  # fmt: skip

    tables = Tables(db_url)
    chiefs = dict(tables.rows("SELECT unit, id FROM person WHERE username IN ('zhang', 'wang')"))
    # every new case in a street's grids was told to its 街长, once, through the outbox
    for s, _, unit in STREETS:
        cases = {
            number
            for (number,) in tables.rows(
                'SELECT number FROM "case" WHERE parent_id IS NULL AND grid_path LIKE :path',
                path=f"/{DIVISION}/{DIVISION}{s}/%",
            )
        }
        told = tables.rows(
            "SELECT text, status FROM outbox WHERE event = 'street_chief' AND recipient = :who",
            who=f"person:{chiefs[unit]}",
        )
        assert len(cases) > 50
        assert sorted(re.search(r"新案件 (\S+)（", text).group(1) for text, _ in told) == sorted(cases)
        assert {status for _, status in told} == {"sent"}  # delivered by the sweeps, as every notice
    assert "【街长制】" in run("sla", "outbox", "--status", "sent", "--limit", "1").out

    # each case that went red in the fortnight cost its street office 2 points
    red = dict(
        tables.rows(
            "SELECT g.unit, count(DISTINCT t.case_id) FROM timer t "
            "JOIN \"case\" k ON k.id = t.case_id JOIN grid g ON k.grid_path LIKE '%/' || g.code || '/%' "
            "WHERE t.kind = 'red' AND t.status = 'fired' AND g.level = 'street' GROUP BY g.unit"
        )
    )
    assert red.get("dazhi", 0) + red.get("yiyuan", 0) > 0
    assessed = json.loads(
        run("assess", "--period", "2026-11-02..2026-11-15", "--by", "unit", "--format", "json").out
    )
    by_code = {o["code"]: o for o in assessed["objects"]}
    for _, _, unit in STREETS:
        n = red.get(unit, 0)
        result = by_code[unit]
        assert result["values"]["street_red"] == n
        expected = [{"points": -2.0 * n, "reason": f"街长制：{n} 件红灯案件", "cases": []}] if n else []
        assert result["adjustments"] == expected
    assert by_code["water"]["adjustments"] == []  # departments are not street offices
    explained = run(
        "assess", "--period", "2026-11-02..2026-11-15", "--explain", "unit:dazhi", "--indicator", "street_red"
    ).out
    assert (
        f"street_red = {red.get('dazhi', 0)}（street_red_cases：cases in the street's grids that went red）"
        in explained
    )

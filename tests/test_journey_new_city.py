"""A journey through a city that is not bundled, through the `gridcase` command line only (issue 21,
"What it must show").

青山区 (division 420107) is set up as an integrator would from the README and docs: `gridcase
init`, its units in the profile, its grids from a GeoJSON file, its components from a CSV with bad
rows, its people from a roster, and a plugin of its own. Fourteen simulated days from 2026-12-14
run its cases; then its units change (one renamed, one added, one that cases point at removed)
and a grid file with a renamed and an added grid is imported again, the database is upgraded, and
fourteen more days run from 2026-12-28 into 2027, whose deadlines are provisional. Last, the
assessment of December: one street's figures are counted again here, by hand, from the tables.

Everything acts through the CLI; the test only reads the database to check what it did.
"""

import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

DIVISION = "420107"
# 青山区: a box of 6 x 4 km. Streets west and east, each of two communities (south and north),
# each of two unit grids (west and east), except that the first grid file lacks the north-east
# community's east grid: the second file adds it.
WEST, EAST, SOUTH, NORTH = 114.36, 114.42, 30.61, 30.65
MID_LON, MID_LAT = 114.39, 30.63

PROFILE = """
name: qingshan
extends: standard
title: {zh: 青山区数字城管, en: Qingshan digital city management}
region: {name: 青山区, division_code: '420107', center: [114.39, 30.63], area_km2: 57}
plugins:
  - ../plugins/local.py
units:
  - {code: qingshan, name: 青山区人民政府, kind: district}
  - {code: hongwei, name: 红卫路街道, kind: street, parent: qingshan, class: A}
  - {code: gangdu, name: 钢都街道, kind: street, parent: qingshan, class: A}
  - {code: water, name: 区水务局, kind: department, parent: qingshan, class: B}
  - {code: market, name: 区市场监管局, kind: department, parent: qingshan, class: B}
taxonomy:
  editions:
    - code: cjt214
      component:
        - code: '01'
          minors:
            - {code: '0101', unit: water}
            - {code: '0102', unit: water}
      event:
        - code: '05'
          minors:
            - {code: '0501', unit: market}
"""

# After the 机构改革: 钢都街道 renamed, 区市场监管局's street trading passed to a new 区城管执法局.
UPGRADED = (
    PROFILE.replace("钢都街道", "钢都花园街道")
    .replace(
        "  - {code: market, name: 区市场监管局, kind: department, parent: qingshan, class: B}\n",
        "  - {code: enforcement, name: 区城管执法局, kind: department, parent: qingshan, class: B}\n",
    )
    .replace("{code: '0501', unit: market}", "{code: '0501', unit: enforcement}")
)

# The city's own rule, in its plugin: 超期处置率 on its bulletin, from the standard's counts.
PLUGIN = '''
"""青山区's local plugin: the 超期处置率 its bulletin reports."""

from gridcase.core.hookspecs import hookimpl


@hookimpl
def register_indicators(profile):
    return [
        {
            "code": "late_handle_rate",
            "name": {"zh": "超期处置率", "en": "Late handling rate"},
            "formula": "handled_late / handled",
            "better": "lower",
            "percent": True,
        }
    ]
'''


def box(x0: float, y0: float, x1: float, y1: float) -> dict:
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {"type": "Polygon", "coordinates": [[[round(x, 6), round(y, 6)] for x, y in ring]]}


def grid(code: str, name: str, level: str, bounds: tuple, parent: str | None = None, unit: str | None = None):
    properties = {"code": code, "name": name, "level": level, "parent": parent, "unit": unit}
    return {
        "type": "Feature",
        "properties": {k: v for k, v in properties.items() if v is not None},
        "geometry": box(*bounds),
    }


def grids(second: bool = False) -> dict:
    """The survey's grids (district, streets, communities, unit grids, each code its parent's and
    three digits); the `second` file renames a community and adds the missing unit grid."""
    features = [grid(DIVISION, "青山区", "district", (WEST, SOUTH, EAST, NORTH), unit="qingshan")]
    streets = [("001", "红卫路街道", "hongwei", WEST, MID_LON), ("002", "钢都街道", "gangdu", MID_LON, EAST)]
    for s, street_name, unit, x0, x1 in streets:
        street = DIVISION + s
        features.append(grid(street, street_name, "street", (x0, SOUTH, x1, NORTH), DIVISION, unit))
        for c, (y0, y1, side) in enumerate([(SOUTH, MID_LAT, "南"), (MID_LAT, NORTH, "北")], start=1):
            community = f"{street}{c:03d}"
            name = f"{street_name}{side}社区"
            renamed = "红卫路冶金社区" if second and community == "420107001002" else name
            features.append(grid(community, renamed, "community", (x0, y0, x1, y1), street))
            middle = (x0 + x1) / 2
            for g, (gx0, gx1) in enumerate([(x0, middle), (middle, x1)], start=1):
                code = f"{community}{g:03d}"
                if code == "420107002002002" and not second:
                    continue
                features.append(grid(code, f"{name}{g}号网格", "unit_grid", (gx0, y0, gx1, y1), community))
    return {"type": "FeatureCollection", "name": "青山区网格", "features": features}


COMPONENTS_HEADER = "管理部件标识码,管理部件名称,部件类型,权属单位名称,养护单位名称,所在单元网格标识码,管理部件状态,初始日期,经度,纬度"
COMPONENTS = [
    # good: a grid given, units by code and by name, a grid derived from the point
    "4201070101000001,上水井盖,0101,区水务局,water,420107001001001,完好,20200101,114.37,30.62",
    "4201070118000002,路灯,0118,,,,完好,2020-03-01,114.41,30.62",
    "4201070305000003,垃圾箱,0305,,hongwei,420107001002002,破损,20210101,114.385,30.64",
    # bad: an unknown grid, an unknown unit, a point in Beijing, a code whose class digits are 0102
    "4201070101000004,上水井盖,0101,water,,420107009009009,完好,20200101,114.37,30.62",
    "4201070101000005,上水井盖,0101,nosuchunit,,,完好,20200101,114.37,30.62",
    "4201070101000006,上水井盖,0101,water,,,完好,20200101,116.4,39.9",
    "4201070102000007,上水井盖,0101,water,,,完好,20200101,114.37,30.62",
]

PEOPLE = """\
姓名,登录名,角色,单位,网格,属性
周监督,zhou,监督员,,"420107001001001,420107001001002",performance_pay=1800
李坐席,li,受理员、值班长、派遣员,,,
吴水务,wu,专业部门,water,,
郑市场,zheng,专业部门,market,,
钱红卫,qian,专业部门,hongwei,,
孙错误,sun,监督员,,420107999999999,
"""


def write_city(folder: Path) -> None:
    (folder / "profile" / "profile.yaml").write_text(textwrap.dedent(PROFILE).lstrip(), encoding="utf-8")
    (folder / "plugins" / "local.py").write_text(PLUGIN.lstrip(), encoding="utf-8")
    for name, second in (("grids.geojson", False), ("grids-2027.geojson", True)):
        (folder / name).write_text(json.dumps(grids(second), ensure_ascii=False), encoding="utf-8")
    (folder / "components.csv").write_text(
        "\n".join([COMPONENTS_HEADER, *COMPONENTS]) + "\n", encoding="utf-8"
    )
    (folder / "people.csv").write_text(PEOPLE, encoding="utf-8")


def aware(value) -> datetime | None:
    """A timestamp as the database returns it to plain SQL: text on SQLite (UTC), aware on PostgreSQL."""
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Tables:
    """Reads the deployment's database with plain SQL: the test checks, the CLI acts."""

    def __init__(self, url: str):
        self.db = create_engine(url)

    def rows(self, sql: str, **params) -> list:
        with self.db.connect() as connection:
            return connection.execute(text(sql), params).all()

    def count(self, table: str) -> int:
        return self.rows(f'SELECT count(*) FROM "{table}"')[0][0]

    def snapshot(self, *tables: str) -> dict[str, list]:
        return {t: sorted(map(tuple, self.rows(f'SELECT * FROM "{t}"')), key=repr) for t in tables}


LOCAL_2027 = datetime(2026, 12, 31, 16, tzinfo=UTC)  # 2027-01-01 00:00 in Asia/Shanghai
RESUMED = datetime(2026, 12, 27, 16, tzinfo=UTC)  # 2026-12-28 00:00, the second fortnight
DECEMBER = (datetime(2026, 11, 30, 16, tzinfo=UTC), LOCAL_2027)


def territorial_unit(grid_rows: dict[str, tuple], code: str) -> str | None:
    """属地兜底 by hand: the unit of the grid, else of its nearest ancestor that has one."""
    while code is not None:
        parent, unit = grid_rows[code]
        if unit:
            return unit
        code = parent
    return None


# the standard's clock facts a unit is assessed on: stage -> the transition that completes it, and
# the names of its counts (done, due, on time, late, overdue and open); 立案 counts only done runs
STAGES = {
    "file": ("file", "filed", None, None, None, None),
    "handle": ("handle", "handled", "handle_due", "handled_on_time", "handled_late", "overdue_unhandled"),
    "case": ("close", "closed", "close_due", "closed_on_time", "closed_late", "overdue_open"),
}


def by_hand(tables: Tables, unit: str, cutoff: datetime) -> dict:
    """A unit's December figures, counted from the clock table in a plain loop, as the standard
    assessment defines them (docs/profiles.md, `assessment`): a stage run counts against its
    owner; only a case's last run of a stage counts; a run is due when it was done in the period
    or is overdue and open (not shelved) at its end, overdue as of the cutoff (the period's end,
    or now while it runs); on time when stopped by its deadline."""
    start, end = DECEMBER
    counts = {name: 0 for names in STAGES.values() for name in names[1:] if name}
    late_cases, handled_cases = set(), set()
    runs = tables.rows(
        "SELECT c.stage, c.superseded, c.started_at, c.paused_at, c.stopped_at, c.deadline, c.stopped_by, "
        'c.case_id, k.number FROM clock c JOIN "case" k ON k.id = c.case_id WHERE c.owner = :unit',
        unit=unit,
    )
    for stage, superseded, started, paused, stopped, deadline, stopped_by, case_id, number in runs:
        if stage not in STAGES or superseded:
            continue
        by, done_name, due_name, on_time_name, late_name, overdue_name = STAGES[stage]
        started, paused, stopped, deadline = map(aware, (started, paused, stopped, deadline))
        done = stopped_by == by and start <= stopped < end
        overdue = (
            started < end
            and deadline is not None
            and deadline < cutoff
            and (stopped is None or stopped >= end)
            and (paused is None or paused >= end)
        )
        counts[done_name] += done
        if stage == "file":
            continue
        counts[due_name] += done or overdue
        counts[overdue_name] += overdue
        if done and (deadline is None or stopped <= deadline):
            counts[on_time_name] += 1
        elif done:
            counts[late_name] += 1
            late_cases.update([number] if stage == "handle" else [])
        if stage == "handle":
            handled_cases.add(case_id)
    # a handling run counts against the unit the case was dispatched to
    dispatched = {
        case_id
        for case_id, payload in tables.rows(
            "SELECT case_id, payload FROM case_event WHERE transition = 'dispatch'"
        )
        if unit in (json.loads(payload) if isinstance(payload, str) else payload)["units"]
    }
    assert handled_cases <= dispatched

    def rate(part: str, whole: str) -> float | None:
        return counts[part] / counts[whole] if counts[whole] else None

    return {
        **counts,
        "on_time_handle_rate": rate("handled_on_time", "handle_due"),
        "closure_rate": rate("closed", "close_due"),
        "on_time_closure_rate": rate("closed_on_time", "close_due"),
        "late_handle_rate": rate("handled_late", "handled"),  # the city's plugin's indicator
        "late_cases": sorted(late_cases),
    }


OPEN_PROVISIONAL = (
    'SELECT count(*) FROM clock c JOIN "case" k ON k.id = c.case_id '
    "WHERE c.provisional_from IS NOT NULL AND c.status != 'stopped' AND k.state_kind = 'open'"
)


def users(table: str) -> dict[str, list[str]]:
    """`gridcase user list`'s table: each username's columns."""
    return {line.split()[0]: line.split()[1:] for line in table.splitlines()[1:]}


def _same(got, hand) -> bool:
    return got == hand if hand is None or got is None else abs(got - hand) < 1e-9


def test_a_new_city_through_the_command_line(cli, tmp_path, db_url):
    """青山区 from `gridcase init` to December's bulletin, acting through the CLI only."""
    city = tmp_path / "qingshan"

    def run(*args, code=0):
        result = cli(*args, cwd=city)
        assert "Traceback" not in result.err
        assert result.code == code, (args, result.out, result.err)
        return result

    # -- a deployment of its own: gridcase init, the profile's units, the plugin -------------------
    assert cli("init", city, "--from", "standard", cwd=tmp_path).code == 0
    settings = city / "gridcase.toml"
    toml = settings.read_text(encoding="utf-8")
    assert 'database_url = "sqlite:///gridcase.db"' in toml
    settings.write_text(toml.replace("sqlite:///gridcase.db", db_url), encoding="utf-8")
    write_city(city)
    assert run("profile", "validate").out.startswith("ok: qingshan")
    assert "../plugins/local.py [profile]\n    hooks: register_indicators" in run("plugins").out
    created = run("db", "upgrade").out
    assert "units added (6): centre, qingshan, hongwei, gangdu, water, market" in created
    tables = Tables(db_url)

    # -- grids from a GeoJSON file: the first file leaves one gap, which coverage locates --------
    assert run("import", "grids", "grids.geojson").out == "imported 14 grids\n"
    gaps = json.loads(run("grids", "coverage", "--level", "unit_grid", code=1).out)
    assert [gap["parent"] for gap in gaps["gaps"]] == ["420107002002"] and gaps["overlaps"] == []
    assert run("import", "grids", "grids.geojson").out == "nothing changed: 14 grids as in the file\n"

    # -- components from a CSV with bad rows: each listed by line and reason, the good ones kept ---
    imported = run("import", "components", "components.csv", code=1)
    assert imported.out == "imported 3 components, rejected 4\n"
    assert imported.err.splitlines() == [
        "components.csv:line 5: 4201070101000004: no grid '420107009009009' "
        "(import the grids first, or leave it empty to place the point)",
        "components.csv:line 6: 4201070101000005: owner unit 'nosuchunit' is not a unit of the profile "
        "(code or name)",
        "components.csv:line 7: 4201070101000006: (116.4, 39.9) is outside every grid of the deployment",
        "components.csv:line 8: 4201070102000007: the code's class digits '0102' do not match its class '0101'",
    ]
    stored = tables.rows("SELECT code, grid, owner_unit, maintainer_unit FROM component ORDER BY code")
    assert [tuple(r) for r in stored] == [
        ("4201070101000001", "420107001001001", "区水务局", "water"),
        ("4201070118000002", "420107002001002", None, None),  # its grid found from its point
        ("4201070305000003", "420107001002002", None, "hongwei"),
    ]

    # -- people from a roster: a supervisor holding grids, the centre's staff, departments -------
    roster = run("import", "people", "people.csv", code=1)
    assert roster.out.startswith("imported 5 people (5 new, 0 updated, 0 unchanged), rejected 1\n")
    assert roster.err == "people.csv:7: no grid '420107999999999'\n"
    people = users(run("user", "list").out)
    assert people["zhou"] == ["周监督", "supervisor", "-", "420107001001001,420107001001002", "yes", "no"]
    assert people["li"][1:3] == ["operator,shift_leader,dispatcher", "-"]
    assert [people[p][2] for p in ("wu", "zheng", "qian")] == ["water", "market", "hongwei"]

    # -- a fortnight of cases, routed by the imported grids -----------------------------------------
    first = run(
        "simulate", "--start", "2026-12-14", "--days", "14", "--reports-per-day", "30", "--seed", "7",
        "--quiet", "--json", "first.json",
    )  # fmt: skip
    assert "qingshan: 14 days from 2026-12-14" in first.out
    figures = json.loads((city / "first.json").read_text(encoding="utf-8"))["figures"]
    assert figures["filed"] > 200 and set(figures["routing"]) == {"class", "territorial"}

    # -- deadlines reaching 2027 are provisional, and monitoring hears of it ------------------------
    check = run("calendar", "check", code=1)
    assert "confirmed through 2026-12-31" in check.out and "WARNING" in check.out
    assert "gridcase calendar confirm 2027" in check.err
    provisional = tables.rows("SELECT deadline FROM clock WHERE provisional_from IS NOT NULL")
    assert provisional and all(aware(d) >= LOCAL_2027 for (d,) in provisional)
    assert f"{tables.rows(OPEN_PROVISIONAL)[0][0]} open deadlines are provisional" in check.out

    # -- the upgrade: units changed in the profile, grids re-imported -------------------------------
    (city / "profile" / "profile.yaml").write_text(textwrap.dedent(UPGRADED).lstrip(), encoding="utf-8")
    refused = run("import", "grids", "grids-2027.geojson", code=1)
    assert "grid '420107001002' already exists with another name (import with --replace" in refused.err
    assert tables.count("grid") == 14
    replaced = run("import", "grids", "grids-2027.geojson", "--replace")
    assert replaced.out == "imported 1 grids, updated 1, 13 unchanged\n"
    assert json.loads(run("grids", "coverage", "--level", "unit_grid").out)["gaps"] == []

    history = ("case", "case_unit", "case_event", "clock", "grid", "component", "person", "responsibility")
    before = tables.snapshot("unit", *history)
    market_cases = tables.rows("SELECT count(*) FROM case_unit WHERE unit = 'market'")[0][0]
    assert market_cases > 0  # cases point at the unit the profile drops
    dry = run("db", "upgrade", "--dry-run").out
    changes = [
        "  units added (1): enforcement",
        "  units updated (1): gangdu (name)",
        "  units deactivated (1): market",
    ]
    assert dry.splitlines()[1:4] == changes and dry.splitlines()[-1].startswith("dry run, nothing written")
    assert tables.snapshot("unit", *history) == before  # nothing written
    done = run("db", "upgrade").out
    assert done.splitlines()[1:4] == changes
    assert "units: 1 added, 1 updated, 1 deactivated; grids: 0 added, 0 updated, 0 deactivated" in done
    assert tables.snapshot(*history) == {t: before[t] for t in history}  # nothing cases point at changed
    units = {r[0]: tuple(r[1:]) for r in tables.rows("SELECT code, name, active FROM unit")}
    assert units["market"] == ("区市场监管局", False)  # deactivated, kept with its name
    assert units["enforcement"] == ("区城管执法局", True) and units["gangdu"] == ("钢都花园街道", True)
    grid_rows = tables.rows("SELECT code, name, active, origin FROM grid ORDER BY code")
    assert len(grid_rows) == 15 and all(r[2] and r[3] == "import" for r in grid_rows)
    assert ("420107001002", "红卫路冶金社区") in [tuple(r[:2]) for r in grid_rows]
    # the dropped unit's person moves to the unit that took over its work
    assert run("user", "set", "zheng", "--unit", "enforcement").code == 0
    assert users(run("user", "list").out)["zheng"][2] == "enforcement"

    # -- a second fortnight, into 2027 ---------------------------------------------------------------
    overlapping = run("simulate", "--start", "2026-12-20", "--days", "14", "--continue", "--quiet", code=1)
    assert "continue from 2026-12-28" in overlapping.err
    second = run(
        "simulate", "--start", "2026-12-28", "--days", "14", "--reports-per-day", "30", "--seed", "8",
        "--quiet", "--continue",
    )  # fmt: skip
    assert "qingshan: 14 days from 2026-12-28" in second.out
    # the first fortnight's open cases are worked on in the second, as a city's would be
    resumed = tables.rows(
        'SELECT count(DISTINCT e.case_id) FROM case_event e JOIN "case" k ON k.id = e.case_id '
        "WHERE k.reported_at < :resumed AND e.at >= :resumed AND e.actor_id IS NOT NULL",
        resumed=RESUMED,
    )[0][0]
    assert resumed > 0

    # cases were routed by the imported grids: 属地兜底 to the grid's territorial unit, never to
    # manual dispatch; the class rules name the unit the profile had when the case came in
    grid_units = {r[0]: (r[1], r[2]) for r in tables.rows("SELECT code, parent, unit FROM grid")}
    cases = tables.rows(
        'SELECT k.id, k.grid, k.class_code, k.kind, k.routing_rule, k.reported_at, u.unit FROM "case" k '
        "JOIN case_unit u ON u.case_id = k.id AND u.role = 'responsible' WHERE k.parent_id IS NULL"
    )
    assert len(cases) == len({c[0] for c in cases}) > 400  # one responsible unit each
    for _, grid_code, class_code, kind, rule, reported, unit in cases:
        assert grid_code in grid_units
        if (kind, class_code) == ("event", "0501"):
            expected = ("class", "market" if aware(reported) < RESUMED else "enforcement")
        elif kind == "component" and class_code in ("0101", "0102"):
            expected = ("class", "water")
        else:
            expected = ("territorial", territorial_unit(grid_units, grid_code))
        assert (rule, unit) == expected
    added = [c for c in cases if c[1] == "420107002002002"]
    assert added and all(aware(c[5]) >= RESUMED for c in added)  # the added grid, located and routed
    assert {c[6] for c in added if c[4] == "territorial"} == {"gangdu"}

    # -- 2027's schedule arrives: entered, confirmed, the provisional deadlines counted again ---------
    assert run("calendar", "check", code=1).code == 1
    assert tables.rows(OPEN_PROVISIONAL)[0][0] > 0
    run("calendar", "set", "2027-01-04", "--off", "--reason", "区政府通知（示例）", "--by", "考核科")
    assert (
        run("calendar", "confirm", "2027", "--reason", "国务院办公厅通知").out
        == "2027: confirmed in the default calendar\n"
    )
    assert run("calendar", "recompute").out.startswith("recomputed ")
    after = run("calendar", "check")
    assert "confirmed through 2027-12-31" in after.out and "0 open deadlines are provisional" in after.out
    # each case whose provisional deadlines changed records them: final now, and those that
    # counted 2027-01-04 as a working day a day later
    recorded = tables.rows("SELECT effects FROM case_event WHERE transition = 'recompute_deadlines'")
    moved = [c for (e,) in recorded for c in (json.loads(e) if isinstance(e, str) else e)["deadlines"]]
    assert moved and not any(c.get("provisional") for c in moved)
    shifts = [datetime.fromisoformat(c["deadline"]) - datetime.fromisoformat(c["was"]) for c in moved]
    assert min(shifts) >= timedelta(0) and max(shifts) >= timedelta(hours=8)

    # -- the assessment of December: one street's figures by hand --------------------------------
    # as of the morning after the simulated days: December is over, its overdue cases are counted
    as_of = ["--as-of", "2027-01-11T08:00+08:00"]
    bulletin = json.loads(
        run("assess", "--period", "2026-12", "--by", "unit", "--format", "json", *as_of).out
    )
    objects = {o["code"]: o for o in bulletin["objects"]}
    assert {"hongwei", "gangdu", "water", "market", "enforcement"} <= set(objects)
    overdue = 0
    for unit in ("hongwei", "market"):  # a street, and the unit the upgrade deactivated
        got = objects[unit]["values"]
        hand = by_hand(tables, unit, DECEMBER[1])
        assert all(_same(got[k], v) for k, v in hand.items() if k != "late_cases"), (unit, got, hand)
        overdue += hand["overdue_unhandled"] + hand["overdue_open"]
        assert hand["handle_due"] > 10 and hand["handled_late"] > 0
        explained = run(
            "assess",
            "--period",
            "2026-12",
            "--explain",
            f"unit:{unit}",
            "--indicator",
            "handled_late",
            *as_of,
        )
        listed = sorted(line.split()[0] for line in explained.out.splitlines()[2:])
        assert listed == hand["late_cases"]
    assert overdue > 0  # December's cases still open in January are counted overdue, by both
    refused = run("assess", "--period", "2026-12", "--as-of", "2027-01-11 08:00", code=1)
    assert "is not a moment with its offset" in refused.err

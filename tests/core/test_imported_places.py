"""A city that is not bundled, whose grids and components come from its own files (issue 21 §2).

The database's grids route cases and bound tenants; imports check every row against the
deployment, read what Excel writes, refuse what would silently be wrong, and say nothing
changed when nothing did. Everything goes through the CLI, as an integrator would.
"""

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from gridcase.core.db.connection import read
from gridcase.core.db.models import Case, Component, Grid, Responsibility
from gridcase.core.engine import Engine
from gridcase.core.errors import GridcaseError
from gridcase.core.people.actor import Actor
from gridcase.core.places import components

PROFILE = """\
name: zhanggong
extends: standard
region: {name: 章贡区, division_code: '360702', center: [114.93, 25.83]}
units:
  - {code: district, name: 章贡区, kind: district}
  - {code: west, name: 西街道, kind: street, parent: district}
  - {code: east, name: 东街道, kind: street, parent: district}
  - {code: water, name: 水务局, kind: department}
  - {code: lamps, name: 路灯所, kind: department}
tenancy:
  unit_kinds: [street]
"""

# code, level, parent, unit, (minx, miny, maxx, maxy)
PLACES = [
    ("360702", "district", None, "district", (114.90, 25.80, 114.96, 25.86)),
    ("360702001", "street", "360702", "west", (114.90, 25.80, 114.93, 25.86)),
    ("360702002", "street", "360702", "east", (114.93, 25.80, 114.96, 25.86)),
    ("360702001001", "community", "360702001", None, (114.90, 25.80, 114.93, 25.83)),
    ("360702001001001", "unit_grid", "360702001001", None, (114.90, 25.80, 114.915, 25.83)),
    ("360702001001002", "unit_grid", "360702001001", None, (114.915, 25.80, 114.93, 25.83)),
]
WEST_GRID = (114.91, 25.81)  # in unit grid 360702001001001, street west
EAST = (114.95, 25.85)  # in street east, which has no communities


def ring(minx, miny, maxx, maxy):
    return [[minx, miny], [maxx, miny], [maxx, maxy], [minx, maxy], [minx, miny]]


def feature(code, level, parent, unit, bounds, coordinates=None):
    props = {"code": code, "level": level, "parent": parent, "unit": unit}
    return {
        "type": "Feature",
        "properties": {k: v for k, v in props.items() if v is not None},
        "geometry": {"type": "Polygon", "coordinates": coordinates or [ring(*bounds)]},
    }


def collection(features, **members):
    return {"type": "FeatureCollection", **members, "features": features}


@dataclass
class City:
    folder: Path
    url: str
    tmp: Path
    cli: object

    def run(self, *args):
        return self.cli(*args, "--profile", self.folder, "--db", self.url)

    def write(self, name, content, encoding="utf-8"):
        path = self.tmp / name
        if isinstance(content, (dict, list)):
            content = json.dumps(content, ensure_ascii=False, indent=1)
        path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
        return path

    def import_grids(self, features=None, *args):
        path = self.write(
            "grids.geojson", collection([feature(*p) for p in PLACES] if features is None else features)
        )
        return self.run("import", "grids", path, *args)

    def count(self, table):
        engine = Engine.open(self.folder, self.url)
        try:
            with read(engine.db) as connection:
                return connection.execute(select(func.count()).select_from(table.__table__)).scalar_one()
        finally:
            engine.db.dispose()


@pytest.fixture
def city(tmp_path, db_url, cli):
    folder = tmp_path / "zhanggong"
    folder.mkdir()
    (folder / "profile.yaml").write_text(PROFILE, encoding="utf-8")
    made = City(folder, db_url, tmp_path, cli)
    result = made.run("db", "upgrade")
    assert result.code == 0, result.err
    return made


@pytest.fixture
def engine_of():
    opened = []

    def open_(city):
        engine = Engine.open(city.folder, city.url)
        opened.append(engine)
        return engine

    yield open_
    for engine in opened:
        engine.db.dispose()


# -- the database's grids are the truth -----------------------------------------------------


def test_cases_are_routed_and_tenants_bounded_by_imported_grids(city, engine_of):
    result = city.import_grids()
    assert (result.code, result.out) == (0, "imported 6 grids\n"), result.err
    engine = engine_of(city)
    supervisor = Actor.of("supervisor")
    report = {"channel": "patrol", "category": "0102", "kind": "event", "point": list(WEST_GRID)}
    case = engine.case(engine.intake(report, supervisor)["case_id"])
    assert case["grid"] == "360702001001001"
    assert (case["routing_rule"], [u["unit"] for u in case["units"]]) == ("territorial", ["west"])
    assert "网格 360702001 的属地单位为 west" in case["routing_explanation"]
    # a street is a tenant: its territory is the grids imported for it
    westerner = Actor.of("supervisor", unit="west")
    with pytest.raises(GridcaseError) as refused:
        engine.intake({**report, "point": list(EAST)}, westerner)
    assert refused.value.code == "forbidden" and "territory of west" in refused.value.message
    assert engine.intake({**report, "point": [114.905, 25.805]}, westerner)["case_id"]


# -- components -----------------------------------------------------------------------------

HEADER = "GLBJBSM,GLBJMC,BJLX,QSDWMC,YHDWMC,SZDYWGBSM,X,Y\n"


def test_component_rows_are_checked_against_the_deployment(city):
    assert city.import_grids().code == 0
    path = city.write(
        "components.csv",
        HEADER
        + "3607020118000001,路灯,0118,路灯所,,,114.91,25.81\n"  # grid derived from the point
        + "3607020118000002,路灯,0118,,路灯所,360702001001002,114.92,25.81\n"
        + "3607020118000003,路灯,0118,,,999999999999999,114.91,25.81\n"  # unknown grid
        + "3607020118000004,路灯,0118,nosuchunit,,,114.91,25.81\n"  # unknown owner
        + "3607020118000005,路灯,0118,,nosuchunit,,114.91,25.81\n"  # unknown maintainer
        + "3607020118000006,路灯,0118,,,,116.40,39.90\n"  # Beijing: outside every grid
        + "3607029901000007,未知,9901,,,,114.91,25.81\n",  # unknown class
    )
    result = city.run("import", "components", path)
    assert result.code == 1 and "Traceback" not in result.err
    assert result.out == "imported 2 components, rejected 5\n"
    errors = result.err.splitlines()
    assert [e.split(": ", 1)[0] for e in errors] == [f"{path}:line {n}" for n in (4, 5, 6, 7, 8)]
    assert "no grid '999999999999999'" in errors[0]
    assert "owner unit 'nosuchunit' is not a unit of the profile" in errors[1]
    assert "maintainer unit 'nosuchunit' is not a unit of the profile" in errors[2]
    assert "(116.4, 39.9) is outside every grid of the deployment" in errors[3]
    assert "unknown component class '9901'" in errors[4]
    engine = Engine.open(city.folder, city.url)
    try:
        assert components.get(engine.db, "3607020118000001")["grid"] == "360702001001001"
        assert components.get(engine.db, "3607020118000002")["grid"] == "360702001001002"
    finally:
        engine.db.dispose()


def test_component_codes_are_checked_against_the_standards_structure(city):
    assert city.import_grids().code == 0
    path = city.write(
        "legacy.csv",
        HEADER
        + "3607020101000001,上水井盖,0118,,,,114.91,25.81\n"  # class digits 0101, class 0118
        + "3205080118000002,路灯,0118,,,,114.91,25.81\n",  # another county's division code
    )
    strict = city.run("import", "components", path)
    assert strict.code == 1 and strict.out == "imported 0 components, rejected 2\n"
    first, second = strict.err.splitlines()
    assert (
        first.startswith(f"{path}:line 2: ") and "class digits '0101' do not match its class '0118'" in first
    )
    assert (
        second.startswith(f"{path}:line 3: ")
        and "division prefix '320508' is not the deployment's '360702'" in second
    )
    lenient = city.run("import", "components", path, "--lenient")
    assert lenient.code == 0 and lenient.out == "imported 2 components, rejected 0\n"
    assert [line.split(": ", 2)[1] for line in lenient.err.splitlines()] == ["warning", "warning"]


def test_grid_codes_start_with_their_parents_code(city):
    places = [*PLACES[:3], ("360799001", "community", "360702001", None, (114.90, 25.80, 114.93, 25.83))]
    # 9 digits is not a community code either: the pattern and the structure both speak
    result = city.import_grids([feature(*p) for p in places])
    assert result.code == 1 and "does not start with its parent's code '360702001'" in result.err
    places[3] = ("360799001001", "community", "360702001", None, (114.90, 25.80, 114.93, 25.83))
    assert city.import_grids([feature(*p) for p in places], "--lenient").code == 0
    assert city.count(Grid) == 4


def test_excel_csvs_in_gbk_or_with_a_bom_and_chinese_headers_are_read(city):
    assert city.import_grids().code == 0
    rows = "3607020118000001,路灯,0118,路灯所,360702001001001,114.91,25.81\n"
    chinese = "管理部件标识码,管理部件名称,部件类型,权属单位名称,所在单元网格标识码,经度,纬度\n"
    gbk = city.write("gbk.csv", chinese + rows, encoding="gbk")
    result = city.run("import", "components", gbk)
    assert (result.code, result.out, result.err) == (0, "imported 1 components, rejected 0\n", "")
    bom = city.write("bom.csv", "\ufeff" + chinese + rows.replace("000001", "000002"), encoding="utf-8")
    assert city.run("import", "components", bom).out == "imported 1 components, rejected 0\n"


def test_unknown_columns_are_named_once(city):
    assert city.import_grids().code == 0
    path = city.write("odd.csv", "编号,名称,颜色,X,Y\n3607020118000001,路灯,红,114.91,25.81\n")
    result = city.run("import", "components", path)
    assert result.code == 1 and "Traceback" not in result.err
    assert result.err.count("\n") == 1 and "missing component code" not in result.err
    assert "unknown columns 编号, 名称, 颜色" in result.err and f"{path}:1:" in result.err


def test_reimporting_the_same_files_changes_nothing(city):
    assert city.import_grids().code == 0
    again = city.import_grids()
    assert (again.code, again.out, again.err) == (0, "nothing changed: 6 grids as in the file\n", "")
    path = city.write("c.csv", HEADER + "3607020118000001,路灯,0118,路灯所,,,114.91,25.81\n")
    assert city.run("import", "components", path).code == 0
    again = city.run("import", "components", path)
    assert (again.code, again.out, again.err) == (0, "nothing changed: 1 components as in the file\n", "")
    replaced = city.import_grids(None, "--replace")
    assert (replaced.code, replaced.out) == (0, "nothing changed: 6 grids as in the file\n")


# -- grid files -----------------------------------------------------------------------------


def test_an_unclosed_ring_is_refused(city):
    bad = feature(*PLACES[0])
    bad["geometry"]["coordinates"][0].pop()
    result = city.import_grids([bad])
    assert result.code == 1 and "Traceback" not in result.err
    assert (
        "/features/0/geometry: the ring is not closed" in result.err
        and f"{city.tmp}/grids.geojson:" in result.err
    )
    assert city.count(Grid) == 0


def swapped(feature_):
    feature_["geometry"]["coordinates"] = [
        [[y, x] for x, y in r] for r in feature_["geometry"]["coordinates"]
    ]
    return feature_


def mercator(lon, lat):
    return lon * 20037508.34 / 180, math.log(math.tan((90 + lat) * math.pi / 360)) * 6378137.0


def test_coordinates_outside_the_territory_are_refused(city):
    result = city.import_grids([swapped(feature(*p)) for p in PLACES])
    assert result.code == 1 and "outside the deployment's territory" in result.err
    assert "longitude and latitude swapped?" in result.err
    metres = [feature(*p) for p in PLACES]
    for f in metres:
        f["geometry"]["coordinates"] = [
            [list(mercator(*xy)) for xy in r] for r in f["geometry"]["coordinates"]
        ]
    result = city.import_grids(metres)
    assert result.code == 1 and "metres" in result.err and "EPSG:3857" in result.err
    assert city.count(Grid) == 0


def test_a_crs_member_is_honoured_and_an_unknown_one_refused(city, engine_of):
    metres = [feature(*p) for p in PLACES]
    for f in metres:
        f["geometry"]["coordinates"] = [
            [list(mercator(*xy)) for xy in r] for r in f["geometry"]["coordinates"]
        ]
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}
    path = city.write("m.geojson", {"type": "FeatureCollection", "features": metres, "crs": crs})
    result = city.run("import", "grids", path)
    assert result.code == 0, result.err
    assert engine_of(city).places.grids.locate(*WEST_GRID)["grid"] == "360702001001001"
    unknown = {"type": "name", "properties": {"name": "EPSG:2383"}}
    path = city.write("x.geojson", collection([feature(*PLACES[0])], crs=unknown))
    result = city.run("import", "grids", path, "--replace")
    assert result.code == 1 and "unknown coordinate system 'EPSG:2383'" in result.err


def test_replacing_grids_refuses_to_orphan_what_points_at_them(city, engine_of):
    assert city.import_grids().code == 0
    doomed = "360702001001002"
    assert city.run("user", "add", "li", "--role", "supervisor", "--grid", doomed).code == 0
    components_csv = city.write("c.csv", HEADER + f"3607020118000001,路灯,0118,,,{doomed},114.92,25.81\n")
    assert city.run("import", "components", components_csv).code == 0
    engine = engine_of(city)
    report = {"channel": "patrol", "category": "0102", "kind": "event", "point": [114.92, 25.81]}
    case_id = engine.intake(report, Actor.of("supervisor"))["case_id"]
    engine.db.dispose()
    kept = [feature(*p) for p in PLACES if p[0] != doomed]
    refused = city.import_grids(kept, "--replace")
    assert refused.code == 1 and "Traceback" not in refused.err
    assert (
        f"grid {doomed} would be removed, but 1 case, 1 component and 1 person's grids point at it"
        in refused.err
    )
    assert "--reassign" in refused.err and city.count(Grid) == 6
    done = city.import_grids(kept, "--replace", "--reassign", "parent")
    assert done.code == 0, done.err
    assert city.count(Grid) == 5
    assert engine_of(city).case(case_id)["grid"] == "360702001001"
    with read(engine_of(city).db) as connection:
        assert connection.execute(select(Component.__table__.c.grid)).scalar_one() == "360702001001"
        assert connection.execute(select(Responsibility.__table__.c.grid)).scalar_one() == "360702001001"
        assert (
            connection.execute(select(Case.__table__.c.grid_path)).scalar_one()
            == "/360702/360702001/360702001001/"
        )


# -- coverage -------------------------------------------------------------------------------


def test_coverage_names_an_empty_level_and_locates_gaps(city):
    assert city.import_grids().code == 0
    # the community is covered only by half (its second unit grid is missing)
    places = [p for p in PLACES if p[0] != "360702001001002"]
    assert city.import_grids([feature(*p) for p in places], "--replace", "--reassign", "parent").code == 0
    result = city.run("grids", "coverage", "--level", "unit_grid")
    assert result.code == 1 and "Traceback" not in result.err
    (gap,) = json.loads(result.out)["gaps"]
    assert gap["parent"] == "360702001001" and gap["geometry"]["type"] == "Polygon"
    xs = [x for x, _ in gap["geometry"]["coordinates"][0]]
    assert (min(xs), max(xs)) == pytest.approx((114.915, 114.93))
    result = city.run("grids", "coverage", "--level", "nosuchlevel")
    assert (
        result.code == 1 and "no grids of level 'nosuchlevel'" in result.err and "Traceback" not in result.err
    )


def test_a_level_without_grids_is_a_message(city):
    assert city.import_grids([feature(*p) for p in PLACES[:3]]).code == 0
    result = city.run("grids", "coverage", "--level", "unit_grid")
    assert result.code == 1 and "Traceback" not in result.err
    assert "no grids of level 'unit_grid'" in result.err and "street 2" in result.err


def test_a_profile_without_grids_may_name_imported_grids(tmp_path):
    """Its components' grids are checked when they are loaded, against the database's grids."""
    from gridcase.core.profile import load_validated

    folder = tmp_path / "named"
    folder.mkdir()
    component = "components:\n  - {code: '3607020118000001', class: '0118', grid: '360702001001001', location: [114.91, 25.81]}\n"
    (folder / "profile.yaml").write_text(PROFILE + component, encoding="utf-8")
    profile, _ = load_validated(folder)
    assert profile.plain()["components"][0]["grid"] == "360702001001001"


def test_importing_a_grid_the_profile_dropped_brings_it_back_into_use(city, engine_of):
    assert city.import_grids().code == 0
    engine = engine_of(city)
    with engine.db.begin() as connection:  # as `gridcase db upgrade` leaves a grid the profile dropped
        connection.execute(
            update(Grid.__table__).where(Grid.__table__.c.code == "360702002").values(active=False)
        )
    again = city.import_grids()
    assert (again.code, again.out) == (0, "imported 0 grids, updated 1, 5 unchanged\n"), again.err
    assert engine_of(city).places.grids.locate(*EAST)["grid"] == "360702002"
    coverage = city.run("grids", "coverage", "--level", "street")
    assert coverage.code == 0 and json.loads(coverage.out)["grids"] == 2


def test_malformed_component_features_are_rejected_rows(city):
    assert city.import_grids().code == 0
    point = {"type": "Point", "coordinates": [114.91, 25.81]}
    features = [
        {"type": "Feature", "properties": {"ObjID": 3607020118000001, "BJLX": "0118"}, "geometry": point},
        "not a feature",
        {"type": "Feature", "properties": {"ObjID": "3607020118000002"}, "geometry": {"type": "LineString"}},
    ]
    path = city.write("c.geojson", collection(features))
    result = city.run("import", "components", path)
    assert result.code == 1 and "Traceback" not in result.err
    assert result.out == "imported 1 components, rejected 2\n"
    assert "missing component code" in result.err and "lon and lat must be numbers" in result.err


def test_a_running_engine_takes_up_grids_imported_after_it_started(city, engine_of):
    engine = engine_of(city)  # a server's engine, started before the city's grids came in
    engine.places.refresh_grids()
    supervisor = Actor.of("supervisor")
    report = {"channel": "patrol", "category": "0102", "kind": "event", "point": list(WEST_GRID)}
    assert engine.places.grids.locate(*WEST_GRID) is None
    assert city.import_grids().code == 0
    engine.places.refresh_grids()  # what the server does before each sweep
    case = engine.case(engine.intake(report, supervisor)["case_id"])
    assert (case["grid"], case["routing_rule"]) == ("360702001001001", "territorial")
    before = engine.places.grids
    engine.places.refresh_grids()  # nothing changed: the index is kept, not read again
    assert engine.places.grids is before


def test_component_rows_with_illegal_text_are_rejected_by_line_and_field(city):
    """core/text.py's rule, as at every entry point: a NUL or a control character is a rejected
    row naming its field; the good rows are kept."""
    assert city.import_grids().code == 0
    path = city.write(
        "components.csv",
        (
            HEADER
            + "3607020118000001,路灯,0118,,,,114.91,25.81\n"
            + "3607020118000002,路\x00灯,0118,,,,114.91,25.81\n"  # line 3: NUL in the name
            + "3607020118000003,路\x01灯,0118,,,,114.91,25.81\n"  # line 4: U+0001
        ).encode(),
    )
    result = city.run("import", "components", path)
    assert result.code == 1 and "Traceback" not in result.err
    assert result.out == "imported 1 components, rejected 2\n"
    assert result.err.splitlines() == [
        f"{path}:line 3: name: character 2 (U+0000) is a control character",
        f"{path}:line 4: name: character 2 (U+0001) is a control character",
    ]
    assert city.count(Component) == 1


def test_a_component_file_that_is_not_utf8_text_is_refused_with_its_line(city):
    """A lone surrogate cannot be UTF-8: its bytes (as a careless encoder writes them) are a
    file whose encoding cannot be told, refused whole, as a GBK file read as UTF-8 is."""
    assert city.import_grids().code == 0
    surrogate = "路\ud800灯".encode("utf-8", "surrogatepass")
    path = city.write(
        "components.csv",
        HEADER.encode() + b"3607020118000001," + surrogate + b",0118,,,,114.91,25.81\n",
    )
    result = city.run("import", "components", path, "--encoding", "utf-8")
    assert result.code == 1 and "Traceback" not in result.err
    assert "after line 1 the text is not utf-8" in result.err
    assert city.count(Component) == 0


def test_grid_features_with_illegal_text_refuse_the_file_naming_the_property(city):
    """Grids are all or nothing: one feature breaking the text rule refuses the file, named by
    its JSON pointer (a lone surrogate arrives as JSON's \\ud800 escape)."""
    named = [feature(*p) for p in PLACES]
    named[1]["properties"]["name"] = "西\x01街道"
    named[2]["properties"]["name"] = {"zh": "东\ud800街道"}
    named[3]["properties"]["area_class"] = "a\x00"
    path = city.write("grids.geojson", json.dumps(collection(named)))  # \ud800 escaped
    result = city.run("import", "grids", path)
    assert result.code == 1 and "Traceback" not in result.err
    assert "/features/1/properties/name: character 2 (U+0001) is a control character" in result.err
    assert "/features/2/properties/name/zh: character 2 (U+D800) is not valid Unicode" in result.err
    assert "/features/3/properties/area_class: character 2 (U+0000) is a control character" in result.err
    assert city.count(Grid) == 0

"""Grids and components: import, export, coverage, lookups, and bad files with exact errors."""

import json
import re
from pathlib import Path

import pytest
import shapely
from sqlalchemy import func, select

from gridcase.core.db.connection import read
from gridcase.core.db.models import Component, Grid
from gridcase.core.errors import GridImportError
from gridcase.core.places import components, grids
from gridcase.core.places.gridindex import GridIndex
from gridcase.core.places.grids import lattice

from ..conftest import TESTCITY


def square(x, y, size=0.01):
    return {
        "type": "Polygon",
        "coordinates": [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]],
    }


def feature(code, level, geometry, **props):
    return {"type": "Feature", "properties": {"code": code, "level": level, **props}, "geometry": geometry}


def grid_count(engine):
    with read(engine.db) as connection:
        return connection.execute(select(func.count()).select_from(Grid.__table__)).scalar_one()


def test_profile_grids_are_loaded_located_and_exported(engine, cli, tmp_path):
    assert grid_count(engine) == 23
    assert engine.places.grids.locate(120.61, 31.337)["grids"] == [
        "320508001001001",
        "320508001001",
        "320508001",
        "320508",
    ]
    assert engine.places.grids.locate(121.5, 31.2) is None
    with read(engine.db) as connection:
        exported = grids.export(connection, level="unit_grid")
    assert len(exported["features"]) == 16
    assert exported["features"][0]["properties"] == {
        "code": "320508001001001",
        "level": "unit_grid",
        "parent": "320508001001",
        "area_class": "A",
    }
    with read(engine.db) as connection:
        assert grids.coverage(connection, "unit_grid") == {
            "level": "unit_grid",
            "grids": 16,
            "gaps": [],
            "overlaps": [],
        }


def test_vectorised_lookup_agrees_with_single_lookups(engine):
    import numpy as np

    lons, lats = np.array([120.61, 120.635, 121.0]), np.array([31.337, 31.305, 31.0])
    assert engine.places.grids.locate_many(lons, lats) == [
        engine.places.grids.locate(120.61, 31.337)["grid"], engine.places.grids.locate(120.635, 31.305)["grid"], None,
    ]  # fmt: skip


def test_bad_grid_files_are_refused_whole_with_positions(engine, tmp_path):
    path = tmp_path / "bad.geojson"
    features = [
        feature("320508003", "street", square(120.70, 31.30), parent="320508"),
        feature("320508004", "street", square(120.705, 31.30), parent="320508"),  # overlaps the first by half
        feature("32", "street", square(120.80, 31.30)),  # code pattern
        feature("320508005", "hamlet", square(120.90, 31.30)),  # unknown level
        feature(
            "320508006",
            "street",
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
        ),  # bow tie
        feature("320508007", "street", square(121.0, 31.30), parent="999999", unit="nobody"),
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, indent=1))
    before = grid_count(engine)
    with pytest.raises(GridImportError) as info:
        grids.import_file(engine.db, path, engine.profile)
    problems = "\n".join(info.value.problems)
    for expected in (
        "/features/2/properties/code: grid code '32' does not match the pattern ^[0-9]{9}$",
        "/features/3/properties/level: unknown grid level 'hamlet'",
        "/features/4/geometry: invalid polygon: Self-intersection",
        "/features/5/properties/unit: unknown unit 'nobody'",
        "/features/5/properties/parent: unknown parent grid '999999'",
        "/features/0: grid '320508003' overlaps '320508004' by",
    ):
        assert expected in problems
    assert all(p.startswith(f"{path}:") for p in info.value.problems)
    assert grid_count(engine) == before


def test_malformed_geojson_is_a_message(engine, tmp_path, cli):
    path = tmp_path / "broken.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [ {"type": "Feature",, } ]}')
    with pytest.raises(GridImportError) as info:
        grids.import_file(engine.db, path, engine.profile)
    (problem,) = info.value.problems
    assert problem.startswith(f"{path}:1:") and "JSON syntax error" in problem
    result = cli("import", "grids", path, "--profile", TESTCITY, "--db", str(engine.db.url))
    assert result.code == 1 and "nothing imported" in result.err and "Traceback" not in result.err


def test_grids_import_adds_to_existing_and_refuses_clashes(engine, tmp_path, cli):
    def write(geometry):
        street = feature("320508003", "street", geometry, parent="320508")
        path.write_text(json.dumps({"type": "FeatureCollection", "features": [street]}))

    path = tmp_path / "more.geojson"
    write(square(120.70, 31.30))
    result = cli("import", "grids", path, "--profile", TESTCITY, "--db", str(engine.db.url))
    assert (result.code, result.out) == (0, "imported 1 grids\n")
    write(square(120.70, 31.31))
    result = cli("import", "grids", path, "--profile", TESTCITY, "--db", str(engine.db.url))
    assert result.code == 1 and "grid '320508003' already exists with another geometry" in result.err


def test_lattice_tiles_its_box_without_gaps_or_overlaps():
    fc = lattice((120.0, 31.0, 120.1, 31.1), "320508", ["district", "street", "community"], [3, 5], [3, 3])
    assert len(fc["features"]) == 1 + 3 + 15
    index = GridIndex.build(
        grids.check_features(
            fc, {"grid_levels": [{"code": c} for c in ("district", "street", "community")], "units": []}
        )[0],
        ["district", "street", "community"],
    )
    assert index.locate(120.001, 31.099)["grids"] == ["320508001001", "320508001", "320508"]
    communities = [
        shapely.geometry.shape(f["geometry"])
        for f in fc["features"]
        if f["properties"]["level"] == "community"
    ]
    assert abs(shapely.union_all(communities).area - 0.01) < 1e-12
    assert abs(sum(c.area for c in communities) - 0.01) < 1e-12


CSV_HEADER = "GLBJBSM,GLBJMC,ZGBMMC,YHDWMC,SZDYWGBSM,GLBJZT,CSRQ,SJLY,X,Y\n"


def test_component_import_keeps_good_rows_and_lists_bad_ones(engine, tmp_path, cli):
    path = tmp_path / "components.csv"
    path.write_text(
        CSV_HEADER
        + "3205080101000001,上水井盖,水务局,北片抢修队,320508001001001,完好,20200101,实测,120.61,31.337\n"
        + "3205080101000002,上水井盖,水务局,,320508001001001,破损,2020-01-02,实测,120.612,31.337\n"
        + "32050801,短码,,,,,,,120.61,31.337\n"
        + "3205089901000003,未知类,,,,,,,120.61,31.337\n"
        + "3205080101000004,坐标错,,,,,,,east,31.337\n"
        + "3205080101000005,状态错,,,,被盗,,,120.61,31.337\n"
        + "3205080101000006,日期错,,,,,2020-13-45,,120.61,31.337\n"
        + "3205080101000001,重复,,,,,,,120.61,31.337\n"
        + "3205080118000007,路灯,城管局,,,完好,,地形图,120.62,31.338\n",
        encoding="utf-8",
    )
    result = cli("import", "components", path, "--profile", TESTCITY, "--db", str(engine.db.url))
    assert result.code == 1
    assert result.out == "imported 3 components, rejected 6\n"
    errors = result.err.splitlines()
    assert [e.split(": ", 1)[0] for e in errors] == [f"{path}:line {n}" for n in (4, 5, 6, 7, 8, 9)]
    assert "does not match the pattern" in errors[0] and "unknown component class '9901'" in errors[1]
    assert "lon and lat must be numbers" in errors[2] and "unknown state '被盗'" in errors[3]
    assert "not a date" in errors[4] and "duplicate component code in this file" in errors[5]
    stored = components.get(engine.db, "3205080101000001")
    assert (stored["name"], stored["maintainer_unit"], stored["state"], str(stored["initial_date"])) == (
        "上水井盖",
        "北片抢修队",
        "完好",
        "2020-01-01",
    )
    # importing again: every good row is stored as it is, nothing changes
    again = components.import_file(engine.db, path, engine.profile)
    assert (again.imported, again.updated, again.unchanged) == (0, 0, 3)
    assert engine.places.components.nearest("0118", 120.6201, 31.3381, 30)["code"] == "3205080118000007"
    assert engine.places.components.nearest("0118", 120.63, 31.3381, 30) is None


def test_components_from_geojson(engine, tmp_path):
    path = tmp_path / "components.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"ObjID": "3205080305000001", "ObjName": "垃圾箱", "ObjState": "完好"}, "geometry": {"type": "Point", "coordinates": [120.61, 31.33]}},
    ]}))  # fmt: skip
    report = components.import_file(engine.db, path, engine.profile)
    assert (report.imported, report.rejected) == (1, 0)
    with read(engine.db) as connection:
        assert connection.execute(select(Component.__table__.c.class_code)).scalar_one() == "0305"


def test_an_unsupported_file_type_is_a_message(engine, tmp_path, cli):
    path = tmp_path / "components.xlsx"
    path.write_bytes(b"PK\x03\x04")
    result = cli("import", "components", path, "--profile", TESTCITY, "--db", str(engine.db.url))
    assert result.code == 1 and "from .csv or .geojson files" in result.err


def test_a_database_that_was_never_migrated_is_a_message(cli, tmp_path):
    result = cli("grids", "coverage", "--profile", TESTCITY, "--db", f"sqlite:///{tmp_path / 'empty.db'}")
    assert result.code == 1 and "Traceback" not in result.err
    assert (
        result.err.startswith("error: database: no such table: grid") and "gridcase db upgrade" in result.err
    )


def test_a_profile_component_with_an_explicit_null_is_stored_without_it():
    from gridcase.core.places.components import profile_row

    row = profile_row(
        {"code": "32030200100305001", "class": "0305", "owner_unit": None, "location": [117.18, 34.26]}
    )
    assert row == {
        "code": "32030200100305001",
        "class": "0305",
        "class_code": "0305",
        "lon": 117.18,
        "lat": 34.26,
    }


def test_the_documented_component_file_imports(engine, tmp_path, cli):
    """docs/profiles.md's example, Chinese headers and all, as Excel on a Chinese Windows saves it."""
    docs = (Path(__file__).parents[2] / "docs" / "profiles.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"<!-- example: components -->\n```csv\n(.*?)```", docs, flags=re.S)
    path = tmp_path / "components.csv"
    path.write_bytes(example.encode("gbk"))
    result = cli("import", "components", path, "--profile", TESTCITY, "--db", str(engine.db.url))
    assert (result.code, result.out, result.err) == (0, "imported 2 components, rejected 0\n", "")
    assert (
        components.get(engine.db, "3205080101000002")["grid"]
        == engine.places.grids.locate(120.612, 31.337)["grid"]
    )

"""Each bundled city's generated files are what its generate.py writes today."""

import importlib
import json
from pathlib import Path

import pytest
import yaml

CITIES = ["heping", "taizhou", "xuzhou", "yichang", "chancheng"]


@pytest.mark.parametrize("city", CITIES)
def test_the_generated_files_are_current(city):
    generate = importlib.import_module(f"gridcase.city_profiles.{city}.generate")
    folder = Path(generate.__file__).parent
    assert yaml.safe_load((folder / "units.yaml").read_text(encoding="utf-8")) == generate.units()
    assert json.loads((folder / "grids.geojson").read_text(encoding="utf-8")) == json.loads(
        json.dumps(generate.grids())
    )
    for name in ("taxonomy", "checklists"):
        if hasattr(generate, name):
            assert (
                yaml.safe_load((folder / f"{name}.yaml").read_text(encoding="utf-8"))
                == getattr(generate, name)()
            )


@pytest.mark.parametrize("city", CITIES)
def test_gridcase_profile_validate_passes_for_each_city(cli, city):
    result = cli("profile", "validate", city)
    assert result.code == 0 and result.out.startswith(f"ok: {city}")


def test_a_city_from_gridcase_init_with_no_plugin_runs_the_standard_loop(cli, tmp_path, db_url):
    """A new city is a profile alone: `gridcase init`, its plugin dropped, grids and units as data,
    and a report goes round the whole closed loop."""
    from datetime import UTC, datetime

    import shapely

    from gridcase.core.cases.evidence import EvidenceStore, Upload
    from gridcase.core.engine import Engine
    from gridcase.core.people.actor import Actor
    from gridcase.core.places.grids import lattice, to_json
    from gridcase.core.timesource import ManualTime

    target = tmp_path / "wuhu"
    assert cli("init", target, "--from", "standard").code == 0
    (target / "plugins" / "local.py").unlink()
    profile = target / "profile"
    text = (
        (profile / "profile.yaml")
        .read_text(encoding="utf-8")
        .replace("plugins:\n  - ../plugins/local.py\n", "")
    )
    units = "units:\n  - {code: street1, name: 示范街道, kind: street}\n  - {code: works, name: 市政处, kind: department}\n"
    (profile / "profile.yaml").write_text(text + units, encoding="utf-8")
    grids = lattice(
        (118.35, 31.3, 118.4, 31.35),
        "340202",
        ["district", "street", "community", "unit_grid"],
        [1, 1, 2],
        [3, 3, 3],
    )
    for feature in grids["features"]:
        if feature["properties"]["level"] == "street":
            feature["properties"]["unit"] = "street1"
    (profile / "grids.geojson").write_text(to_json(grids), encoding="utf-8")
    assert cli("profile", "validate", cwd=target).code == 0

    engine = Engine.open(
        str(profile), db_url, time=ManualTime(datetime(2026, 10, 13, 1, tzinfo=UTC)),
        evidence=EvidenceStore(tmp_path / "evidence"),
    )  # fmt: skip
    try:
        engine.load_reference_data()
        assert not [p for p in engine.pm.get_plugins() if "local" in (engine.pm.get_name(p) or "")]
        cell = next(f for f in grids["features"] if f["properties"]["level"] == "unit_grid")
        point = shapely.geometry.shape(cell["geometry"]).centroid
        photo = [Upload("现场.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64))]
        centre, department = (
            Actor.of("operator", "shift_leader", "dispatcher"),
            Actor.of("department", unit="works"),
        )
        case_id = engine.intake(
            {"channel": "patrol", "category": "0102", "kind": "event", "point": [point.x, point.y]},
            Actor.of("supervisor"),
        )["case_id"]
        for code, actor, payload, uploads in [
            ("accept", centre, {}, []), ("file", centre, {"category": "0102", "kind": "event"}, []),
            ("dispatch", centre, {"units": ["works"]}, []), ("sign", department, {}, []),
            ("handle", department, {}, photo), ("check_pass", Actor.of("supervisor"), {}, photo),
            ("close", centre, {}, []),
        ]:  # fmt: skip
            case = engine.transition(case_id, code, actor, payload, uploads=uploads)
        assert case["state"] == "closed" and case["closed_at"] is not None
        assert {c["status"] for c in case["clocks"]} == {"stopped"}
    finally:
        engine.db.dispose()

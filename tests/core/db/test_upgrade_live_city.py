"""`gridcase db upgrade` on a live city: people hold responsibility grids and cases point at grids
when the profile's units and grids change. The upgrade reconciles them in place, in one
transaction, says what it changed, and never touches imported grids."""

import json

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gridcase.core.db.connection import make_engine, read, write
from gridcase.core.db.models import Case, Grid, Responsibility, Unit
from gridcase.core.engine import Engine
from gridcase.core.people.actor import Actor
from gridcase.core.places import reconcile
from gridcase.core.profile import load_validated

DOOMED = "320508002002001"  # a unit grid the profile drops
IN_DOOMED = [120.61, 31.307]
NAMED = "320508001001001"


def edit_grids(folder, change) -> None:
    path = folder / "grids.geojson"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["features"] = change(doc["features"])
    path.write_text(json.dumps(doc), encoding="utf-8")


def square(code: str, level: str, parent: str, x: float, y: float, size: float, **props) -> dict:
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    properties = {"code": code, "level": level, "parent": parent, **props}
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def rows(url, table) -> list[dict]:
    engine = make_engine(url)
    try:
        with read(engine) as connection:
            t = table.__table__
            return [dict(r) for r in connection.execute(select(t).order_by(*t.primary_key)).mappings()]
    finally:
        engine.dispose()


@pytest.fixture
def live(cli, lakeside, db_url):
    """The city in use: migrated and loaded, a supervisor on the grid to be dropped, simulated
    cases, and one case filed in that grid."""

    def run(*args):
        done = cli(*args, "--profile", lakeside, "--db", db_url)
        assert done.code == 0, done.err
        return done

    run("db", "upgrade")
    run("simulate", "--days", 1, "--start", "2026-10-12", "--reports-per-day", 20)
    run("user", "add", "lead", "--role", "supervisor", "--grid", DOOMED)
    run("user", "add", "liu", "--role", "department", "--unit", "water")
    engine = Engine.open(lakeside, db_url)
    try:
        report = {"channel": "patrol", "category": "0101", "kind": "component", "point": IN_DOOMED}
        case_id = engine.intake(report, Actor.of("supervisor"))["case_id"]
    finally:
        engine.db.dispose()
    return run, case_id


def change_the_city(folder) -> None:
    profile = folder / "profile.yaml"
    text = profile.read_text(encoding="utf-8")
    text = text.replace("name: 一街道,", "name: 一街道办事处,")  # a renamed unit
    text = text.replace(
        "  - {code: water, name: 水务局, kind: department, class: A, level: 2}\n", ""
    )  # dropped
    text += "  - {code: parks, name: 园林局, kind: department, level: 2}\n"  # a new one
    profile.write_text(text, encoding="utf-8")

    def grids(features):
        features = [f for f in features if f["properties"]["code"] != DOOMED]
        for f in features:
            if f["properties"]["code"] == NAMED:
                f["properties"]["name"] = "湖心网格"
        return features + [square("320508003", "street", "320508", 120.64, 31.30, 0.02)]

    edit_grids(folder, grids)


def test_an_upgrade_reconciles_units_and_grids_in_place(live, lakeside, db_url):
    run, case_id = live
    change_the_city(lakeside)
    before = {t: rows(db_url, t) for t in (Unit, Grid, Responsibility, Case)}

    dry = run("db", "upgrade", "--dry-run")
    assert {t: rows(db_url, t) for t in before} == before  # nothing written
    done = run("db", "upgrade")
    for output in (dry.out, done.out):
        assert "units added (1): parks" in output
        assert "units updated (1): street1 (name)" in output
        assert "units deactivated (1): water" in output
        assert "grids added (1): 320508003" in output
        assert f"grids updated (1): {NAMED} (name)" in output
        assert f"grids deactivated (1): {DOOMED}" in output
        assert "unit water is deactivated but 1 people still belong to it (liu): move them with" in output
    assert "dry run, nothing written" in dry.out and "nothing written" not in done.out

    units = {u["code"]: u for u in rows(db_url, Unit)}
    assert (units["water"]["active"], units["parks"]["active"]) == (False, True)
    assert units["street1"]["name"] == "一街道办事处"
    grids = {g["code"]: g for g in rows(db_url, Grid)}
    assert len(grids) == 24 and grids[DOOMED]["active"] is False  # kept: people and cases point at it
    assert grids[NAMED]["name"] == "湖心网格" and grids["320508003"]["origin"] == "profile"
    assert rows(db_url, Responsibility) == before[Responsibility]
    assert [c["grid"] for c in rows(db_url, Case) if c["id"] == case_id] == [DOOMED]

    engine = Engine.open(lakeside, db_url)
    try:
        assert engine.places.grids.locate(*IN_DOOMED)["grid"] == "320508002002"  # no report lands in it now
    finally:
        engine.db.dispose()
    again = run("db", "upgrade")
    assert "units: 0 added, 0 updated, 0 deactivated; grids: 0 added, 0 updated, 0 deactivated" in again.out


def test_simulate_runs_on_a_city_whose_people_hold_grids(cli, lakeside, db_url):
    where = ("--profile", lakeside, "--db", db_url)
    assert cli("db", "upgrade", *where).code == 0
    assert cli("user", "add", "lead", "--role", "supervisor", "--grid", DOOMED, *where).code == 0
    done = cli("simulate", "--days", 1, "--start", "2026-10-12", "--reports-per-day", 20, *where)
    assert done.code == 0, done.err


def test_imported_grids_are_never_written_over_or_deactivated(cli, lakeside, db_url, tmp_path):
    where = ("--profile", lakeside, "--db", db_url)
    community = "320508002002"
    imported = [f for f in json.loads((lakeside / "grids.geojson").read_text())["features"]]
    imported = [f for f in imported if f["properties"]["code"].startswith(community + "0")]
    edit_grids(lakeside, lambda fs: [f for f in fs if f not in imported])
    assert cli("db", "upgrade", *where).code == 0
    (tmp_path / "unit_grids.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": imported})
    )
    done = cli("import", "grids", tmp_path / "unit_grids.geojson", *where)
    assert done.code == 0, done.err
    assert cli("user", "add", "lead", "--role", "supervisor", "--grid", DOOMED, *where).code == 0
    stored = {g["code"]: g for g in rows(db_url, Grid)}
    assert {stored[f["properties"]["code"]]["origin"] for f in imported} == {"import"}

    unchanged = cli("db", "upgrade", *where)  # the profile lacks the imported grids: they stay
    assert unchanged.code == 0, unchanged.err
    assert "grids: 0 added, 0 updated, 0 deactivated" in unchanged.out
    assert rows(db_url, Grid) == list(stored.values())

    # the profile now has a grid of an imported grid's code: the import's grid is kept as it is
    clash = json.loads(json.dumps(imported[0]))
    clash["properties"]["name"] = "剖面网格"
    edit_grids(lakeside, lambda fs: fs + [clash])
    kept = cli("db", "upgrade", *where)
    assert kept.code == 0, kept.err
    assert f"kept imported grid {DOOMED} (the profile has a grid of that code)" in kept.out
    assert rows(db_url, Grid) == list(stored.values())


def test_grids_stored_before_origins_were_kept_are_claimed_only_when_the_profile_has_them(lakeside, db_url):
    """Grids from before migration 0015 have no origin: the profile's own become its; a grid it
    lacks may have been imported, so it is left alone and named."""
    profile = load_validated(str(lakeside))[0].plain()
    engine = make_engine(db_url)
    try:
        reconcile.reconcile(engine, profile)
        with write(engine) as connection:
            connection.execute(Grid.__table__.update().values(origin=None))
        edit_grids(lakeside, lambda fs: [f for f in fs if f["properties"]["code"] != DOOMED])
        planned = reconcile.reconcile(engine, load_validated(str(lakeside))[0].plain())
    finally:
        engine.dispose()
    assert [c for c in planned.changes if c.action != "updated"] == []
    assert {c.fields for c in planned.changes} == {("origin",)} and len(planned.changes) == 22
    assert planned.notes == [
        f"left 1 grids alone that the profile lacks and nothing says were imported ({DOOMED})"
    ]
    assert {g["code"]: g["active"] for g in rows(db_url, Grid)}[DOOMED] is True


def test_a_failing_upgrade_changes_nothing_and_says_what_failed(cli, lakeside, db_url, monkeypatch):
    where = ("--profile", lakeside, "--db", db_url)
    assert cli("db", "upgrade", *where).code == 0
    change_the_city(lakeside)
    before = rows(db_url, Unit)

    def refused(connection, planned, now):
        connection.execute(Unit.__table__.update().values(name="half-written"))
        raise IntegrityError("UPDATE …", {}, Exception("FOREIGN KEY constraint failed"))

    monkeypatch.setattr(reconcile, "apply", refused)
    done = cli("db", "upgrade", *where)
    assert done.code == 1 and "Traceback" not in done.err
    assert "FOREIGN KEY constraint failed" in done.err and "db upgrade" not in done.err
    assert rows(db_url, Unit) == before

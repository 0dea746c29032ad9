"""A city database made by an earlier gridcase, full of a city's data, upgrades to head with every
row kept, and the server starts on it: from every earlier migration, on each database.

The city's data is made once per database by the CLI at head (simulated cases with their events,
clocks, timers and notices; people with responsibility grids and tokens; a published
assessment), then loaded into a database migrated only to the earlier revision, with the columns
that revision has: a database as the gridcase of that time left it.
"""

import itertools
import os

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, Table, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel
from starlette.testclient import TestClient

from gridcase.core.cli.main import main
from gridcase.core.db import models  # noqa: F401  (registers the tables)
from gridcase.core.db.connection import alembic_config, head_revision, is_sqlite, make_engine, upgrade
from gridcase.core.places import grids
from gridcase.core.settings import Settings
from gridcase.core.web.app import create_app

# walk_revisions starts at the head
EARLIER = [s.revision for s in ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions()][1:]
COMMUNITY = "320508001001"
REPORT = {"channel": "app", "point": [120.611, 31.335], "category": "0101", "kind": "component"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def new_database(request, tmp_path_factory):
    """Makes empty databases of one backend; yields a function that returns a new one's URL."""
    counter = itertools.count()
    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("upgrades")
        yield lambda: f"sqlite:///{folder}/{next(counter)}.db"
        return
    admin, _ = request.getfixturevalue("pg_admin")
    base, names = make_url(os.environ["GRIDCASE_TEST_PG_URL"]), []

    def new() -> str:
        names.append(f"gridcase_up_{os.getpid()}_{next(counter)}")
        admin.execute(f"CREATE DATABASE {names[-1]}")
        return base.set(database=names[-1]).render_as_string(hide_password=False)

    yield new
    for name in names:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def run(*args) -> None:
    assert main([str(a) for a in args]) == 0, args


@pytest.fixture(scope="module")
def city(new_database, tmp_path_factory, city_writer):
    """The city's profile folder and every table's rows of its database at head, by table."""
    folder = city_writer(tmp_path_factory.mktemp("city") / "lakeside")
    url = new_database()
    where = ("--profile", folder, "--db", url)
    run("db", "upgrade", *where)
    run("simulate", "--days", 3, "--start", "2026-10-12", "--reports-per-day", 40, *where)
    run(
        "user",
        "add",
        "lead",
        "--role",
        "supervisor",
        "--grid",
        COMMUNITY,
        "--attribute",
        "performance_pay=1800",
        *where,
    )
    run("user", "add", "desk", "--role", "operator", "--unit", "district", *where)
    run("user", "add", "resident", "--role", "citizen", *where)
    run("token", "create", "desk", *where)
    run("assess", "--period", "2026-10-12..2026-10-14", "--publish", "--publisher", "lead", *where)
    engine = make_engine(url)
    with engine.connect() as connection:
        rows = {
            table.name: [
                dict(r) for r in connection.execute(select(table).order_by(*table.primary_key)).mappings()
            ]
            for table in SQLModel.metadata.sorted_tables
        }
    engine.dispose()
    for table in (
        "case",
        "case_event",
        "clock",
        "timer",
        "outbox",
        "person",
        "responsibility",
        "api_token",
        "assessment_snapshot",
        "ledger_entry",
        "unit_class_change",
        "grid",
        "unit",
    ):
        assert rows[table], f"the city has no {table} rows to carry over"
    return folder, rows


def columns_at(engine) -> dict[str, list[str]]:
    found = inspect(engine)
    return {name: [c["name"] for c in found.get_columns(name)] for name in found.get_table_names()}


def narrowed(table: Table, names: list[str]) -> Table:
    """The table with only the columns an earlier revision had, typed as gridcase types them."""
    assert set(names) <= set(table.c.keys()), f"{table.name} lost a column since"
    return Table(
        table.name,
        MetaData(),
        *(Column(c.name, c.type, primary_key=c.primary_key) for c in table.c if c.name in names),
    )


def parents_first(table: Table, rows: list[dict]) -> list[dict]:
    """Rows ordered so that a row's own table's foreign keys (grid.parent …) point backwards."""
    refs = [(fk.parent.name, fk.column.name) for fk in table.foreign_keys if fk.column.table is table]
    ordered, pending = [], rows
    while pending:
        seen = {target: {r[target] for r in ordered} for _, target in refs}
        ready = [r for r in pending if all(r[source] is None or r[source] in seen[t] for source, t in refs)]
        assert ready, f"{table.name}: a cycle"
        ordered += ready
        pending = [r for r in pending if not any(r is x for x in ready)]
    return ordered


def load(url: str, rows: dict[str, list[dict]]) -> dict[str, list[str]]:
    engine = make_engine(url)
    present = columns_at(engine)
    with engine.begin() as connection:  # foreign keys on: the rows must hold at that revision too
        for table in SQLModel.metadata.sorted_tables:
            if table.name in present and rows[table.name]:
                old = narrowed(table, present[table.name])
                connection.execute(
                    insert(old),
                    [{k: r[k] for k in old.c.keys()} for r in parents_first(table, rows[table.name])],
                )
                if not is_sqlite(engine) and "id" in old.c:  # as if the rows had been numbered there
                    connection.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), max(id)) FROM \"{table.name}\""
                        )
                    )
    engine.dispose()
    return present


@pytest.mark.parametrize("revision", EARLIER)
def test_a_populated_database_upgrades_with_every_row_kept_and_serves(revision, city, new_database, cli):
    folder, rows = city
    url = new_database()
    upgrade(url, revision)
    present = load(url, rows)

    done = cli("db", "upgrade", "--profile", folder, "--db", url)
    assert done.code == 0, done.err

    engine = make_engine(url)
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in present:
                old = narrowed(table, present[table.name])
                kept = [
                    dict(r) for r in connection.execute(select(old).order_by(*old.primary_key)).mappings()
                ]
                before = [{k: r[k] for k in old.c.keys()} for r in rows[table.name]]
                if table.name == "counter":  # the grids' version moves whenever grids are written
                    kept, before = ([r for r in x if r["key"] != grids.VERSION] for x in (kept, before))
                assert kept == before, table.name
    engine.dispose()

    token = cli("token", "create", "resident", "--profile", folder, "--db", url).out.strip()
    with TestClient(create_app(Settings(profile=str(folder), database_url=url, sweep_seconds=0))) as client:
        ready = client.get("/readyz").json()
        assert (ready["status"], ready["revision"]) == ("ready", head_revision())
        made = client.post("/api/v1/cases", json=REPORT, headers={"Authorization": f"Bearer {token}"})
        assert made.status_code == 201, made.text
    assert cli("assess", "--period", "2026-10-12..2026-10-14", "--profile", folder, "--db", url).code == 0

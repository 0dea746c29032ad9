"""Every timestamp is stored in one form, UTC, whichever path writes it: the simulator, the API
and the CLI. SQLite compares stored text, so a stop time written as local time with an offset
("… 08:10+08:00") sorted after a UTC deadline of the same morning and counted on-time handling
as late."""

import re
from datetime import date

from alembic import command
from sqlalchemy import func, select, text
from sqlmodel import SQLModel
from starlette.testclient import TestClient

from gridcase.core.db.connection import alembic_config, make_engine, migrating, upgrade
from gridcase.core.db.models import Clock, UTCDateTime
from gridcase.core.people.accounts import create_token
from gridcase.core.places.units import add_person
from gridcase.core.simulate import simulate
from gridcase.core.web.app import create_app

from ...conftest import TESTCITY

CLOCK = Clock.__table__
# how SQLAlchemy's SQLite DateTime writes a UTC moment (UTCDateTime drops the offset)
SQLITE_UTC = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")
TIMESTAMPS = [
    (table.name, column.name)
    for table in SQLModel.metadata.sorted_tables
    for column in table.c
    if isinstance(column.type, UTCDateTime)
]


def stored_forms(url: str) -> dict[str, list[str]]:
    """Each timestamp column's stored values that are not in the one UTC form."""
    engine = make_engine(url)
    wrong: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for table, column in TIMESTAMPS:
            if connection.dialect.name == "sqlite":
                query = f'SELECT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL'
                values = connection.execute(text(query)).scalars()
                bad = [v for v in values if not SQLITE_UTC.match(str(v))]
            else:  # PostgreSQL keeps moments: the column must be timestamptz
                kind = connection.execute(
                    text(
                        "SELECT data_type FROM information_schema.columns WHERE table_name = :t AND column_name = :c"
                    ),
                    {"t": table, "c": column},
                ).scalar()
                bad = [] if kind == "timestamp with time zone" else [kind]
            if bad:
                wrong[f"{table}.{column}"] = bad[:3]
    engine.dispose()
    return wrong


def test_the_simulator_stores_every_timestamp_in_utc(db_url, tmp_path):
    simulate(
        "heping", db_url, days=2, seed=3, start=date(2026, 10, 12), reports_per_day=40, evidence=tmp_path
    )
    assert stored_forms(db_url) == {}


def test_the_api_and_the_cli_store_every_timestamp_in_utc(engine, cli, db_url):
    add_person(engine.db, "zhang", "zhang", ["operator", "shift_leader", "dispatcher"])
    add_person(engine.db, "sup", "sup", ["supervisor"], grids=["320508001"])
    add_person(engine.db, "water", "water", ["department"], unit="water")
    tokens = {
        name: create_token(engine.db, name, "t", engine.time.now()) for name in ("zhang", "water", "sup")
    }
    with TestClient(create_app(engine=engine)) as client:

        def post(path, who, body):
            answer = client.post(path, json=body, headers={"Authorization": f"Bearer {tokens[who]}"})
            assert answer.status_code in (200, 201), answer.text
            return answer.json()

        report = {"channel": "patrol", "point": [120.61, 31.337], "category": "0101", "kind": "component"}
        case_id = post("/api/v1/cases", "sup", report)["case_id"]
        for transition, body in (
            ("accept", {}),
            ("file", {"payload": {"category": "0101", "kind": "component", "standard": "loose"}}),
            ("dispatch", {"payload": {"units": ["water"]}}),
            ("sign", {}),
        ):
            post(
                f"/api/v1/cases/{case_id}/transitions/{transition}",
                "water" if transition == "sign" else "zhang",
                body,
            )
    base = ["--profile", TESTCITY, "--db", db_url]
    assert cli("calendar", "set", "2027-02-10", "--off", *base).code == 0
    assert cli("sla", "sweep", *base).code == 0
    assert cli("user", "add", "li", "--role", "operator", *base).code == 0
    assert cli("token", "create", "li", *base).code == 0
    assert stored_forms(db_url) == {}


def test_the_database_orders_the_simulators_clocks_like_their_moments(db_url, tmp_path):
    """What assessment counts in SQL (stopped after the deadline) is what the moments say."""
    simulate(
        "heping", db_url, days=2, seed=3, start=date(2026, 10, 12), reports_per_day=40, evidence=tmp_path
    )
    engine = make_engine(db_url)
    with engine.connect() as connection:
        late_in_sql = connection.execute(
            select(func.count()).where(CLOCK.c.stopped_at > CLOCK.c.deadline)
        ).scalar()
        stopped = connection.execute(
            select(CLOCK.c.stopped_at, CLOCK.c.deadline).where(
                CLOCK.c.stopped_at.is_not(None), CLOCK.c.deadline.is_not(None)
            )
        ).all()
    engine.dispose()
    assert len(stopped) > 50
    assert late_in_sql == sum(1 for at, deadline in stopped if at > deadline)


def test_the_upgrade_rewrites_local_times_stored_before_in_utc(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    simulate("heping", url, days=1, seed=3, start=date(2026, 10, 12), reports_per_day=20, evidence=tmp_path)
    with migrating(url) as connection:  # back to 0015, holding times as a transition then wrote them
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.downgrade(config, "0015")
        connection.execute(
            text("UPDATE clock SET stopped_at = '2026-10-12 08:14:15.130219+08:00' WHERE id = 1")
        )
        connection.execute(text("UPDATE clock SET started_at = '2026-10-12T00:10:00' WHERE id = 2"))
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as connection:
        stopped = connection.execute(text("SELECT stopped_at FROM clock WHERE id = 1")).scalar()
        started = connection.execute(text("SELECT started_at FROM clock WHERE id = 2")).scalar()
    assert (stopped, started) == ("2026-10-12 00:14:15.130219", "2026-10-12 00:10:00.000000")
    engine.dispose()
    assert stored_forms(url) == {}

"""The shipped migrations build exactly the tables the models declare, on each database, and an
upgrade is all or nothing."""

import sqlite3

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

from gridcase.core.db import models  # noqa: F401  (registers the tables)
from gridcase.core.db.connection import (
    alembic_config,
    current_revision,
    head_revision,
    make_engine,
    migrating,
    upgrade,
)
from gridcase.core.errors import GridcaseError
from gridcase.core.people.actor import Actor


def test_migrations_match_the_models(db_url):
    engine = make_engine(db_url)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []
    engine.dispose()
    assert current_revision(db_url) == head_revision()


def test_sqlite_refuses_to_commit_an_upgrade_that_leaves_a_broken_key(tmp_path):
    """The rebuilds run with SQLite's foreign-key check off, so the keys are checked before the
    commit; a failing upgrade leaves the database where it was, not one migration further."""
    path = tmp_path / "city.db"
    upgrade(f"sqlite:///{path}", "0012")
    with sqlite3.connect(path) as connection:  # the driver's own connection checks no keys
        connection.execute("INSERT INTO responsibility (person_id, grid) VALUES (7, 'nowhere')")
    with pytest.raises(
        GridcaseError,
        match="2 references to rows that do not exist .responsibility row 1 points at a missing person",
    ):
        upgrade(f"sqlite:///{path}")
    assert current_revision(f"sqlite:///{path}") == "0012"


def test_keys_stored_before_0017_become_their_reporters_and_still_replay(engine):
    """A report's key from before keys were scoped is its reporter's afterwards ("-" without one);
    no request digest was kept, so a retry of it is taken as the same request."""
    from alembic import command

    report = {"channel": "patrol", "point": [120.61, 31.337], "category": "0101", "kind": "component"}
    first = engine.intake(report, Actor.of("supervisor"), idempotency_key="handset-1")
    url = engine.db.url.render_as_string(hide_password=False)
    engine.db.dispose()
    with migrating(url) as connection:  # back to 0016, holding a key as 0016 stored it: bare
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.downgrade(config, "0016")
        connection.execute(text("UPDATE report SET idempotency_key = 'handset-1'"))
    upgrade(url)
    with engine.db.connect() as connection:
        assert connection.execute(text("SELECT idempotency_key FROM report")).scalar() == "-:handset-1"
    again = engine.intake({**report, "description": "?"}, Actor.of("supervisor"), idempotency_key="handset-1")
    # and the report, stored before 0019, has no random token: it answers to its old one (open311.py)
    assert again == {**first, "token": None, "replay": True}

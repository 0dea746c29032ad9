"""The shipped migrations build exactly the tables the models declare, on each database, and an
upgrade is all or nothing."""

import sqlite3

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from gridcase.core.db import models  # noqa: F401  (registers the tables)
from gridcase.core.db.engine import current_revision, head_revision, make_engine, upgrade
from gridcase.core.errors import GridcaseError


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

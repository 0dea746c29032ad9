"""The shipped migrations build exactly the tables the models declare, on each database."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from gridcase.core.db import models  # noqa: F401  (registers the tables)
from gridcase.core.db.engine import current_revision, make_engine


def test_migrations_match_the_models(db_url):
    engine = make_engine(db_url)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []
    engine.dispose()
    assert current_revision(db_url) == "0014"

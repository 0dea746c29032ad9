"""A batch is one transaction whose writes are savepoints: a refused write undoes only itself."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from gridcase.core.db.connection import batch, make_engine, read, write


class Refused(Exception):
    pass


def _names(engine) -> list[str]:
    with engine.connect() as connection:
        return connection.execute(text("SELECT name FROM t ORDER BY name")).scalars().all()


@pytest.fixture
def table(db_url):
    engine = make_engine(db_url)
    with write(engine) as connection:
        connection.execute(text("CREATE TABLE t (name VARCHAR(20) PRIMARY KEY)"))
    yield engine
    engine.dispose()


def test_a_refused_write_in_a_batch_undoes_itself_and_nothing_else(table):
    with batch(table):
        with write(table) as connection:
            connection.execute(text("INSERT INTO t VALUES ('kept')"))
        with pytest.raises(Refused), write(table) as connection:
            connection.execute(text("INSERT INTO t VALUES ('undone')"))
            raise Refused
        with write(table) as connection:
            # a failed statement inside a write leaves the batch usable (PostgreSQL aborts the
            # whole transaction on an error unless the savepoint is rolled back)
            with pytest.raises(IntegrityError), write(table) as inner:
                inner.execute(text("INSERT INTO t VALUES ('kept')"))
            connection.execute(text("INSERT INTO t VALUES ('later')"))
        with read(table) as connection:
            seen = connection.execute(text("SELECT name FROM t ORDER BY name")).scalars().all()
        assert seen == ["kept", "later"]  # reads inside the batch see its writes
    assert _names(table) == ["kept", "later"]


def test_nothing_in_a_batch_is_visible_or_kept_until_it_ends_well(table):
    with pytest.raises(Refused), batch(table):
        with write(table) as connection:
            connection.execute(text("INSERT INTO t VALUES ('pending')"))
        raise Refused
    assert _names(table) == []

"""Statements straight through the driver fail as SQLAlchemy's would: the same exception
classes, and a lost connection is invalidated so the pool replaces it."""

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.pool import NullPool

from gridcase.core.db.connection import read, write
from gridcase.core.db.fast import Sent, pipelined, raw_cursor

CLAIM = "INSERT INTO counter (key, value) VALUES ({0}, 1)"


def _mark(connection) -> str:
    return "?" if connection.dialect.paramstyle == "qmark" else "%s"


def test_a_driver_error_is_sqlalchemys_and_undoes_the_transaction(engine):
    with pytest.raises(IntegrityError):
        with write(engine.db) as connection, raw_cursor(connection) as cursor:
            sql = CLAIM.format(_mark(connection))
            cursor.execute(sql, ("raw-test",))
            cursor.execute(sql, ("raw-test",))
    with read(engine.db) as connection:
        assert connection.execute(text("SELECT count(*) FROM counter WHERE key = 'raw-test'")).scalar() == 0


def test_an_error_in_a_pipeline_is_raised_when_it_syncs(engine):
    with pytest.raises(IntegrityError):
        with write(engine.db) as connection, pipelined(connection), raw_cursor(connection) as cursor:
            sql = CLAIM.format(_mark(connection))
            cursor.execute(sql, ("piped",))
            cursor.execute(sql, ("piped",))


def test_a_connection_lost_under_a_raw_statement_is_replaced(engine):
    if engine.db.dialect.name != "postgresql":
        pytest.skip("SQLite has no connection to lose")
    admin = create_engine(engine.db.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with pytest.raises(OperationalError) as lost:
        with write(engine.db) as connection, raw_cursor(connection) as cursor:
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
            with admin.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            cursor.execute("SELECT 1")
    admin.dispose()
    assert lost.value.connection_invalidated
    with read(engine.db) as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1


def test_a_connection_lost_under_a_raw_statement_replaces_the_pools_others_too(engine):
    """The server went away (a restart): the first statement to notice, a raw one, fails, and
    every connection the pool made before it is replaced, as SQLAlchemy does for its own
    statements, so the pool's other idle connections do not fail the requests after it."""
    if engine.db.dialect.name != "postgresql":
        pytest.skip("SQLite has no connection to lose")
    held = [engine.db.connect() for _ in range(3)]  # three connections idle in the pool
    for connection in held:
        connection.close()
    admin = create_engine(engine.db.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as other:
        other.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    admin.dispose()
    with pytest.raises(OperationalError) as lost:
        with read(engine.db) as connection, raw_cursor(connection) as cursor:
            cursor.execute("SELECT 1")
    assert lost.value.connection_invalidated
    held = [engine.db.connect() for _ in range(3)]
    try:
        for connection in held:
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        for connection in held:
            connection.close()


def test_a_write_that_fails_before_reading_a_sent_result_breaks_no_pooled_connection(engine):
    """A write failed (a lone surrogate the driver could not encode, in the report inserted after
    an UPDATE … RETURNING sent for the same case) before the sent statement's result was read.
    pysqlite kept that statement running with its cursor, so whoever got the connection next was
    refused ("cannot commit transaction - SQL statements in progress"): 26 of 32 requests under
    load, for as long as the cursor went uncollected. Every pooled connection must work after."""
    bump = "INSERT INTO counter (key, value) VALUES ({0}, 1) ON CONFLICT (key) DO UPDATE SET value = 2 RETURNING value"
    with pytest.raises(UnicodeEncodeError):
        with write(engine.db) as connection:
            sent = Sent(connection, bump.format(_mark(connection)), ("sent",))  # its result never read
            with raw_cursor(connection) as cursor:
                cursor.execute(CLAIM.format(_mark(connection)), ("x\ud800",))
    assert sent  # still referenced (as a traceback keeps it) when the connection goes back
    held = [engine.db.connect() for _ in range(3)]  # whichever the pool hands out
    try:
        for connection in held:
            with connection.begin():
                assert (
                    connection.execute(text("SELECT count(*) FROM counter WHERE key = 'sent'")).scalar() == 0
                )
    finally:
        for connection in held:
            connection.close()

"""Statements straight through the DB-API driver, for the hot paths (fastinsert, fastquery, the
case-number counter, the dedupe locks, batch savepoints).

`raw_cursor` makes their failures read as SQLAlchemy's would: a driver error becomes the same
`sqlalchemy.exc` class (IntegrityError, OperationalError …), and a lost connection invalidates
the pool, so it replaces its connections and the API answers 503, exactly as for statements that
went through SQLAlchemy.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import DBAPIError


@contextmanager
def translated(connection: Connection, statement: str | None) -> Iterator[None]:
    """Driver errors inside the block as SQLAlchemy's, a lost connection invalidated."""
    dialect = connection.dialect
    try:
        yield
    except dialect.loaded_dbapi.Error as exc:
        lost = dialect.is_disconnect(exc, connection.connection.dbapi_connection, None)
        if lost:
            # as SQLAlchemy does for its own statements: a lost connection means the server
            # went away, so every connection the pool made before now is stale, not just this one
            connection.engine.pool._invalidate(connection.connection, exc)
            connection.invalidate(exc)
        raise DBAPIError.instance(
            statement, None, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost
        ) from exc


@contextmanager
def raw_cursor(connection: Connection, statement: str | None = None) -> Iterator[Any]:
    """A DB-API cursor of the connection's transaction, closed after, its errors SQLAlchemy's."""
    with translated(connection, statement):
        cursor = connection.connection.cursor()
        try:
            yield cursor
        finally:
            cursor.close()


T = TypeVar("T")
UNREAD = "gridcase_unread"  # the cursors of a connection's `Sent` statements not read yet


def close_unread_on_rollback(engine: Engine) -> None:
    """A transaction rolled back leaves none of its statements running: a write that failed
    before it read a `Sent` result (a value the driver could not encode, a refused row) left
    that cursor open, and pysqlite keeps its statement running with it, so whoever got the
    connection from the pool next could not commit ("SQL statements in progress") until the
    garbage collector happened to close it: seconds under load, with most requests answered
    503. Only on rollback: a committed block's results may still be read after it (`pipelined`)."""

    @event.listens_for(engine, "rollback")
    def _close_unread(connection: Connection) -> None:
        if connection.invalidated:
            return
        for cursor in connection.info.pop(UNREAD, ()):
            cursor.close()


class Sent:
    """A statement run on a cursor of its own, its result read later: inside `pipelined`, read
    after the block, which syncs once for everything sent in it (a read inside the block costs
    a round trip of its own)."""

    def __init__(
        self, connection: Connection, sql: str, params: Any, prepare: bool = True, native: bool = False
    ) -> None:
        """`prepare=False` and `native` are psycopg's, and `prepare` means nothing elsewhere: a
        statement not prepared, and one written with PostgreSQL's own placeholders ($1 …), which
        psycopg sends as they are instead of parsing the text for its own (a cost that grows with
        the text, uncached past 4 kB)."""
        self.connection, self.sql = connection, sql
        with translated(connection, sql):
            if native:
                from psycopg import RawCursor

                self.cursor = RawCursor(connection.connection.driver_connection)
            else:
                self.cursor = connection.connection.cursor()
            try:
                if prepare or connection.dialect.name != "postgresql":
                    self.cursor.execute(sql, params)
                else:
                    self.cursor.execute(sql, params, prepare=False)
            except BaseException:
                self.cursor.close()
                raise
        self.unread = connection.connection.info.setdefault(UNREAD, set())
        self.unread.add(self.cursor)

    def read(self, how: Callable[[Any], T]) -> T:
        """`how(cursor)`, once; the cursor is closed after."""
        try:
            with translated(self.connection, self.sql):
                return how(self.cursor)
        finally:
            self.unread.discard(self.cursor)
            self.cursor.close()


@contextmanager
def pipelined(connection: Connection) -> Iterator[None]:
    """Statements sent together: on PostgreSQL through psycopg's pipeline mode, one round trip for
    the lot instead of one each, the first read of a result waiting for all before it. Only raw
    statements (`raw_cursor`) may run inside: SQLAlchemy reads a statement's result the moment
    it runs it. An error of any of them is raised when the pipeline syncs."""
    if connection.dialect.name != "postgresql":
        yield
        return
    with translated(connection, None), connection.connection.driver_connection.pipeline():
        yield

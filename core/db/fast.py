"""The fast path: statements on the hot paths (intake, who asks, a simulated month's transitions)
straight through the DB-API driver, behind the interface of the plain SQLAlchemy Core path.

Why it exists: SQLAlchemy's execution costs ~25 µs a statement here, and ~60 µs a query with
results, against ~4 µs for the driver itself, and an intake writes about eight rows a case. On
PostgreSQL, statements sent together in psycopg's pipeline mode (`pipelined`) share one round
trip, which SQLAlchemy cannot do: it reads a statement's result the moment it runs it. An
authenticated intake waits for PostgreSQL 5 times, where it waited 17
(`tests/core/test_round_trips.py` counts them), and each wait holds the dedupe and counter locks
a little longer (docs/architecture.md, "Intake speed").

The interface is the plain path's, on any connection the plain path takes, SQLite or PostgreSQL:

- `FastInsert(table)` stores rows exactly as `connection.execute(insert(table), rows)` does,
  through the columns' own type processors (UTC timestamps, JSON, booleans);
- `FastQuery(statement)` answers what `connection.execute(statement, params).mappings()` does,
  for a Core query or UPDATE … RETURNING built once;
- their failures are the plain path's: a driver error is raised as the same `sqlalchemy.exc`
  class (IntegrityError, OperationalError …), and a lost connection is invalidated and the
  engine replaces its pool (`Engine.dispose`), so the API answers 503 and the next request gets a
  fresh connection, exactly as for a statement that went through SQLAlchemy.

What differs between the databases stays in here, and callers do not branch on the dialect:
placeholders, psycopg's pipeline and its native placeholders ($1 …), SQLite's ids of a multi-row
INSERT, and the case numbers claimed inside the cases' own INSERT (`NumberedInsert`), for which
PostgreSQL reserves the rows' ids ahead (`NumberedInsert.reserve`; elsewhere it reserves none and
the caller numbers the plain way, `numbering.case_number`).

`send` runs a statement now and returns a function that reads its answer later (`Sent`): inside
`pipelined`, read after the block, which syncs once for everything sent in it.
"""

from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from functools import cache, partial
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, Table, bindparam, event, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.selectable import ReturnsRows

if TYPE_CHECKING:
    import psycopg
    from sqlalchemy.engine.interfaces import DBAPICursor

    from gridcase.core.db.numbering import Composed

T = TypeVar("T")
UNREAD = "gridcase_unread"  # the cursors of a connection's `Sent` statements not read yet


def _postgresql(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def _psycopg(connection: Connection) -> "psycopg.Connection[Any]":
    """The psycopg connection under a PostgreSQL connection of SQLAlchemy."""
    driver = connection.connection.driver_connection
    if driver is None:
        raise RuntimeError("the connection's DBAPI connection was invalidated or closed")
    return driver


@contextmanager
def translated(connection: Connection, statement: str | None) -> Iterator[None]:
    """Driver errors inside the block raised as SQLAlchemy's, a lost connection replaced."""
    dialect = connection.dialect
    try:
        yield
    except dialect.loaded_dbapi.Error as exc:
        lost = dialect.is_disconnect(exc, connection.connection.dbapi_connection, None)
        if lost:
            # what SQLAlchemy does for its own statements, through its public API: a lost
            # connection means the server went away, so every connection the pool made before
            # now is stale, not just this one; the engine starts a new pool
            connection.invalidate(exc)
            connection.engine.dispose()
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
        """`prepare=False` and `native` are PostgreSQL's, and mean nothing elsewhere: a statement
        not prepared, and one written with PostgreSQL's own placeholders ($1 …), which psycopg
        sends as they are instead of parsing the text for its own (a cost that grows with the
        text, uncached past 4 kB)."""
        self.connection, self.sql = connection, sql
        postgresql = _postgresql(connection)
        self.cursor: DBAPICursor | psycopg.Cursor[Any]
        execute: Callable[[str, Any], object]
        with translated(connection, sql):
            if postgresql:
                if native:
                    from psycopg import RawCursor

                    cursor: psycopg.Cursor[Any] = RawCursor(_psycopg(connection))
                else:
                    cursor = _psycopg(connection).cursor()  # what connection.connection.cursor() is
                self.cursor = cursor
                execute = cursor.execute if prepare else partial(cursor.execute, prepare=False)
            else:
                self.cursor = connection.connection.cursor()
                execute = self.cursor.execute
            try:
                execute(sql, params)
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
    the lot instead of one each, the first read of a result waiting for all before it (elsewhere
    the block just runs). Only this module's statements may run inside: SQLAlchemy reads a
    statement's result the moment it runs it. An error of any of them is raised when the
    pipeline syncs."""
    if not _postgresql(connection):
        yield
        return
    with translated(connection, None), _psycopg(connection).pipeline():
        yield


class FastInsert:
    """`insert(table)`'s rows, straight through the driver. The SQL is prepared once per dialect,
    and many rows go in as one statement (`many`, `send_many`): a batch of intakes writes each
    table once instead of once a case, and every statement costs the worker a send to the server
    and psycopg's own work, pipelined or not (sampled under load: about a third of a worker's
    time went to running statements before the intake's rows were gathered this way)."""

    def __init__(self, table: Table, returning_id: bool = False) -> None:
        self.table, self.returning_id = table, returning_id
        self.columns = tuple(c.name for c in table.c if c.name != "id")
        self._prepared: dict[str, tuple[str, list[Any]]] = {}

    def _prepare(self, connection: Connection) -> tuple[str, list[Any]]:
        dialect = connection.dialect
        prepared = self._prepared.get(dialect.name)
        if prepared is None:
            quote = dialect.identifier_preparer.quote
            columns = ", ".join(quote(c) for c in self.columns)
            sql = f"INSERT INTO {quote(self.table.name)} ({columns}) VALUES "
            processors = [
                self.table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in self.columns
            ]
            prepared = self._prepared[dialect.name] = (sql, processors)
        return prepared

    def _sql(self, connection: Connection, rows: int, returning: bool = True) -> str:
        mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        one = f"({', '.join([mark] * len(self.columns))})"
        sql = self._prepare(connection)[0] + ", ".join([one] * rows)
        return sql + " RETURNING id" if self.returning_id and returning else sql

    @cache  # noqa: B019 (the inserts are module constants, made once)
    def _native_sql(self, rows: int) -> str:
        """PostgreSQL's INSERT of `rows` rows with its own placeholders ($1 …)."""
        width = len(self.columns)
        marks = (
            "(" + ", ".join(f"${row * width + column + 1}" for column in range(width)) + ")"
            for row in range(rows)
        )
        sql = self._prepared["postgresql"][0] + ", ".join(marks)
        return sql + " RETURNING id" if self.returning_id else sql

    def values(self, connection: Connection, row: dict[str, Any]) -> tuple:
        """The row's values in column order, as the driver takes them."""
        return self._values(self._prepare(connection)[1], row)

    def _values(self, processors: list[Any], row: dict[str, Any]) -> tuple:
        values = [row.get(c) for c in self.columns]
        for i, p in enumerate(processors):
            if p is not None and values[i] is not None:
                values[i] = p(values[i])
        return tuple(values)

    def __call__(self, connection: Connection, row: dict[str, Any]) -> int | None:
        """Insert the row; its new id (for a table inserted `returning_id`; else None)."""
        return self.send(connection, row)()

    def send(self, connection: Connection, row: dict[str, Any]) -> Callable[[], int | None]:
        """Insert now; the answer reads the new id (see `Sent`)."""
        sent = Sent(connection, self._sql(connection, 1), self._values(self._prepare(connection)[1], row))
        if not self.returning_id:
            sent.read(lambda cursor: None)  # nothing to read: the cursor closes now
            return lambda: None
        return lambda: sent.read(lambda cursor: cursor.fetchone()[0])

    def many(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        """Insert the rows, as one statement where the database allows."""
        self.send_many(connection, rows)()

    def send_many(self, connection: Connection, rows: list[dict[str, Any]]) -> Callable[[], list[int]]:
        """Insert the rows now; the answer reads their new ids, in the rows' order (for a table
        inserted `returning_id`; else nothing)."""
        if not rows:
            return list
        processors = self._prepare(connection)[1]
        if not _postgresql(connection):
            return self._sqlite_many(connection, rows, processors)
        sents = []
        for at in range(0, len(rows), self.most):  # within the protocol's 65,535 parameters
            chunk = rows[at : at + self.most]
            values = [v for row in chunk for v in self._values(processors, row)]
            # its text varies with its rows: prepared, each size would be a statement of its own
            sents.append(Sent(connection, self._native_sql(len(chunk)), values, prepare=False, native=True))
        if not self.returning_id:
            for sent in sents:
                sent.read(lambda cursor: None)
            return list
        # PostgreSQL returns an INSERT … VALUES's rows in the order of its VALUES (Django's
        # bulk_create relies on the same), so the ids line up with `rows`
        return lambda: [row[0] for sent in sents for row in sent.read(lambda cursor: cursor.fetchall())]

    def _sqlite_many(
        self, connection: Connection, rows: list[dict[str, Any]], processors: list[Any]
    ) -> Callable[[], list[int]]:
        """SQLite: one INSERT for every 32,766 parameters. SQLite leaves RETURNING's order open,
        but numbers a statement's new rows one after another in the order of its VALUES (an
        INTEGER PRIMARY KEY takes the largest so far plus one, and a writer is alone), so the
        last row's id gives every row's."""
        ids: list[int] = []
        most = 32_766 // len(self.columns)
        for at in range(0, len(rows), most):
            chunk = rows[at : at + most]
            sql = self._sql(connection, len(chunk), returning=False)
            with raw_cursor(connection, sql) as cursor:
                cursor.execute(sql, [v for row in chunk for v in self._values(processors, row)])
                last = cursor.lastrowid
            ids += range(last - len(chunk) + 1, last + 1)
        return lambda: ids if self.returning_id else []

    @property
    def most(self) -> int:
        return 65_535 // len(self.columns)


class _Compiled:
    """A query compiled for one dialect, with its parameters' processors; the results' processors
    need the driver's type codes, so they are made on the first execution."""

    def __init__(self, statement: ReturnsRows, dialect) -> None:
        self.statement, self.dialect = statement, dialect
        self.compiled = statement.compile(dialect=dialect)
        # a list parameter (`in_(bindparam(…, expanding=True))`) has a placeholder a value, so
        # its text is rendered for each call's list
        self.expanding = any(bind.expanding for bind in self.compiled.binds.values())
        text = self.compiled
        if self.compiled.literal_execute_params and not self.expanding:
            # a literal parameter (aggregate_strings' separator) belongs in the constant text;
            # rendering it wants a value for every parameter, so placeholders stand in
            literal = self.compiled.literal_execute_params
            placeholders = {name: None for name, bind in self.compiled.binds.items() if bind not in literal}
            text = statement.params(placeholders).compile(
                dialect=dialect, compile_kwargs={"render_postcompile": True}
            )
        self.sql, self.positions = text.string, text.positiontup
        self.params = {
            name: process
            for name, bind in self.compiled.binds.items()
            if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }
        self.results: list | None = None

    def bound(self, params: dict[str, Any]) -> tuple[str, tuple | MutableMapping[str, Any]]:
        """The SQL and the driver's arguments for `params`."""
        values: MutableMapping[str, Any]
        if self.expanding:
            state = self.compiled.construct_expanded_state(params)
            sql, values, positions = state.statement, dict(state.parameters), state.positiontup
            processors = {**self.params, **state.processors}
        else:
            sql, values, positions = self.sql, self.compiled.construct_params(params), self.positions
            processors = self.params
        for name, process in processors.items():
            if values.get(name) is not None:
                values[name] = process(values[name])
        return sql, tuple(values[n] for n in positions) if positions else values

    def result_processors(self, cursor) -> list:
        if self.results is None:  # psycopg builds the description afresh on every read of it
            self.results = [
                c.type.dialect_impl(self.dialect).result_processor(self.dialect, d[1])
                for c, d in zip(self.statement.exported_columns, cursor.description, strict=True)
            ]
        return self.results


class FastQuery:
    """A query (or an UPDATE … RETURNING) built once with SQLAlchemy, compiled once per dialect,
    run with the columns' own type processors on its parameters and results, so it answers
    exactly what `connection.execute(query)` would, without SQLAlchemy's per-call execution
    context. It may run inside `pipelined`, which lets a lock and the query after it share one
    round trip."""

    def __init__(self, statement: ReturnsRows, prepare: bool = True) -> None:
        """`prepare=False` plans the query afresh each time (PostgreSQL), for one whose best plan
        depends on its parameters' values: a prepared statement turns to a generic plan after
        five runs, which for a list of keys can be a scan of the whole table."""
        self.statement, self.prepare = statement, prepare
        self.names = tuple(c.name for c in statement.exported_columns)
        self._compiled: dict[str, _Compiled] = {}

    def __call__(self, connection: Connection, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The rows, each a dict of the selected columns' names."""
        return self.send(connection, params)()

    def send(self, connection: Connection, params: dict[str, Any]) -> Callable[[], list[dict[str, Any]]]:
        """Run the query now; the answer reads its rows (see `Sent`)."""
        dialect = connection.dialect
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _Compiled(self.statement, dialect)
        sent = Sent(connection, *compiled.bound(params), self.prepare)

        def rows() -> list[dict[str, Any]]:
            fetched, processors = sent.read(
                lambda cursor: (cursor.fetchall(), compiled.result_processors(cursor))
            )
            return [
                {
                    name: value if process is None else process(value)
                    for name, process, value in zip(self.names, processors, row, strict=True)
                }
                for row in fetched
            ]

        return rows


class NumberedInsert:
    """Rows inserted with the next numbers of one counter, claimed in the same statement
    (PostgreSQL): `WITH claimed AS (INSERT INTO counter …) INSERT INTO t (…) VALUES (…), …`.

    The claim locks the counter's row until the transaction ends, and every case of a day (with
    the usual formats) draws from one counter, so the lock's hold time caps new cases a second:
    sampled under load, 44% of intake connections were waiting on it when the number was claimed
    four round trips ahead of the commit. Sent with the cases' other rows in one pipeline, the
    lock is taken a moment before the commit. The rows' ids are reserved ahead (`reserve`), since
    the rows carry them; the database builds each number (see `numbering.Composed`)."""

    def __init__(self, insert: FastInsert, column: str = "number") -> None:
        self.insert, self.column = insert, column
        table = f'"{insert.table.name}"'
        self._next_ids = FastQuery(
            select(func.nextval(func.pg_get_serial_sequence(table, "id")).label("id")).select_from(
                func.generate_series(1, bindparam("n"))
            )
        )

    def reserve(self, connection: Connection, n: int) -> Callable[[], list[int]]:
        """Send the reservation of ids for `n` rows to number this way; the answer reads them.
        Only PostgreSQL numbers rows inside their INSERT: elsewhere none are reserved, and the
        rows are numbered the plain way (claimed first, `numbering.case_number`), which serial
        writers (SQLite's) lose nothing by."""
        if n == 0 or not _postgresql(connection):
            return list
        rows = self._next_ids.send(connection, {"n": n})
        return lambda: [row["id"] for row in rows()]

    def send_many(
        self, connection: Connection, rows: list[tuple[int, dict[str, Any]]], number: "Composed"
    ) -> Callable[[], dict[int, str]]:
        """Insert each (id, row), its id from `reserve`, with the counter's next numbers, in
        order; the answer reads each id's number (see `Sent`)."""
        at, n = self.insert.columns.index(self.column), number
        sents = []
        for start in range(0, len(rows), self._most):  # within the protocol's 65,535 parameters
            chunk = rows[start : start + self._most]
            params: list[Any] = [n.key, len(chunk), n.prefix, n.width, n.pad, n.suffix]  # _SHARED
            for row_id, row in chunk:
                values = self.insert.values(connection, row)
                params += (row_id, *values[:at], *values[at + 1 :])
            # its text varies with its rows: prepared, each size would be a statement of its own
            sents.append(Sent(connection, self._sql(len(chunk)), params, prepare=False, native=True))
        return lambda: dict(row for sent in sents for row in sent.read(lambda cursor: cursor.fetchall()))

    @property
    def _most(self) -> int:
        return (65_535 - len(_SHARED)) // len(self.insert.columns)

    @cache  # noqa: B019 (the inserts are module constants, made once)
    def _sql(self, rows: int) -> str:
        """The INSERT of `rows` rows with PostgreSQL's own placeholders: the shared ones first
        (_SHARED), then each row's id and values, its number made from the claimed value."""
        columns = self.insert.columns
        at, width = columns.index(self.column), len(columns)  # a row's id and its columns but the number

        def number(k: int) -> str:
            # the counter now holds the last of the claimed values; lpad cuts a longer value
            # short, where Python's format widens the field instead
            seq = f"(value - $2 + {k})::text"
            return f"(SELECT $3 || lpad({seq}, greatest($4, length({seq})), $5) || $6 FROM claimed)"

        def row(r: int) -> str:
            marks = [f"${len(_SHARED) + r * width + j + 1}" for j in range(width)]
            return "(" + ", ".join([*marks[: at + 1], number(r + 1), *marks[at + 1 :]]) + ")"

        names = ", ".join(f'"{c}"' for c in ("id", *columns))
        values = ", ".join(row(r) for r in range(rows))
        return (
            "WITH claimed AS (INSERT INTO counter (key, value) VALUES ($1, $2) "
            "ON CONFLICT (key) DO UPDATE SET value = counter.value + $2 RETURNING value) "
            f'INSERT INTO "{self.insert.table.name}" ({names}) VALUES {values} RETURNING id, "{self.column}"'
        )


_SHARED = ("key", "count", "prefix", "width", "pad", "suffix")  # NumberedInsert's first parameters

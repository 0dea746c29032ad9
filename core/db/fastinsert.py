"""Inserts on the intake hot path, straight through the DB-API cursor.

SQLAlchemy's statement execution costs ~25 µs a statement here, against ~4 µs for the driver
itself; intake writes about eight rows per case. FastInsert prepares the SQL once per dialect
and converts values with the columns' own SQLAlchemy type processors (UTC timestamps, JSON,
booleans), so rows are stored exactly as `insert(table)` would store them.

Many rows go in as one statement (`many`, `send_many`): a batch of intakes writes
each table once instead of once a case, and every statement costs the worker a send to the
server and psycopg's own work, pipelined or not (sampled under load: about a third of a worker's
time went to running statements before the intake's rows were gathered this way).
"""

from collections.abc import Callable
from functools import cache
from typing import Any

from sqlalchemy import Connection, Table

from gridcase.core.db.raw import Sent, raw_cursor


class FastInsert:
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
        return self.send(connection, row)()

    def send(self, connection: Connection, row: dict[str, Any]) -> Callable[[], int | None]:
        """Insert now; the answer reads the new id (see `raw.Sent`)."""
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
        if connection.dialect.name != "postgresql":
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

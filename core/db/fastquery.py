"""Constant queries on the intake hot path, straight through the DB-API cursor.

The companion of `fastinsert.py`: a query (or an UPDATE … RETURNING) built once with
SQLAlchemy is compiled once per dialect, and runs with the columns' own type processors on its
parameters and results, so it answers exactly what `connection.execute(query)` would, without
SQLAlchemy's per-call execution context (about 60 µs a statement here). Being raw DB-API, it may
also run inside `db.raw.pipelined`, which lets a lock and the query after it share one round
trip.
"""

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql.selectable import ReturnsRows

from gridcase.core.db.raw import Sent


class _Compiled:
    """A query compiled for one dialect, with its parameters' processors; the results' processors
    need the driver's type codes, so they are made on the first execution."""

    def __init__(self, statement: ReturnsRows, dialect) -> None:
        self.statement, self.dialect = statement, dialect
        self.compiled = statement.compile(dialect=dialect)
        text = self.compiled
        if self.compiled.literal_execute_params:
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

    def arguments(self, params: dict[str, Any]) -> tuple | dict:
        values = self.compiled.construct_params(params)
        for name, process in self.params.items():
            if values[name] is not None:
                values[name] = process(values[name])
        return tuple(values[n] for n in self.positions) if self.positions else values

    def result_processors(self, cursor) -> list:
        if self.results is None:  # psycopg builds the description afresh on every read of it
            self.results = [
                c.type.dialect_impl(self.dialect).result_processor(self.dialect, d[1])
                for c, d in zip(self.statement.exported_columns, cursor.description, strict=True)
            ]
        return self.results


class FastQuery:
    def __init__(self, statement: ReturnsRows, prepare: bool = True) -> None:
        """`prepare=False` plans the query afresh each time (PostgreSQL), for one whose best plan
        depends on its parameters' values: a prepared statement turns to a generic plan after
        five runs, which for `= ANY(:list)` can be a scan of the whole table."""
        self.statement, self.prepare = statement, prepare
        self.names = tuple(c.name for c in statement.exported_columns)
        self._compiled: dict[str, _Compiled] = {}

    def __call__(self, connection: Connection, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The rows, each a dict of the selected columns' names."""
        return self.send(connection, params)()

    def send(self, connection: Connection, params: dict[str, Any]) -> Callable[[], list[dict[str, Any]]]:
        """Run the query now; the answer reads its rows (see `raw.Sent`)."""
        dialect = connection.dialect
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _Compiled(self.statement, dialect)
        sent = Sent(connection, compiled.sql, compiled.arguments(params), self.prepare)

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

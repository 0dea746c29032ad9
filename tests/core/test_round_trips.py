"""How many times an intake waits for PostgreSQL: each wait holds the dedupe and counter locks a
little longer and hands the interpreter lock to another thread, so the count is kept down on
purpose (docs/architecture.md, "Intake speed") and a change that adds one shows up here."""

import os
import tempfile

import pytest
from sqlalchemy import event

from gridcase.core.people.accounts import create_token
from gridcase.core.places.units import add_person
from gridcase.core.web.identity import lookup_many

REPORT = {"channel": "hotline_12345", "category": "0101", "kind": "component", "point": [120.61, 31.337]}


class RoundTrips:
    """Counts round trips in libpq's trace of each connection of the engine's pool: every run of
    the server's messages answers one send."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.traced: list[tuple[object, object]] = []  # (pgconn, its trace file)

    def __enter__(self) -> "RoundTrips":
        self.engine.db.dispose()  # every connection from here on is traced

        def traced(dbapi_connection, record):
            file = tempfile.TemporaryFile()
            dbapi_connection.pgconn.trace(file.fileno())
            self.traced.append((dbapi_connection.pgconn, file))

        event.listen(self.engine.db, "connect", traced)
        self.listener = traced
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine.db, "connect", self.listener)
        self.engine.db.dispose()

    def mark(self) -> list[int]:
        for pgconn, file in self.traced:  # libpq buffers its trace; untracing flushes it
            pgconn.untrace()
            pgconn.trace(file.fileno())
        return [file.seek(0, os.SEEK_END) for _, file in self.traced]

    def _messages(self, mark: list[int]) -> list[list[tuple[str, str]]]:
        """Each connection's (side, message type) since `mark`: F from the client, B from the server."""
        self.mark()
        sent = []
        for (_, file), start in zip(self.traced, mark + [0] * len(self.traced), strict=False):
            file.seek(start)
            lines = file.read().decode("utf-8", "replace").splitlines()
            # a statement's text may run over several lines; its message's line holds the fields
            fields = [line.split("\t") for line in lines]
            sent.append([(f[1], f[3]) for f in fields if len(f) >= 4])
        return sent

    def since(self, mark: list[int]) -> int:
        """Round trips since `mark`."""
        trips = 0
        for messages in self._messages(mark):
            sides = [side for side, _ in messages]
            trips += sum(1 for i, side in enumerate(sides) if side == "B" and i > 0 and sides[i - 1] == "F")
        return trips

    def statements(self, mark: list[int]) -> int:
        """Statements run since `mark` (each a Bind, or a simple Query such as BEGIN)."""
        return sum(
            m in (("F", "Bind"), ("F", "Query")) for messages in self._messages(mark) for m in messages
        )


def test_an_authenticated_postgresql_intake_keeps_its_round_trips_down(engine):
    if engine.db.dialect.name != "postgresql":
        pytest.skip("round trips are PostgreSQL's; SQLite runs in the process")
    add_person(engine.db, "hotline", "热线", ["operator"])
    token = create_token(engine.db, "hotline", "test", engine.time.now())
    with RoundTrips(engine) as trips:
        for warm in range(12):  # psycopg prepares a statement on its fifth run
            ((actor, _),) = lookup_many(engine, [(token, None)])
            engine.intake({**REPORT, "point": [120.601 + 0.003 * warm, 31.331]}, actor, [], f"warm-{warm}")
        counts = {}
        for name, point, key in [("new", [120.62, 31.338], "new"), ("duplicate", [120.62, 31.338], "dup"),
                                 ("replay", [120.62, 31.338], "dup")]:  # fmt: skip
            mark = trips.mark()
            ((actor, _),) = lookup_many(engine, [(token, None)])
            result = engine.intake({**REPORT, "point": point}, actor, [], key)
            counts[name] = trips.since(mark)
            assert result["duplicate"] == (name != "new") and result["replay"] == (name == "replay")
    # new: identity; BEGIN (psycopg syncs it alone); the key's answer with the dedupe lock and
    # search and the case's id; the case (its number claimed inside its INSERT) with its other
    # rows; COMMIT. A duplicate: the report with the version bump, then the event. A replay
    # stops after the key.
    assert counts == {"new": 5, "duplicate": 6, "replay": 4}, counts

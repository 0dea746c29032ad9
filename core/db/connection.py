"""Database engines, transactions and migrations, the same on SQLite and PostgreSQL.

SQLite runs in WAL mode with foreign keys on. pysqlite's own transaction handling is turned
off so that SQLAlchemy decides when transactions begin: write transactions begin IMMEDIATE
(they take the write lock at once, so a read-then-write never fails half-way with
SQLITE_BUSY_SNAPSHOT), reads begin DEFERRED and never block each other.

On PostgreSQL a pooled connection is pinged before use only when it has sat idle a while
(`PING_AFTER_IDLE`): a ping on every checkout was a round trip on every request. A connection
that dies in use (the server restarted) fails its request, which the API answers 503, and
SQLAlchemy then replaces every connection of the pool. Single-statement lookups run in
autocommit (`query`), since BEGIN and COMMIT are round trips of their own.

SQLite writers queue on a lock before they ask for the database's: a thread lock within the
process and, for a database file, an flock on `<file>.writer-lock` between processes (workers,
the CLI). SQLite's own busy handler sleeps and polls (up to 100 ms a time) and is not fair, so
under concurrent intake a few unlucky writers waited seconds while others went ahead; the
kernel wakes flock waiters as soon as the holder lets go.

A bulk job (the simulator) may group its writes with `batch(engine)`: one transaction, each
`write` inside it a savepoint, so a refused operation still undoes only itself, and every
`read` inside it sees the batch's own writes. A commit per operation was a fifth of a
simulated month's time.
"""

import fcntl
import itertools
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from importlib import resources
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError

from gridcase.core.db.fast import close_unread_on_rollback, raw_cursor

BEGIN_MODE = "gridcase_sqlite_begin"
# savepoints (a batch's writes) journal to memory, not to a temporary file
PRAGMAS = (
    "journal_mode=WAL",
    "foreign_keys=ON",
    "synchronous=NORMAL",
    "busy_timeout=60000",
    "temp_store=MEMORY",
)
PING_AFTER_IDLE = 10.0  # seconds


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, foreign_keys: bool = True, **kwargs) -> Engine:
    """An engine for `url`. `foreign_keys=False` is for migrations only (see migrations/env.py):
    SQLite cannot switch its foreign-key check off inside a transaction."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60}, **kwargs)
        close_unread_on_rollback(engine)
        pragmas = PRAGMAS if foreign_keys else (*PRAGMAS, "foreign_keys=OFF")

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection, _record) -> None:
            dbapi_connection.isolation_level = None  # SQLAlchemy, not pysqlite, begins transactions
            cursor = dbapi_connection.cursor()
            for pragma in pragmas:
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            connection.exec_driver_sql(
                f"BEGIN {connection.get_execution_options().get(BEGIN_MODE, 'DEFERRED')}"
            )

        return engine
    engine = create_engine(url, **kwargs)
    close_unread_on_rollback(engine)
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, record, _proxy) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"a pooled connection is gone: {exc}") from exc  # the pool reconnects


class WriterLock:
    """One SQLite writer at a time: threads queue on a lock, processes on an flock."""

    def __init__(self, database: str | None) -> None:
        self.thread_lock = threading.Lock()
        self.path = f"{database}.writer-lock" if database and database != ":memory:" else None
        self.fd: int | None = None

    def __enter__(self) -> None:
        self.thread_lock.acquire()
        if self.path is None:
            return
        try:
            if self.fd is None:
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            self.thread_lock.release()
            raise

    def __exit__(self, *exc) -> None:
        try:
            if self.fd is not None:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            self.thread_lock.release()

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


_writers: "weakref.WeakKeyDictionary[Engine, tuple[Engine, WriterLock | None]]" = weakref.WeakKeyDictionary()


_batched: ContextVar[tuple[Engine, Connection] | None] = ContextVar("gridcase_batch", default=None)


def _in_batch(engine: Engine) -> Connection | None:
    found = _batched.get()
    return found[1] if found is not None and found[0] is engine else None


@contextmanager
def batch(engine: Engine) -> Iterator[Connection]:
    """One transaction for many writes, committed when the block ends (see the module's notes).
    It holds the writer lock throughout: for single-threaded bulk jobs only."""
    with write(engine) as connection:
        token = _batched.set((engine, connection))
        try:
            yield connection
        finally:
            _batched.reset(token)


_savepoints = itertools.count()


@contextmanager
def _savepoint(connection: Connection) -> Iterator[None]:
    """A savepoint straight through the driver. SQLAlchemy's `begin_nested` cost a batched write
    about 90 µs of its own bookkeeping, an eighth of a simulated month; the batch's connection
    is one plain transaction that nothing else nests into, so the bookkeeping bought nothing."""
    name = f"gridcase_{next(_savepoints)}"
    with raw_cursor(connection) as cursor:
        cursor.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            cursor.execute(f"ROLLBACK TO SAVEPOINT {name}")
            raise
        finally:
            cursor.execute(f"RELEASE SAVEPOINT {name}")


@contextmanager
def write(engine: Engine) -> Iterator[Connection]:
    """A write transaction: committed when the block ends, rolled back on any exception."""
    batched = _in_batch(engine)
    if batched is not None:
        with _savepoint(batched):
            yield batched
        return
    found = _writers.get(engine)
    if found is None:  # built once per engine: this is on the intake hot path
        found = _writers[engine] = (
            engine.execution_options(**{BEGIN_MODE: "IMMEDIATE"}),
            WriterLock(engine.url.database) if is_sqlite(engine) else None,
        )
    writer, lock = found
    if lock is None:
        with writer.begin() as connection:
            yield connection
        return
    with lock, writer.begin() as connection:
        yield connection


@contextmanager
def read(engine: Engine) -> Iterator[Connection]:
    batched = _in_batch(engine)
    if batched is not None:
        yield batched
        return
    with engine.connect() as connection:
        with connection.begin():
            yield connection


_autocommit: "weakref.WeakKeyDictionary[Engine, Engine]" = weakref.WeakKeyDictionary()


@contextmanager
def query(engine: Engine) -> Iterator[Connection]:
    """A connection for one statement that needs no transaction around it, such as a lookup by
    key: in autocommit on PostgreSQL, one round trip instead of three."""
    if is_sqlite(engine) or _in_batch(engine) is not None:
        with read(engine) as connection:
            yield connection
        return
    autocommit = _autocommit.get(engine)
    if autocommit is None:
        autocommit = _autocommit[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    with autocommit.connect() as connection:
        yield connection


def alembic_config(url: str):
    from alembic.config import Config  # imported here: alembic is slow to import and rarely needed

    config = Config()
    config.set_main_option("script_location", str(resources.files("gridcase.core.db").joinpath("migrations")))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@contextmanager
def migrating(url: str, *, commit: bool = True) -> Iterator[Connection]:
    """One write transaction for the migrations and whatever follows them (the reconciliation of
    units and grids), committed only when all of it worked, and only if `commit` (a dry run is
    rolled back). On SQLite the connection has no foreign-key check, since a table rebuild needs
    it off (see migrations/env.py), so every key is checked before the commit instead."""
    engine = make_engine(url, foreign_keys=False)
    lock = WriterLock(engine.url.database if is_sqlite(engine) else None)
    try:
        with lock, engine.execution_options(**{BEGIN_MODE: "IMMEDIATE"}).connect() as connection:
            with connection.begin() as transaction:
                yield connection
                if is_sqlite(engine):
                    check_foreign_keys(connection)
                if not commit:
                    transaction.rollback()
    finally:
        lock.close()
        engine.dispose()


def check_foreign_keys(connection: Connection) -> None:
    """Refuse to go on when a SQLite row points at a row that does not exist."""
    from gridcase.core.errors import GridcaseError

    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        shown = "; ".join(
            f"{table} row {rowid} points at a missing {parent}" for table, rowid, parent, _ in broken[:5]
        )
        raise GridcaseError(
            "integrity",
            f"the upgrade would leave {len(broken)} references to rows that do not exist ({shown}); "
            "nothing was changed",
        )


def upgrade(url: str, revision: str = "head", connection: Connection | None = None) -> list[str]:
    """Bring the database at `url` to `revision`, in one transaction: `connection`'s (see
    `migrating`), or one of its own. Returns the migrations applied, oldest first."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    if connection is None:
        with migrating(url) as connection:
            return upgrade(url, revision, connection)
    config = alembic_config(url)
    config.attributes["connection"] = connection
    current = MigrationContext.configure(connection).get_current_revision()
    pending = [s.revision for s in ScriptDirectory.from_config(config).iterate_revisions(revision, current)]
    command.upgrade(config, revision)
    return pending[::-1]


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:
        raise RuntimeError("the migrations directory has no revision")
    return head


def require_head(url: str) -> None:
    """Refuse a database the code's migrations have not all reached, with what to do about it."""
    from gridcase.core.errors import GridcaseError

    current, head = current_revision(url), head_revision()
    if current != head:
        raise GridcaseError(
            "not_migrated",
            f"the database is at migration {current or 'none'}, this gridcase needs {head}: "
            "run `gridcase db upgrade` first",
        )

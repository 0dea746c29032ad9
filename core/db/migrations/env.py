"""Alembic environment for gridcase (migrations ship inside the package).

The migrations run on the connection `gridcase.core.db.connection.upgrade` hands over, inside its
transaction: all pending migrations, and what the caller does after them, are committed together
or not at all, on both databases.

SQLite alters a table by rebuilding it (batch mode): a new table, the rows copied, the old table
dropped. With foreign keys on, dropping the old table first deletes its rows, and every row that
points at them (a case's events) refuses, so a populated database could not be upgraded. SQLite
cannot switch the check off inside a transaction, so that connection is opened without it, and
every key is checked before the commit (`engine.migrating`).
"""

from alembic import context
from sqlmodel import SQLModel

from gridcase.core.db import models  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata

if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():  # inside the caller's transaction: begins nothing of its own
        context.run_migrations()

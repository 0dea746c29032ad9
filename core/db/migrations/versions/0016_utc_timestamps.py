"""Every stored timestamp in one form: UTC, on SQLite written as SQLAlchemy writes it
("YYYY-MM-DD HH:MM:SS.ffffff"). Before this, a clock stopped by a transition kept the caller's
local time with its offset ("… 08:14:15+08:00"), which SQLite compares as text, so on-time
handling counted as late. PostgreSQL stored moments (timestamptz) and needs nothing.

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc(value: str) -> str:
    moment = datetime.fromisoformat(value)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "sqlite":
        return
    tables = (
        connection.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars().all()
    )
    for table in tables:
        for column in connection.execute(sa.text(f'PRAGMA table_info("{table}")')).mappings().all():
            if column["type"].upper() != "DATETIME":
                continue
            name = column["name"]
            # the one form has neither an offset nor a "T"
            odd = sa.text(
                f'SELECT rowid, "{name}" FROM "{table}" WHERE "{name}" LIKE \'%+%\' '
                f"OR \"{name}\" LIKE '%T%' OR substr(\"{name}\", 20, 1) = '-'"
            )
            fixes = [{"id": rowid, "value": _utc(value)} for rowid, value in connection.execute(odd)]
            if fixes:
                update = sa.text(f'UPDATE "{table}" SET "{name}" = :value WHERE rowid = :id')
                connection.execute(update, fixes)


def downgrade() -> None:
    pass  # the UTC form reads back as the same moments

"""Deadlines past the published holiday schedule: a clock that runs into a year whose 调休 is not
published yet is computed from the statutory days and the weekday rule, and marked provisional
(from when, and how many working minutes of its deadline and yellow light lie past that), so it
can be recomputed when the year's schedule arrives. An administrator can confirm a year whose
schedule they entered as overrides.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gridcase.core.db.models import UTCDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ADD COLUMNs: SQLite needs no rebuild of the clock table for them
    op.add_column("clock", sa.Column("provisional_from", UTCDateTime(), nullable=True))
    op.add_column("clock", sa.Column("provisional_minutes", sa.Float(), nullable=True))
    op.add_column("clock", sa.Column("provisional_yellow_minutes", sa.Float(), nullable=True))
    op.create_index("ix_clock_provisional_from", "clock", ["provisional_from"])
    op.create_table(
        "calendar_year",
        sa.Column("calendar", sa.String(length=64), primary_key=True),
        sa.Column("year", sa.Integer(), primary_key=True),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("changed_by", sa.String(length=128), nullable=True),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("calendar_year")
    op.drop_index("ix_clock_provisional_from", "clock")
    with op.batch_alter_table("clock") as batch:
        for column in ("provisional_yellow_minutes", "provisional_minutes", "provisional_from"):
            batch.drop_column(column)

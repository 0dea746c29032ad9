"""Clock deadlines (the rule, unit, amount and calendar that decided them, and the yellow
moment), and the effects an event had (deadline changes).

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clock") as batch:
        batch.add_column(sa.Column("rule", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("unit", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("amount", sa.Float(), nullable=True))
        batch.add_column(sa.Column("calendar", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("yellow_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_clock_yellow_at", ["yellow_at"])
    # a plain ALTER: a batch rebuild of case_event on SQLite would drop its append-only triggers
    op.add_column("case_event", sa.Column("effects", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("case_event", "effects")
    with op.batch_alter_table("clock") as batch:
        batch.drop_index("ix_clock_yellow_at")
        for column in ("yellow_at", "calendar", "amount", "unit", "rule"):
            batch.drop_column(column)

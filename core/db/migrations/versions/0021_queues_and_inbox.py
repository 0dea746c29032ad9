"""The work queues and the inbox (issue 25): a case's nearest running deadline and its units
read from indexes alone (the queue's order, its unit filter and a department's scope over a
million cases), the notices to a recipient by index, and who has read which notice.

Revision ID: 0021
Revises: 0020
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gridcase.core.db.models import UTCDateTime

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_clock_case_running", "clock", ["case_id", "status", "deadline"])
    op.create_index("ix_case_unit_case_active", "case_unit", ["case_id", "active", "unit"])
    op.create_index("ix_outbox_recipient", "outbox", ["recipient", "id"])
    op.create_table(
        "notice_read",
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("read_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("outbox_id", "person_id"),
    )


def downgrade() -> None:
    op.drop_table("notice_read")
    op.drop_index("ix_outbox_recipient", table_name="outbox")
    op.drop_index("ix_case_unit_case_active", table_name="case_unit")
    op.drop_index("ix_clock_case_running", table_name="clock")

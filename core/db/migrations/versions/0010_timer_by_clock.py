"""Cancelling a clock's timers seeks by clock and status.

Stopping a clock deletes its pending timers (`clock_id IN (…) AND status = 'pending'`). With
one index on `clock_id` and another on `(status, due_at)`, SQLite's planner took the status
index and read every pending timer, so each transition grew slower as the database filled: a
simulated month of 禅城 spent most of its time there. One index on both columns is the
obvious choice for either database.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_timer_clock_id", table_name="timer")
    op.create_index("ix_timer_clock", "timer", ["clock_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_timer_clock", table_name="timer")
    op.create_index("ix_timer_clock_id", "timer", ["clock_id"])

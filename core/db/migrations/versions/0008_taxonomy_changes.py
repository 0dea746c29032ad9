"""Administrators' taxonomy edits (append-only), the taxonomy version each case came in under,
and an index on when cases were reported (the dashboards' ranges).

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gridcase.core.db.models import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "taxonomy_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("previous", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("changed_by", sa.String(length=128), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.Column("reverts", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["reverts"], ["taxonomy_change.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    # a plain ALTER: a batch rebuild of case on SQLite would copy the biggest table
    op.add_column("case", sa.Column("taxonomy_version", sa.Integer(), nullable=False, server_default="0"))
    # dashboards count the day's, the week's and the month's reports as ranges of this
    op.create_index("ix_case_reported_at", "case", ["reported_at"])
    # the red and yellow lights as index ranges of running clocks (queues, the API's light filter)
    op.create_index("ix_clock_running_deadline", "clock", ["status", "deadline"])
    op.create_index("ix_clock_running_yellow", "clock", ["status", "yellow_at"])
    # the history is a record: a mistake is put right by a revert, which is one more change
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER taxonomy_change_no_{action.lower()} BEFORE {action} ON taxonomy_change "
                "BEGIN SELECT RAISE(ABORT, 'taxonomy_change is append-only'); END"
            )
    else:
        op.execute(
            "CREATE TRIGGER taxonomy_change_append_only BEFORE UPDATE OR DELETE ON taxonomy_change "
            "FOR EACH ROW EXECUTE FUNCTION gridcase_table_append_only()"
        )


def downgrade() -> None:
    op.drop_index("ix_case_reported_at", table_name="case")
    op.drop_index("ix_clock_running_deadline", table_name="clock")
    op.drop_index("ix_clock_running_yellow", table_name="clock")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER taxonomy_change_no_update")
        op.execute("DROP TRIGGER taxonomy_change_no_delete")
        with op.batch_alter_table("case") as batch:
            batch.drop_column("taxonomy_version")
    else:
        op.execute("DROP TRIGGER taxonomy_change_append_only ON taxonomy_change")
        op.drop_column("case", "taxonomy_version")
    op.drop_table("taxonomy_change")

"""Administrators' edits of time-limit rules and assessment composites (append-only).

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gridcase.core.db.models import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "setting_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("previous", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("changed_by", sa.String(length=128), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.Column("reverts", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["reverts"], ["setting_change.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER setting_change_no_{action.lower()} BEFORE {action} ON setting_change "
                "BEGIN SELECT RAISE(ABORT, 'setting_change is append-only'); END"
            )
    else:
        op.execute(
            "CREATE TRIGGER setting_change_append_only BEFORE UPDATE OR DELETE ON setting_change "
            "FOR EACH ROW EXECUTE FUNCTION gridcase_table_append_only()"
        )


def downgrade() -> None:
    op.drop_table("setting_change")  # its triggers go with it

"""Open311: random request tokens (a report's `t<id>` could be guessed by counting; reports
stored before keep no token and still answer to it), a report's media_url, and the sender's
contact in a table of its own, read by staff only.

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("report") as batch:
        batch.add_column(sa.Column("token", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("media_url", sa.String(length=2000), nullable=True))
        batch.create_unique_constraint("uq_report_token", ["token"])
    op.create_table(
        "report_contact",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"]),
        sa.PrimaryKeyConstraint("report_id"),
    )


def downgrade() -> None:
    op.drop_table("report_contact")
    with op.batch_alter_table("report") as batch:
        batch.drop_constraint("uq_report_token", type_="unique")
        batch.drop_column("media_url")
        batch.drop_column("token")

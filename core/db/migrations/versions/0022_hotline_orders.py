"""The 12345 hotline's work orders (issue 27): one row per order, its number unique, with the
queue of orders waiting for an operator by index.

Revision ID: 0022
Revises: 0021
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gridcase.core.db.models import UTCDateTime

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hotline_order",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("order_no", sa.String(64), nullable=False, unique=True),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("waiting_for", sa.String(16), nullable=True),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("case.id"), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("return_by", UTCDateTime(), nullable=False),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.Column("sent", sa.JSON(), nullable=False),
        sa.Column("extension", sa.JSON(), nullable=True),
        sa.Column("visit", sa.JSON(), nullable=True),
    )
    op.create_index("ix_hotline_order_case_id", "hotline_order", ["case_id"])
    op.create_index("ix_hotline_order_status", "hotline_order", ["status", "received_at"])


def downgrade() -> None:
    op.drop_table("hotline_order")

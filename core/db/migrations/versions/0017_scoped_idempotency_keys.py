"""Idempotency keys are each caller's own and bound to their request (core/idempotency.py): a
report's key is stored with its reporter in front ("12:handset-1", "-:…" without a person) and
the digest of its request; transitions get keys of their own, with the answer given; and the
keys the sweep forgets are indexed apart.

Before this, keys were one namespace for every caller: another caller's report with a key
already used was answered with the first caller's case and dropped.

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYED = sa.text("idempotency_key IS NOT NULL")


def upgrade() -> None:
    # the wider key takes the caller in front of a client's 200 characters; SQLite rebuilds the table
    with op.batch_alter_table("report") as batch:
        batch.alter_column(
            "idempotency_key",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=200),
            type_=sqlmodel.sql.sqltypes.AutoString(length=255),
            existing_nullable=True,
        )
        batch.add_column(
            sa.Column("request_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
    # the keys already stored become their reporters' (their digest unknown: a retry is taken as one)
    op.execute(
        "UPDATE report SET idempotency_key = "
        "COALESCE(CAST(reporter_id AS VARCHAR), '-') || ':' || idempotency_key "
        "WHERE idempotency_key IS NOT NULL"
    )
    op.create_index(
        "ix_report_keyed_at", "report", ["received_at"], sqlite_where=KEYED, postgresql_where=KEYED
    )
    op.create_table(
        "transition_key",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("request_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("answer", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"]),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_transition_key_created_at", "transition_key", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_transition_key_created_at", table_name="transition_key")
    op.drop_table("transition_key")
    op.drop_index("ix_report_keyed_at", table_name="report")
    # scoped keys no longer fit one namespace (two callers may share a key): forgotten instead
    op.execute("UPDATE report SET idempotency_key = NULL")
    with op.batch_alter_table("report") as batch:
        batch.drop_column("request_hash")
        batch.alter_column(
            "idempotency_key",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=255),
            type_=sqlmodel.sql.sqltypes.AutoString(length=200),
            existing_nullable=True,
        )

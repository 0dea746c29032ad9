"""Assessment: who and what each clock and event counts against, unit class history, published
snapshots and ledgers (both append-only).

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gridcase.core.db.models import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("assessment_snapshot", "ledger_entry")


def upgrade() -> None:
    with op.batch_alter_table("clock") as batch:
        batch.add_column(sa.Column("owner", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("actor_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("stopped_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("superseded", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("extended", sa.Integer(), nullable=False, server_default="0"))
        batch.create_foreign_key("fk_clock_actor_id_person", "person", ["actor_id"], ["id"])
        batch.create_index("ix_clock_owner", ["owner"])
        batch.create_index("ix_clock_started_at", ["started_at"])
        batch.create_index("ix_clock_stopped_at", ["stopped_at"])
    # a plain ALTER: a batch rebuild of case_event on SQLite would drop its append-only triggers
    op.add_column("case_event", sa.Column("unit", sa.String(length=64), nullable=True))
    op.create_table(
        "unit_class_change",
        sa.Column("unit", sa.String(length=64), nullable=False),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.Column("unit_class", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["unit"], ["unit.code"]),
        sa.PrimaryKeyConstraint("unit", "since"),
    )
    op.create_table(
        "assessment_snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=256), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.Column("published_by", sa.String(length=128), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("period", "scope", "version"),
    )
    op.create_table(
        "ledger_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ledger", sa.String(length=64), nullable=False),
        sa.Column("object", sa.String(length=128), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("points", sa.Float(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("period", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ledger_entry_ledger", "ledger_entry", ["ledger"])
    op.create_index("ix_ledger_entry_object", "ledger_entry", ["object"])
    op.create_index("ix_ledger_entry_case_id", "ledger_entry", ["case_id"])
    _append_only_upgrade()


def downgrade() -> None:
    _append_only_downgrade()
    op.drop_table("ledger_entry")
    op.drop_table("assessment_snapshot")
    op.drop_table("unit_class_change")
    op.drop_column("case_event", "unit")
    with op.batch_alter_table("clock") as batch:
        for index in ("ix_clock_stopped_at", "ix_clock_started_at", "ix_clock_owner"):
            batch.drop_index(index)
        batch.drop_constraint("fk_clock_actor_id_person", type_="foreignkey")
        for column in ("extended", "superseded", "stopped_by", "actor_id", "owner"):
            batch.drop_column(column)


# Published bulletins and money are records: a correction is a new version or a new entry.
def _append_only_upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in APPEND_ONLY:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )
        return
    op.execute(
        "CREATE FUNCTION gridcase_table_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
    )
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION gridcase_table_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION gridcase_table_append_only()"
        )


def _append_only_downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in APPEND_ONLY:
        if sqlite:
            op.execute(f"DROP TRIGGER {table}_no_update")
            op.execute(f"DROP TRIGGER {table}_no_delete")
        else:
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
    if not sqlite:
        op.execute("DROP FUNCTION gridcase_table_append_only()")

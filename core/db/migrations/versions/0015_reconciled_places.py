"""Units and grids are reconciled with the profile in place: a unit or grid the profile drops is
deactivated, never deleted, since cases, people and history point at it; and a grid records where
it came from, so that `gridcase db upgrade` never writes the profile's grids over imported ones.

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ADD COLUMNs: SQLite needs no rebuild for them; every stored unit and grid was in use
    op.add_column("unit", sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.add_column("grid", sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.add_column("grid", sa.Column("origin", sa.String(length=16), nullable=True, server_default="import"))
    # grids stored before this revision came from the profile or an import, and nothing says
    # which: NULL, which the reconciliation reads as unknown (see core/reconcile.py)
    op.execute("UPDATE grid SET origin = NULL")


def downgrade() -> None:
    with op.batch_alter_table("grid") as batch:
        batch.drop_column("origin")
        batch.drop_column("active")
    with op.batch_alter_table("unit") as batch:
        batch.drop_column("active")

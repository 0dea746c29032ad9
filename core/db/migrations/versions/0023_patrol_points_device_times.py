"""The field app (issue 26): a person's patrol track at the centre, one row a point, unique by
person and device time (a point sent again is kept once); the time a report made offline was
made on the handset; and whether a photo was taken before or after the handling.

Revision ID: 0023
Revises: 0022
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gridcase.core.db.models import UTCDateTime

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "patrol_point",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("made_at", UTCDateTime(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("accuracy", sa.Float(), nullable=True),
        sa.Column("arrived_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("person_id", "made_at", name="uq_patrol_point_person_made_at"),
    )
    with op.batch_alter_table("report") as batch:
        batch.add_column(sa.Column("made_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("evidence") as batch:
        batch.add_column(sa.Column("phase", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evidence") as batch:
        batch.drop_column("phase")
    with op.batch_alter_table("report") as batch:
        batch.drop_column("made_at")
    op.drop_table("patrol_point")

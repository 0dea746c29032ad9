"""The patrol track is kept for `keep_track_days`: the sweep purges the points made before the
window, a batch at a time, by an index on the device time (the person's index starts with the
person, so it cannot find a day's points of everyone).

Revision ID: 0024
Revises: 0023
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_patrol_point_made_at", "patrol_point", ["made_at"])


def downgrade() -> None:
    op.drop_index("ix_patrol_point_made_at", table_name="patrol_point")

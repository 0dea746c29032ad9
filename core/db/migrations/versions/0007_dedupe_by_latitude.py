"""The duplicate check seeks by latitude, not by report time.

Looking for an open case of the same class near a new report, the old index
(class_code, state_kind, reported_at) made the check read every open case of the class inside the
time window, so intake slowed as a busy day went on. A latitude band a few tens of metres wide
holds a handful of rows whatever the day's volume.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_case_dedupe", table_name="case")
    op.create_index("ix_case_dedupe", "case", ["class_code", "state_kind", "lat"])


def downgrade() -> None:
    op.drop_index("ix_case_dedupe", table_name="case")
    op.create_index("ix_case_dedupe", "case", ["class_code", "state_kind", "reported_at"])

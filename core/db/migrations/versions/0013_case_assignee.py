"""A case's named person (指定具体责任人): 禅城's item list sends each task to its department and
to the person there who answers for its class.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case") as batch:
        batch.add_column(sa.Column("assignee_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_case_assignee_id_person", "person", ["assignee_id"], ["id"])
        batch.create_index("ix_case_assignee_id", ["assignee_id"])


def downgrade() -> None:
    with op.batch_alter_table("case") as batch:
        batch.drop_index("ix_case_assignee_id")
        batch.drop_constraint("fk_case_assignee_id_person", type_="foreignkey")
        batch.drop_column("assignee_id")

"""Initial schema: parts, inspections, defects, reviews, robot tasks, alarms, interventions, audit.

Revision ID: 0001
Revises:
"""

from alembic import op

from cell_control.store.schema import Base

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The first revision creates the tables as declared; later revisions must use explicit ops.
    Base.metadata.create_all(op.get_bind())


def downgrade() -> None:
    Base.metadata.drop_all(op.get_bind())

"""PDDs stored as bytes (a JSON header line, then float32 rows) instead of JSONB.

Writing thousands of JSONB numbers per structure made storing the PDDs the slowest step of
a dedup run after the neighbour search. Stored invariants are dropped with the old column
(``invariants_version`` cleared), so the next ``atlas2d dedup`` recomputes them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 17:30:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_column("structure", "pdd")
    op.add_column("structure", sa.Column("pdd", sa.LargeBinary(), nullable=True))
    op.execute("UPDATE structure SET invariants_version = NULL")


def downgrade() -> None:
    op.drop_column("structure", "pdd")
    op.add_column("structure", sa.Column("pdd", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.execute("UPDATE structure SET invariants_version = NULL")

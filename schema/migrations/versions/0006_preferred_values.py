"""Preferred property values: the value each ``_atlas2d_`` OPTIMADE field serves, kept by ingest.

One row per (entry, served field) with its value and method (``atlas2d.ingest.preferred``
holds the rules and the refresh); an index on (field, value) serves property filters, and
one on ``entry.updated_at`` lets an ingest run find the entries it wrote. The backfill
chooses the values of every stored entry.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 13:30:00
"""

import sqlalchemy as sa
from alembic import op

from atlas2d.ingest.preferred import EVERYTHING, refresh_preferred

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "preferred_value",
        sa.Column("entry_id", sa.Integer(), sa.ForeignKey("entry.id", ondelete="CASCADE"), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("method", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", "field"),
    )
    op.create_index("ix_preferred_value_field_value", "preferred_value", ["field", "value", "entry_id"])
    op.create_index("ix_entry_updated_at", "entry", ["updated_at"])
    refresh_preferred(op.get_bind(), since=EVERYTHING)


def downgrade() -> None:
    op.drop_index("ix_entry_updated_at", table_name="entry")
    op.drop_table("preferred_value")

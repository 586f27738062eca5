"""Preferred property values: the value each ``_atlas2d_`` OPTIMADE field serves, kept by ingest.

One row per entry with a ``<field>`` and ``<field>_method`` column per served field
(``atlas2d.ingest.preferred`` holds the rules and the refresh); an index on each value
serves property filters, and one on ``entry.updated_at`` lets an ingest batch find the
entries it wrote. The backfill chooses the values of every stored entry.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 13:30:00
"""

import sqlalchemy as sa
from alembic import op

from atlas2d.ingest.preferred import EVERYTHING, refresh_preferred

FIELDS = ("band_gap", "band_gap_pbe", "band_gap_hse06", "band_gap_g0w0", "band_gap_expt", "formation_energy")
"""The served fields as of this revision (``atlas2d.ingest.preferred.PREFERENCES``)."""

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "preferred_value",
        sa.Column("entry_id", sa.Integer(), sa.ForeignKey("entry.id", ondelete="CASCADE"), primary_key=True),
        *(
            column
            for field in FIELDS
            for column in (sa.Column(field, sa.Float(), nullable=True), sa.Column(f"{field}_method", sa.String(64), nullable=True))
        ),
    )
    for field in FIELDS:
        op.create_index(f"ix_preferred_value_{field}", "preferred_value", [field])
    op.create_index("ix_entry_updated_at", "entry", ["updated_at"])
    refresh_preferred(op.get_bind(), since=EVERYTHING)


def downgrade() -> None:
    op.drop_index("ix_entry_updated_at", table_name="entry")
    op.drop_table("preferred_value")

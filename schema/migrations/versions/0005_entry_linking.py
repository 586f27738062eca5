"""Linking keys of an entry: its space group and prototype, and how a structureless entry got its material.

A record without a structure joins a material only by the rule of
``atlas2d.ingest.linking`` (same reduced formula and space group, prototype within one
source's scheme, exactly one material); ``material_link`` keeps the rule or the reason it
has a material of its own, for ``atlas2d dedup --explain``. Entries stored before this
revision keep ``NULL`` (not linked by the rule, left as they are by ``relink``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 11:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("entry", sa.Column("space_group", sa.Integer(), nullable=True))
    op.add_column("entry", sa.Column("prototype", sa.Text(), nullable=True))
    op.add_column("entry", sa.Column("material_link", sa.Text(), nullable=True))
    op.create_index("ix_entry_formula_space_group", "entry", ["chemical_formula_reduced", "space_group"])


def downgrade() -> None:
    op.drop_index("ix_entry_formula_space_group", table_name="entry")
    op.drop_column("entry", "material_link")
    op.drop_column("entry", "prototype")
    op.drop_column("entry", "space_group")

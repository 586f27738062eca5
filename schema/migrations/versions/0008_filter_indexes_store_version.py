"""What OPTIMADE filters need at 100,000 structures: a narrow index to count on, a prefix index
for ``STARTS WITH``, and a store version that says when cached counts are stale.

- ``ix_structure_filtered``: ``structure(entry_id)`` including the columns filters test. A row
  of ``structure`` is about 1.9 kB, 1.4 kB of it the dedup invariants (``amd``, ``pdd``), so a
  filter that visits most rows (``nelements = 2``, ``NOT elements HAS "O"``, ``CONTAINS``)
  read 189 MB at 100,000 structures; this index holds what they test in about a tenth of
  that, and an index-only scan reads it without the table once a VACUUM has marked the
  pages all-visible (ingest runs one after writing). ``ALTER TABLE … SET
  (toast_tuple_target = 128)`` was tried first and moves nothing: PostgreSQL only starts
  toasting a row above about 2 kB, whatever the target.
  ``species_at_sites`` stays out: an index row has a 2.7 kB limit that a large cell's list
  could pass, and its GIN index answers ``HAS`` already.
- ``ix_structure_formula_prefix``: ``chemical_formula_reduced text_pattern_ops``, for
  ``STARTS WITH`` (``starts_with()``), which the default index cannot serve under the
  database's C.UTF-8 collation.
- ``store_version``: one row whose ``version`` rises with every transaction that writes
  ``structure``, ``entry``, ``source`` or ``preferred_value`` (statement triggers; once per
  transaction, so an ingest of many batches takes the row lock once per batch). The API keeps
  ``meta.data_returned`` per filter under the version read in the same statement as the
  count (``atlas2d.api.optimade.counts``): a cached count is reused only while no write has
  committed since.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 16:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

FILTERED = (
    "nelements",
    "nsites",
    "nperiodic_dimensions",
    "chemical_formula_reduced",
    "chemical_formula_anonymous",
    "chemical_formula_descriptive",
    "elements",
    "thickness",
    "vacuum",
)
"""The ``structure`` columns ``ix_structure_filtered`` carries (``atlas2d.schema.models.FILTERED_COLUMNS`` then)."""

WRITTEN = ("structure", "entry", "source", "preferred_value")
"""The tables behind the OPTIMADE structures whose writes make cached counts stale."""

BUMP = """
CREATE FUNCTION atlas2d_bump_store_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE store_version SET version = version + 1, writer = txid_current()
   WHERE writer IS DISTINCT FROM txid_current();
  RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.create_index("ix_structure_filtered", "structure", ["entry_id"], postgresql_include=list(FILTERED))
    op.create_index(
        "ix_structure_formula_prefix",
        "structure",
        ["chemical_formula_reduced"],
        postgresql_ops={"chemical_formula_reduced": "text_pattern_ops"},
    )
    op.create_table(
        "store_version",
        sa.Column("id", sa.Boolean(), primary_key=True, server_default=sa.true()),
        sa.Column("version", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("writer", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("id", name="ck_store_version_one_row"),
    )
    op.execute("INSERT INTO store_version (id, version) VALUES (true, 0)")
    op.execute(BUMP)
    for table in WRITTEN:
        op.execute(
            f"CREATE TRIGGER {table}_bumps_store_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION atlas2d_bump_store_version()"
        )


def downgrade() -> None:
    for table in WRITTEN:
        op.execute(f"DROP TRIGGER {table}_bumps_store_version ON {table}")
    op.execute("DROP FUNCTION atlas2d_bump_store_version()")
    op.drop_table("store_version")
    op.drop_index("ix_structure_formula_prefix", table_name="structure")
    op.drop_index("ix_structure_filtered", table_name="structure")

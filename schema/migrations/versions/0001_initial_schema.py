"""Initial schema: the harmonized store, its views and the read-only role.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 06:33:58.516553
"""

import pgvector.sqlalchemy
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


VIEWS = """
CREATE VIEW entries_flat AS
SELECT e.id AS entry_id, s.name AS source, e.source_key, e.material_id,
       e.chemical_formula_reduced AS formula, st.nsites, st.thickness, st.vacuum,
       (SELECT p.value FROM property p WHERE p.entry_id = e.id AND p.name = 'band_gap'
          AND p.method = 'PBE') AS band_gap_pbe,
       e.revision, e.updated_at
FROM entry e JOIN source s ON s.id = e.source_id
LEFT JOIN structure st ON st.entry_id = e.id;
COMMENT ON VIEW entries_flat IS
  'One row per source record: source, its id, the material it belongs to, size, thickness and vacuum (Å), PBE gap (eV).';

CREATE VIEW materials_flat AS
SELECT m.id AS material_id, m.chemical_formula_reduced AS formula,
       count(DISTINCT e.id) AS n_entries,
       array_agg(DISTINCT s.name) AS sources,
       array_agg(DISTINCT e.source_key) AS source_keys,
       avg(p.value) FILTER (WHERE p.name = 'band_gap' AND p.method = 'PBE') AS band_gap_pbe,
       avg(p.value) FILTER (WHERE p.name = 'band_gap' AND p.method = 'HSE06') AS band_gap_hse06,
       avg(p.value) FILTER (WHERE p.name = 'band_gap' AND p.method = 'G0W0') AS band_gap_g0w0,
       avg(p.value) FILTER (WHERE p.name = 'band_gap' AND p.method LIKE 'expt%') AS band_gap_expt,
       avg(p.value) FILTER (WHERE p.name = 'optical_gap' AND p.method LIKE 'expt%') AS optical_gap_expt
FROM material m
JOIN entry e ON e.material_id = m.id
JOIN source s ON s.id = e.source_id
LEFT JOIN property p ON p.entry_id = e.id
GROUP BY m.id, m.chemical_formula_reduced;
COMMENT ON VIEW materials_flat IS
  'One row per canonical material: its entries and sources, and band gaps (eV) averaged per method (PBE, HSE06, G0W0, experiment).';
"""

READER_ROLE = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'atlas2d_reader') THEN
    CREATE ROLE atlas2d_reader LOGIN;
  END IF;
END $$;
ALTER ROLE atlas2d_reader SET default_transaction_read_only = on;
GRANT USAGE ON SCHEMA public TO atlas2d_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO atlas2d_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO atlas2d_reader;
"""


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table('material',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('chemical_formula_reduced', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_material_chemical_formula_reduced'), 'material', ['chemical_formula_reduced'], unique=False)
    op.create_table('quarantine',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_name', sa.String(length=64), nullable=False),
    sa.Column('source_file', sa.Text(), nullable=True),
    sa.Column('locator', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('payload_sha256', sa.String(length=64), nullable=False),
    sa.Column('resolved', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source_name', 'locator', 'payload_sha256')
    )
    op.create_index(op.f('ix_quarantine_source_name'), 'quarantine', ['source_name'], unique=False)
    op.create_table('source',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('version', sa.Text(), nullable=True),
    sa.Column('license', sa.Text(), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('citation', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('source_key', sa.Text(), nullable=False),
    sa.Column('material_id', sa.Integer(), nullable=True),
    sa.Column('chemical_formula_reduced', sa.Text(), nullable=False),
    sa.Column('raw', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('raw_sha256', sa.String(length=64), nullable=False),
    sa.Column('source_file', sa.Text(), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('ingested_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['material_id'], ['material.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['source_id'], ['source.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source_id', 'source_key')
    )
    op.create_index(op.f('ix_entry_chemical_formula_reduced'), 'entry', ['chemical_formula_reduced'], unique=False)
    op.create_index(op.f('ix_entry_material_id'), 'entry', ['material_id'], unique=False)
    op.create_index(op.f('ix_entry_source_id'), 'entry', ['source_id'], unique=False)
    op.create_table('band_structure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=64), nullable=False),
    sa.Column('fermi_level', sa.Float(), nullable=True),
    sa.Column('spin_channels', sa.Integer(), nullable=False),
    sa.Column('kpath', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('energies', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('provenance', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('data_sha256', sa.String(length=64), nullable=False),
    sa.Column('fingerprint', pgvector.sqlalchemy.vector.VECTOR(dim=64), nullable=True),
    sa.Column('fingerprint_model', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['entry_id'], ['entry.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('entry_id', 'method')
    )
    op.create_index(op.f('ix_band_structure_entry_id'), 'band_structure', ['entry_id'], unique=False)
    op.create_table('cluster_override',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_a_id', sa.Integer(), nullable=False),
    sa.Column('entry_b_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['entry_a_id'], ['entry.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entry_b_id'], ['entry.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('entry_a_id', 'entry_b_id')
    )
    op.create_table('entry_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('raw', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('raw_sha256', sa.String(length=64), nullable=False),
    sa.Column('replaced_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['entry.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_entry_revision_entry_id'), 'entry_revision', ['entry_id'], unique=False)
    op.create_table('merge_evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_a_id', sa.Integer(), nullable=False),
    sa.Column('entry_b_id', sa.Integer(), nullable=False),
    sa.Column('distance', sa.Float(), nullable=True),
    sa.Column('rule', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['entry_a_id'], ['entry.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entry_b_id'], ['entry.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_merge_evidence_entry_a_id'), 'merge_evidence', ['entry_a_id'], unique=False)
    op.create_index(op.f('ix_merge_evidence_entry_b_id'), 'merge_evidence', ['entry_b_id'], unique=False)
    op.create_table('property',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('value_text', sa.Text(), nullable=True),
    sa.Column('unit', sa.String(length=32), nullable=True),
    sa.Column('method', sa.String(length=64), nullable=False),
    sa.Column('source_field', sa.Text(), nullable=True),
    sa.Column('conditions', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('reference', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['entry_id'], ['entry.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('entry_id', 'name', 'method', name='uq_property_entry_name_method')
    )
    op.create_index(op.f('ix_property_entry_id'), 'property', ['entry_id'], unique=False)
    op.create_index('ix_property_name_method', 'property', ['name', 'method'], unique=False)
    op.create_table('structure',
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('lattice_vectors', sa.ARRAY(sa.Float(), dimensions=2), nullable=False),
    sa.Column('cartesian_site_positions', sa.ARRAY(sa.Float(), dimensions=2), nullable=False),
    sa.Column('species_at_sites', sa.ARRAY(sa.Text()), nullable=False),
    sa.Column('nsites', sa.Integer(), nullable=False),
    sa.Column('elements', sa.ARRAY(sa.Text()), nullable=False),
    sa.Column('elements_ratios', sa.ARRAY(sa.Float()), nullable=False),
    sa.Column('nelements', sa.Integer(), nullable=False),
    sa.Column('chemical_formula_reduced', sa.Text(), nullable=False),
    sa.Column('chemical_formula_anonymous', sa.Text(), nullable=False),
    sa.Column('chemical_formula_descriptive', sa.Text(), nullable=False),
    sa.Column('dimension_types', sa.ARRAY(sa.Integer()), nullable=False),
    sa.Column('nperiodic_dimensions', sa.Integer(), nullable=False),
    sa.Column('thickness', sa.Float(), nullable=False),
    sa.Column('vacuum', sa.Float(), nullable=False),
    sa.Column('area', sa.Float(), nullable=False),
    sa.Column('amd', pgvector.sqlalchemy.vector.VECTOR(dim=100), nullable=True),
    sa.Column('pdd', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('invariants_version', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['entry_id'], ['entry.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('entry_id')
    )
    op.create_index(op.f('ix_structure_chemical_formula_anonymous'), 'structure', ['chemical_formula_anonymous'], unique=False)
    op.create_index(op.f('ix_structure_chemical_formula_reduced'), 'structure', ['chemical_formula_reduced'], unique=False)

    op.execute(
        "CREATE INDEX ix_structure_amd_hnsw ON structure USING hnsw (amd vector_l2_ops)"
    )
    op.execute(
        "CREATE INDEX ix_band_structure_fingerprint_hnsw ON band_structure "
        "USING hnsw (fingerprint vector_l2_ops)"
    )
    op.execute(VIEWS)
    op.execute(READER_ROLE)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS materials_flat")
    op.execute("DROP VIEW IF EXISTS entries_flat")
    op.drop_index(op.f('ix_structure_chemical_formula_reduced'), table_name='structure')
    op.drop_index(op.f('ix_structure_chemical_formula_anonymous'), table_name='structure')
    op.drop_table('structure')
    op.drop_index('ix_property_name_method', table_name='property')
    op.drop_index(op.f('ix_property_entry_id'), table_name='property')
    op.drop_table('property')
    op.drop_index(op.f('ix_merge_evidence_entry_b_id'), table_name='merge_evidence')
    op.drop_index(op.f('ix_merge_evidence_entry_a_id'), table_name='merge_evidence')
    op.drop_table('merge_evidence')
    op.drop_index(op.f('ix_entry_revision_entry_id'), table_name='entry_revision')
    op.drop_table('entry_revision')
    op.drop_table('cluster_override')
    op.drop_index(op.f('ix_band_structure_entry_id'), table_name='band_structure')
    op.drop_table('band_structure')
    op.drop_index(op.f('ix_entry_source_id'), table_name='entry')
    op.drop_index(op.f('ix_entry_material_id'), table_name='entry')
    op.drop_index(op.f('ix_entry_chemical_formula_reduced'), table_name='entry')
    op.drop_table('entry')
    op.drop_table('source')
    op.drop_index(op.f('ix_quarantine_source_name'), table_name='quarantine')
    op.drop_table('quarantine')
    op.drop_index(op.f('ix_material_chemical_formula_reduced'), table_name='material')
    op.drop_table('material')

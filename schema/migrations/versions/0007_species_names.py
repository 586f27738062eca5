"""The source's species names and species objects of a structure (OPTIMADE ``Ac1``, ``Ac2``).

``structure.species_at_sites`` stays the element at each site, which invariants, dedup, the
graph and band matching read. ``site_names`` holds the source's name at each site where it
differs from the element, ``species`` the source's OPTIMADE species objects (validated); the
API serves ``coalesce(site_names, species_at_sites)`` as ``species_at_sites``, and the GIN
index on that expression replaces the one on ``species_at_sites``, which no query used after
this revision (the expression index answers the same ``HAS`` filters).

The backfill reads the raw record of every stored ``optimade``-source structure with
``atlas2d.ingest.sources.optimade_json.site_species``, the rule ingest applies; a re-ingest of
the same file would not do it, since an unchanged raw record is not written again. A record
that rule refuses now (it was stored under the older, laxer one) keeps NULL: it is served with
element symbols, as before.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 16:30:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from atlas2d.ingest.records import HarmonizationError
from atlas2d.ingest.sources.optimade_json import site_species

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SERVED = sa.text("coalesce(site_names, species_at_sites)")


def upgrade() -> None:
    op.add_column("structure", sa.Column("site_names", postgresql.ARRAY(sa.Text()), nullable=True))
    op.add_column("structure", sa.Column("species", postgresql.JSONB(), nullable=True))
    _backfill(op.get_bind())
    op.drop_index("ix_structure_species_at_sites_gin", table_name="structure")
    op.create_index("ix_structure_served_species_at_sites_gin", "structure", [SERVED], postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("ix_structure_served_species_at_sites_gin", table_name="structure")
    op.create_index("ix_structure_species_at_sites_gin", "structure", ["species_at_sites"], postgresql_using="gin")
    op.drop_column("structure", "species")
    op.drop_column("structure", "site_names")


def _backfill(connection: sa.Connection) -> None:
    rows = connection.execute(
        sa.text(
            "SELECT s.entry_id, e.raw -> 'attributes' AS attributes, s.species_at_sites FROM structure s "
            "JOIN entry e ON e.id = s.entry_id JOIN source so ON so.id = e.source_id WHERE so.name = 'optimade'"
        )
    )
    updates = []
    for entry_id, attributes, elements in rows:
        try:
            found = site_species(attributes, elements)
        except (HarmonizationError, KeyError, TypeError):
            continue
        if found.site_names is not None or found.species is not None:
            names = None if found.site_names is None else list(found.site_names)
            updates.append({"id": entry_id, "names": names, "species": found.species})
    if updates:
        statement = sa.text("UPDATE structure SET site_names = :names, species = :species WHERE entry_id = :id").bindparams(
            sa.bindparam("names", type_=postgresql.ARRAY(sa.Text())), sa.bindparam("species", type_=postgresql.JSONB())
        )
        connection.execute(statement, updates)

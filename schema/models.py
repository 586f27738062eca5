"""SQLAlchemy 2 models of the harmonized store.

One canonical ``Material`` has many ``Entry`` rows, one per source record. Every value an
entry carries keeps where it came from: the entry keeps the raw record verbatim (JSONB), each
``PropertyValue`` keeps its method/functional, unit and the source field it was read from.
Rejected input goes to ``Quarantine`` instead of vanishing.

The migrations in ``schema/migrations`` are the authority on the database; these models
mirror them so that Python code can query with types.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

AMD_K = 100
"""Length of the Average Minimum Distance vector stored per structure (k nearest neighbours)."""

FINGERPRINT_DIM = 64
"""Length of the band-structure fingerprint vector."""

FILTERED_COLUMNS = (
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
"""The ``structure`` columns OPTIMADE filters test, carried by the index ``ix_structure_filtered``."""


class Base(DeclarativeBase):
    """Declarative base shared by all atlas2d tables."""

    type_annotation_map = {dict[str, Any]: JSONB}


class Source(Base):
    """A database or data set that entries come from (C2DB, 2DMatPedia, MC2D, experimental…)."""

    __tablename__ = "source"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[str | None] = mapped_column(Text)
    license: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    citation: Mapped[str | None] = mapped_column(Text)

    entries: Mapped[list[Entry]] = relationship(back_populates="source")


class Material(Base):
    """The canonical, deduplicated material that one or more entries describe."""

    __tablename__ = "material"

    id: Mapped[int] = mapped_column(primary_key=True)
    chemical_formula_reduced: Mapped[str] = mapped_column(Text, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    entries: Mapped[list[Entry]] = relationship(back_populates="material")


class Entry(Base):
    """One record of one source, with the raw record kept verbatim so nothing is ever lost."""

    __tablename__ = "entry"
    __table_args__ = (
        UniqueConstraint("source_id", "source_key"),
        Index("ix_entry_formula_space_group", "chemical_formula_reduced", "space_group"),
        Index("ix_entry_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("source.id"), index=True)
    source_key: Mapped[str] = mapped_column(Text)
    material_id: Mapped[int | None] = mapped_column(
        ForeignKey("material.id", ondelete="SET NULL"), index=True
    )
    chemical_formula_reduced: Mapped[str] = mapped_column(Text, index=True)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)
    raw_sha256: Mapped[str] = mapped_column(String(64))
    source_file: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    space_group: Mapped[int | None] = mapped_column(Integer)
    """Space-group number: the source's, else found in the structure; links structureless entries."""
    prototype: Mapped[str | None] = mapped_column(Text)
    """The source's prototype (crystal type) name, comparable only within one source."""
    material_link: Mapped[str | None] = mapped_column(Text)
    """For an entry without a structure: how it got its material (``atlas2d.ingest.linking``)."""
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    source: Mapped[Source] = relationship(back_populates="entries")
    material: Mapped[Material | None] = relationship(back_populates="entries")
    structure: Mapped[Structure | None] = relationship(
        back_populates="entry", cascade="all, delete-orphan", uselist=False
    )
    properties: Mapped[list[PropertyValue]] = relationship(
        back_populates="entry", cascade="all, delete-orphan"
    )
    revisions: Mapped[list[EntryRevision]] = relationship(
        back_populates="entry", cascade="all, delete-orphan"
    )
    band_structures: Mapped[list[BandStructure]] = relationship(
        back_populates="entry", cascade="all, delete-orphan"
    )


class EntryRevision(Base):
    """A previous version of an entry's raw record, kept when the source record changed."""

    __tablename__ = "entry_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)
    raw_sha256: Mapped[str] = mapped_column(String(64))
    replaced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    entry: Mapped[Entry] = relationship(back_populates="revisions")


class Structure(Base):
    """The harmonized 2D structure of an entry, in OPTIMADE terms.

    Convention (see ``ingest/harmonize.py``): the non-periodic direction is z, the two
    in-plane lattice vectors lie in the xy plane, the third vector is (0, 0, L) and the layer
    is centred at L/2. Lengths in Å.
    """

    __tablename__ = "structure"
    __table_args__ = (
        Index(
            "ix_structure_amd_hnsw", "amd", postgresql_using="hnsw", postgresql_ops={"amd": "vector_l2_ops"}
        ),
        Index("ix_structure_elements_gin", "elements", postgresql_using="gin"),
        Index("ix_structure_invariants_version", "invariants_version"),
        Index("ix_structure_without_amd", "entry_id", postgresql_where=text("amd IS NULL")),
        # What OPTIMADE filters test, narrow enough to count on by index-only scans (migration 0008).
        Index("ix_structure_filtered", "entry_id", postgresql_include=list(FILTERED_COLUMNS)),
        Index(
            "ix_structure_formula_prefix",
            "chemical_formula_reduced",
            postgresql_ops={"chemical_formula_reduced": "text_pattern_ops"},
        ),
    )

    entry_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"), primary_key=True)
    lattice_vectors: Mapped[list[list[float]]] = mapped_column(ARRAY(Float, dimensions=2))
    cartesian_site_positions: Mapped[list[list[float]]] = mapped_column(ARRAY(Float, dimensions=2))
    species_at_sites: Mapped[list[str]] = mapped_column(ARRAY(Text))
    """The element symbol at each site: what invariants, dedup, the graph and band matching read."""
    site_names: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    """The source's species name at each site (OPTIMADE ``Ac1``, ``Ac2``), only where they differ from
    ``species_at_sites``; the served ``species_at_sites`` is ``SERVED_SPECIES_AT_SITES``."""
    species: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    """The source's OPTIMADE species objects for the names at its sites, validated at ingest; NULL
    where the served ``species`` are built from ``elements``."""
    nsites: Mapped[int] = mapped_column(Integer)
    elements: Mapped[list[str]] = mapped_column(ARRAY(Text))
    elements_ratios: Mapped[list[float]] = mapped_column(ARRAY(Float))
    nelements: Mapped[int] = mapped_column(Integer)
    chemical_formula_reduced: Mapped[str] = mapped_column(Text, index=True)
    chemical_formula_anonymous: Mapped[str] = mapped_column(Text, index=True)
    chemical_formula_descriptive: Mapped[str] = mapped_column(Text)
    dimension_types: Mapped[list[int]] = mapped_column(ARRAY(Integer), default=lambda: [1, 1, 0])
    nperiodic_dimensions: Mapped[int] = mapped_column(Integer, default=2)
    thickness: Mapped[float] = mapped_column(Float)
    vacuum: Mapped[float] = mapped_column(Float)
    area: Mapped[float] = mapped_column(Float)
    amd: Mapped[list[float] | None] = mapped_column(Vector(AMD_K))
    pdd: Mapped[bytes | None] = mapped_column(LargeBinary)
    invariants_version: Mapped[str | None] = mapped_column(Text)

    entry: Mapped[Entry] = relationship(back_populates="structure")


SERVED_SPECIES_AT_SITES = func.coalesce(Structure.site_names, Structure.species_at_sites)
"""The ``species_at_sites`` atlas2d serves: the source's names where it gave its own, else the elements.

The OPTIMADE filter translator, the JSON-LD export and the GIN index below use this one
expression; PostgreSQL uses an expression index only for the very expression it was built on.
"""

Index("ix_structure_served_species_at_sites_gin", SERVED_SPECIES_AT_SITES, postgresql_using="gin")


class PropertyValue(Base):
    """One value of one harmonized property of one entry, with method and provenance.

    PBE, HSE06, G0W0 and experiment give different rows of the same property name, so a
    value is never overwritten by another method's.
    """

    __tablename__ = "property"
    __table_args__ = (
        UniqueConstraint("entry_id", "name", "method", name="uq_property_entry_name_method"),
        Index("ix_property_name_method", "name", "method"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Float)
    value_text: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[str | None] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(64))
    source_field: Mapped[str | None] = mapped_column(Text)
    conditions: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    reference: Mapped[str | None] = mapped_column(Text)

    entry: Mapped[Entry] = relationship(back_populates="properties")


class PreferredValue(Base):
    """The values an entry serves as its ``_atlas2d_`` OPTIMADE fields, chosen once at ingest.

    One row per entry with a served value: ``band_gap`` is the most trustworthy band gap and
    ``band_gap_method`` its method, ``band_gap_pbe`` the PBE one, and so on (the rules are
    ``atlas2d.ingest.preferred``; each of its fields is a ``<field>`` and ``<field>_method``
    column here). Choosing the method per row at query time was a correlated subquery per
    entry and field; kept here, a property filter is one index range scan. A row per entry
    rather than per (entry, field): the API's structures selectable then needs one join, not
    one per field, and six joins cost the planner 10-40 ms per page at 10,000 structures.
    """

    __tablename__ = "preferred_value"

    entry_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"), primary_key=True)
    band_gap: Mapped[float | None] = mapped_column(Float, index=True)
    band_gap_method: Mapped[str | None] = mapped_column(String(64))
    band_gap_pbe: Mapped[float | None] = mapped_column(Float, index=True)
    band_gap_pbe_method: Mapped[str | None] = mapped_column(String(64))
    band_gap_hse06: Mapped[float | None] = mapped_column(Float, index=True)
    band_gap_hse06_method: Mapped[str | None] = mapped_column(String(64))
    band_gap_g0w0: Mapped[float | None] = mapped_column(Float, index=True)
    band_gap_g0w0_method: Mapped[str | None] = mapped_column(String(64))
    band_gap_expt: Mapped[float | None] = mapped_column(Float, index=True)
    band_gap_expt_method: Mapped[str | None] = mapped_column(String(64))
    formation_energy: Mapped[float | None] = mapped_column(Float, index=True)
    formation_energy_method: Mapped[str | None] = mapped_column(String(64))


class StoreVersion(Base):
    """One row: ``version`` rises with every transaction that writes ``structure``, ``entry``,
    ``source`` or ``preferred_value`` (statement triggers of migration 0008; ``writer`` is that
    transaction's id, so it counts once). Readers that cache what they computed from those
    tables (the OPTIMADE counts) key it by the version read in the same statement."""

    __tablename__ = "store_version"
    __table_args__ = (CheckConstraint("id", name="ck_store_version_one_row"),)

    id: Mapped[bool] = mapped_column(Boolean, primary_key=True, server_default=true())
    version: Mapped[int] = mapped_column(BigInteger, server_default="0")
    writer: Mapped[int | None] = mapped_column(BigInteger)


class BandStructure(Base):
    """An electronic band structure along a k-path, with its fingerprint vector."""

    __tablename__ = "band_structure"
    __table_args__ = (
        UniqueConstraint("entry_id", "method"),
        Index(
            "ix_band_structure_fingerprint_hnsw",
            "fingerprint",
            postgresql_using="hnsw",
            postgresql_ops={"fingerprint": "vector_l2_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(64))
    fermi_level: Mapped[float | None] = mapped_column(Float)
    spin_channels: Mapped[int] = mapped_column(Integer, default=1)
    kpath: Mapped[dict[str, Any]] = mapped_column(JSONB)
    energies: Mapped[dict[str, Any]] = mapped_column(JSONB)
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    data_sha256: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[list[float] | None] = mapped_column(Vector(FINGERPRINT_DIM))
    fingerprint_model: Mapped[str | None] = mapped_column(Text)

    entry: Mapped[Entry] = relationship(back_populates="band_structures")


class MergeEvidence(Base):
    """Why dedup put two entries in one material: the distance and the rule that decided."""

    __tablename__ = "merge_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_a_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"), index=True)
    entry_b_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"), index=True)
    distance: Mapped[float | None] = mapped_column(Float)
    rule: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DedupState(Base):
    """What the last full or incremental dedup ran with: one row, so the next run knows whether it may be incremental.

    A run may only add the structures stored since (``last_entry_id``) to the clusters when
    the tolerance, the neighbour count, the curators' overrides and the invariants are the
    ones the stored clusters were made with, and no clustered structure was removed or
    replaced since (``structures`` rows in ``dedup_neighbourhood``).
    """

    __tablename__ = "dedup_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    tolerance: Mapped[float] = mapped_column(Float)
    neighbours: Mapped[int] = mapped_column(Integer)
    overrides_sha256: Mapped[str] = mapped_column(String(64))
    invariants_version: Mapped[str] = mapped_column(Text)
    structures: Mapped[int] = mapped_column(Integer)
    last_entry_id: Mapped[int] = mapped_column(Integer)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DedupNeighbourhood(Base):
    """A clustered structure's AMD distance to its farthest candidate neighbour (``inf`` with fewer than k).

    A new structure of the same formula within this radius enters the structure's k nearest,
    so its candidate pairs change: that is how an incremental dedup finds the old structures
    a new one concerns (the reverse direction of the kNN) without searching from all of them.
    """

    __tablename__ = "dedup_neighbourhood"

    entry_id: Mapped[int] = mapped_column(ForeignKey("structure.entry_id", ondelete="CASCADE"), primary_key=True)
    radius: Mapped[float] = mapped_column(Float)


class DedupPair(Base):
    """A candidate pair the last dedup confirmed (PDD EMD within tolerance), and whether a split refused its union.

    The clusters are what union-find makes of these pairs; keeping them lets an incremental
    dedup re-cluster only the connected part of the pair graph that new structures touch.
    """

    __tablename__ = "dedup_pair"

    entry_a_id: Mapped[int] = mapped_column(ForeignKey("structure.entry_id", ondelete="CASCADE"), primary_key=True)
    entry_b_id: Mapped[int] = mapped_column(ForeignKey("structure.entry_id", ondelete="CASCADE"), primary_key=True, index=True)
    distance: Mapped[float] = mapped_column(Float)


class ClusterOverride(Base):
    """A curator's decision that two entries must (``join``) or must not (``split``) merge."""

    __tablename__ = "cluster_override"
    __table_args__ = (UniqueConstraint("entry_a_id", "entry_b_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_a_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"))
    entry_b_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(8))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Quarantine(Base):
    """Input that could not be ingested, with the reason and the payload as it came."""

    __tablename__ = "quarantine"
    __table_args__ = (UniqueConstraint("source_name", "locator", "payload_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_name: Mapped[str] = mapped_column(String(64), index=True)
    source_file: Mapped[str | None] = mapped_column(Text)
    locator: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

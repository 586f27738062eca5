"""The harmonized store: models, connection and migrations (see README, "Data model")."""

from atlas2d.schema.database import (
    DatabaseError,
    database_url,
    make_engine,
    readonly_url,
)
from atlas2d.schema.models import (
    AMD_K,
    FINGERPRINT_DIM,
    BandStructure,
    Base,
    ClusterOverride,
    Entry,
    EntryRevision,
    Material,
    MergeEvidence,
    PreferredValue,
    PropertyValue,
    Quarantine,
    Source,
    Structure,
)
from atlas2d.schema.settings import Settings

__all__ = [
    "AMD_K",
    "FINGERPRINT_DIM",
    "BandStructure",
    "Base",
    "ClusterOverride",
    "DatabaseError",
    "Entry",
    "EntryRevision",
    "Material",
    "MergeEvidence",
    "PreferredValue",
    "PropertyValue",
    "Quarantine",
    "Settings",
    "Source",
    "Structure",
    "database_url",
    "make_engine",
    "readonly_url",
]

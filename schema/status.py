"""What the store holds: rows per table, and entries and quarantined records per source."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from atlas2d.schema.models import (
    BandStructure,
    ClusterOverride,
    Entry,
    Material,
    MergeEvidence,
    PropertyValue,
    Quarantine,
    Source,
    Structure,
)

COUNTED_TABLES = (Source, Material, Entry, Structure, PropertyValue, BandStructure, MergeEvidence, ClusterOverride, Quarantine)


@dataclass(frozen=True)
class SourceCount:
    """One source: its version, its entries and its quarantined records.

    A source that only ever had records quarantined has no ``source`` row, hence no version.
    """

    name: str
    version: str | None
    entries: int
    quarantined: int


@dataclass(frozen=True)
class StoreStatus:
    """Rows per table (in ``COUNTED_TABLES`` order) and the per-source counts, sorted by name."""

    tables: list[tuple[str, int]]
    sources: list[SourceCount]


def store_status(conn: Connection) -> StoreStatus:
    """Count what the store holds (one query per table, two for the sources)."""
    tables = [(m.__tablename__, conn.execute(select(func.count()).select_from(m)).scalar_one()) for m in COUNTED_TABLES]
    per_source = conn.execute(
        select(Source.name, Source.version, func.count(Entry.id))
        .outerjoin(Entry, Entry.source_id == Source.id)
        .group_by(Source.name, Source.version)
    ).all()
    quarantined: dict[str, int] = dict(conn.execute(select(Quarantine.source_name, func.count()).group_by(Quarantine.source_name)).all())
    versions = {name: (version, entries) for name, version, entries in per_source}
    names = sorted(set(versions) | set(quarantined))
    sources = [SourceCount(n, versions.get(n, (None, 0))[0], versions.get(n, (None, 0))[1], quarantined.get(n, 0)) for n in names]
    return StoreStatus(tables, sources)


def check_readable(conn: Connection) -> None:
    """Raise the database's error when ``conn`` cannot read the store (no server, no schema, no rights)."""
    conn.execute(select(func.count()).select_from(Structure)).scalar_one()

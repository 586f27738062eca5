"""Store band structures: the entry through the ordinary writer, the bands beside it.

A band structure belongs to an entry (one row per entry and method). Its ``data_sha256``
decides what a re-run does: the same hash leaves the row (and its fingerprint) alone,
another hash replaces the data and clears the fingerprint so ``atlas2d fingerprint``
recomputes it. Entries without a structure (lattice models, files without one) get no
material: they are not materials and must not appear in material listings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from atlas2d.ingest.band_records import BandRecord
from atlas2d.ingest.records import Rejected, SourceInfo
from atlas2d.ingest.store import ensure_source, quarantine, write_records
from atlas2d.schema.models import BandStructure, Entry


@dataclass
class BandWriteCounts:
    """What one batch did to ``band_structure`` (and how many inputs went to quarantine)."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0


def write_band_records(
    session: Session, source: SourceInfo, items: Iterable[BandRecord | Rejected], source_file: str | None = None
) -> BandWriteCounts:
    """Write good band records and quarantine rejected ones, in the caller's transaction."""
    items = list(items)
    records = [i for i in items if isinstance(i, BandRecord)]
    rejected = [i for i in items if isinstance(i, Rejected)]
    source_id = ensure_source(session, source)
    counts = BandWriteCounts(quarantined=quarantine(session, source.name, source_file, rejected))
    entries = [r.entry for r in records]
    write_records(session, source_id, [e for e in entries if e.layer is not None], source_file=source_file)
    write_records(session, source_id, [e for e in entries if e.layer is None], source_file=source_file, materials=False)
    keys = [r.entry.source_key for r in records]
    entry_ids = dict(
        session.execute(
            select(Entry.source_key, Entry.id).where(Entry.source_id == source_id, Entry.source_key.in_(keys))
        ).all()
    )
    for record in records:
        write_bands(session, entry_ids[record.entry.source_key], record, counts)
    return counts


def write_bands(session: Session, entry_id: int, record: BandRecord, counts: BandWriteCounts) -> None:
    """Insert, replace (clearing its fingerprint) or leave the band structure of ``entry_id`` and ``record.method``."""
    sha = record.data_sha256()
    row = {
        "entry_id": entry_id,
        "method": record.method,
        "fermi_level": record.fermi_level,
        "spin_channels": record.spin_channels,
        "kpath": record.kpath_json(),
        "energies": record.energies_json(),
        "provenance": record.provenance,
        "data_sha256": sha,
    }
    old = session.execute(
        select(BandStructure.id, BandStructure.data_sha256).where(
            BandStructure.entry_id == entry_id, BandStructure.method == record.method
        )
    ).first()
    if old is None:
        session.execute(insert(BandStructure).values(row))
        counts.inserted += 1
    elif old.data_sha256 == sha:
        counts.unchanged += 1
    else:
        session.execute(
            update(BandStructure).where(BandStructure.id == old.id).values(**row, fingerprint=None, fingerprint_model=None)
        )
        counts.updated += 1

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
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from ingest.band_records import BandRecord
from ingest.records import Rejected, SourceInfo
from ingest.store import canonical_sha256, ensure_source, quarantine, write_records
from schema.models import BandStructure, Entry, EntryRevision


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
    with_structure = [r.entry for r in records if r.entry.structure is not None]
    if with_structure:
        write_records(session, source_id, with_structure, source_file=source_file)
    _write_bare_entries(session, source_id, [r for r in records if r.entry.structure is None], source_file)
    keys = [r.entry.source_key for r in records]
    entry_ids = dict(
        session.execute(
            select(Entry.source_key, Entry.id).where(Entry.source_id == source_id, Entry.source_key.in_(keys))
        ).all()
    )
    for record in records:
        _write_bands(session, entry_ids[record.entry.source_key], record, counts)
    return counts


def _write_bands(session: Session, entry_id: int, record: BandRecord, counts: BandWriteCounts) -> None:
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


def _write_bare_entries(session: Session, source_id: int, records: list[BandRecord], source_file: str | None) -> None:
    """Insert or update entries that have no structure, keeping the previous raw record."""
    if not records:
        return
    keys = [r.entry.source_key for r in records]
    existing = {
        row.source_key: row
        for row in session.execute(
            select(Entry.id, Entry.source_key, Entry.raw_sha256, Entry.revision, Entry.raw).where(
                Entry.source_id == source_id, Entry.source_key.in_(keys)
            )
        )
    }
    for record in records:
        entry = record.entry
        sha = canonical_sha256(entry.raw)
        old = existing.get(entry.source_key)
        if old is None:
            session.execute(
                pg_insert(Entry).values(
                    source_id=source_id,
                    source_key=entry.source_key,
                    material_id=None,
                    chemical_formula_reduced=entry.chemical_formula_reduced,
                    raw=entry.raw,
                    raw_sha256=sha,
                    source_file=source_file,
                    revision=1,
                )
            )
        elif old.raw_sha256 != sha:
            session.execute(
                insert(EntryRevision).values(entry_id=old.id, revision=old.revision, raw=old.raw, raw_sha256=old.raw_sha256)
            )
            session.execute(
                update(Entry)
                .where(Entry.id == old.id)
                .values(raw=entry.raw, raw_sha256=sha, revision=old.revision + 1, source_file=source_file)
            )

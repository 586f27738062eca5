"""Store band structures (the entry through the ordinary writer, the bands beside it), and read them back.

A band structure belongs to an entry (one row per entry and method). Its ``data_sha256``
decides what a re-run does: the same hash leaves the row (and its fingerprint) alone,
another hash replaces the data and clears the fingerprint so ``atlas2d fingerprint``
recomputes it. Entries without a structure (lattice models, files without one) get no
material: they are not materials and must not appear in material listings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from atlas2d.ingest.band_records import BandRecord, Segment, segments_from_json
from atlas2d.ingest.records import Record
from atlas2d.ingest.store import WriteCounts, write_records
from atlas2d.schema.models import BandStructure, Entry


@dataclass
class BandWriteCounts:
    """What one batch did to ``band_structure``."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: BandWriteCounts) -> None:
        """Count ``other``'s rows in too (a run's total over its batches)."""
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged


def write_band_records(
    session: Session,
    source_id: int,
    records: Sequence[BandRecord],
    source_file: str | None = None,
    combine: Callable[[dict[str, Any], Record], Record] | None = None,
) -> tuple[WriteCounts, BandWriteCounts]:
    """Write the records' entries, then their band structures, in the caller's transaction.

    Returns what happened to the entries and to the band structures. An entry without a
    structure gets no material (``write_records(materials=False)``). Records that share one
    entry object (several methods of one material) write that entry once; ``combine`` is
    the adapter's (see ``atlas2d.ingest.store.write_records``).
    """
    bands = BandWriteCounts()
    if not records:
        return WriteCounts(), bands
    entries = list({id(r.entry): r.entry for r in records}.values())
    with_layer = write_records(session, source_id, [e for e in entries if e.layer is not None], source_file=source_file, combine=combine)
    without = write_records(session, source_id, [e for e in entries if e.layer is None], source_file=source_file, materials=False)
    counts = WriteCounts(
        inserted=with_layer.inserted + without.inserted,
        updated=with_layer.updated + without.updated,
        unchanged=with_layer.unchanged + without.unchanged,
    )
    keys = [r.entry.source_key for r in records]
    entry_ids = dict(
        session.execute(
            select(Entry.source_key, Entry.id).where(Entry.source_id == source_id, Entry.source_key.in_(keys))
        ).all()
    )
    for record in records:
        write_bands(session, entry_ids[record.entry.source_key], record, bands)
    return counts, bands


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


@dataclass(frozen=True)
class StoredBands:
    """A stored band structure as the fingerprint commands use it (segments rebuilt on demand)."""

    id: int
    source_key: str
    fermi_level: float
    provenance: dict[str, Any]
    fingerprint: np.ndarray | None
    kpath: dict[str, Any]
    energies: dict[str, Any]

    def segments(self) -> list[Segment]:
        """The k-path segments with their energies (parsed from the stored JSON)."""
        return segments_from_json(self.kpath, self.energies)


def read_band_structures(
    session: Session, ids: Iterable[int] | None = None, *, fingerprinted_only: bool = False
) -> list[StoredBands]:
    """Stored band structures in id order: all, those with ``ids``, or only those with a fingerprint.

    A missing Fermi level reads as 0 eV, the reference the pictures use when none is known.
    """
    query = select(
        BandStructure.id,
        Entry.source_key,
        BandStructure.fermi_level,
        BandStructure.provenance,
        BandStructure.fingerprint,
        BandStructure.kpath,
        BandStructure.energies,
    ).join(Entry, Entry.id == BandStructure.entry_id)
    if ids is not None:
        query = query.where(BandStructure.id.in_(list(ids)))
    if fingerprinted_only:
        query = query.where(BandStructure.fingerprint.is_not(None))
    return [
        StoredBands(
            id=r.id,
            source_key=r.source_key,
            fermi_level=r.fermi_level or 0.0,
            provenance=r.provenance or {},
            fingerprint=None if r.fingerprint is None else np.asarray(r.fingerprint, dtype=np.float32),
            kpath=r.kpath,
            energies=r.energies,
        )
        for r in session.execute(query.order_by(BandStructure.id))
    ]

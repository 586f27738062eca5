"""Nearest band structures by fingerprint: "which entries have bands like this one".

The query runs in PostgreSQL, ordered by the L2 distance ``fingerprint <-> query``, which
the HNSW index on ``band_structure.fingerprint`` answers (approximate, recall@10 measured
in ``benchmarks/fingerprints.py``) without scanning every row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from atlas2d.schema.models import BandStructure, Entry, Source


class BandSearchError(LookupError):
    """The query entry has no band structure, or no fingerprint yet; the message says which."""


@dataclass(frozen=True)
class BandNeighbour:
    """One neighbour: which band structure, whose entry, and how far its fingerprint is."""

    band_structure_id: int
    entry_id: int
    source: str
    source_key: str
    formula: str
    method: str
    distance: float
    provenance: dict[str, Any]


def resolve_entry(session: Session, identifier: str) -> int:
    """The entry id of ``identifier``: an entry id, or a source key that names one entry."""
    if identifier.isdigit():
        return int(identifier)
    ids = session.execute(select(Entry.id).where(Entry.source_key == identifier).limit(2)).scalars().all()
    if not ids:
        raise BandSearchError(f"no entry with id or source key {identifier!r}")
    if len(ids) > 1:
        raise BandSearchError(f"source key {identifier!r} exists in several sources; use the entry id")
    return ids[0]


def query_band_structure(session: Session, entry_id: int, method: str | None = None) -> BandStructure:
    """The band structure of an entry (of ``method``, or the first stored), with a fingerprint."""
    statement = select(BandStructure).where(BandStructure.entry_id == entry_id).order_by(BandStructure.id)
    if method:
        statement = statement.where(BandStructure.method == method)
    row = session.execute(statement.limit(1)).scalar_one_or_none()
    if row is None:
        which = f" of method {method!r}" if method else ""
        raise BandSearchError(f"entry {entry_id} has no band structure{which}")
    if row.fingerprint is None:
        raise BandSearchError(f"band structure {row.id} of entry {entry_id} has no fingerprint yet; run 'atlas2d fingerprint'")
    return row


def similar_by_bands(session: Session, entry_id: int, k: int = 10, method: str | None = None) -> list[BandNeighbour]:
    """The ``k`` band structures nearest to the entry's, nearest first, without the query itself."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    query = query_band_structure(session, entry_id, method)
    distance = BandStructure.fingerprint.l2_distance(query.fingerprint).label("distance")
    rows = session.execute(
        select(
            BandStructure.id,
            BandStructure.entry_id,
            Source.name,
            Entry.source_key,
            Entry.chemical_formula_reduced,
            BandStructure.method,
            BandStructure.provenance,
            distance,
        )
        .join(Entry, Entry.id == BandStructure.entry_id)
        .join(Source, Source.id == Entry.source_id)
        .where(BandStructure.fingerprint.is_not(None), BandStructure.id != query.id)
        .order_by(distance)
        .limit(k)
    ).all()
    return [
        BandNeighbour(
            band_structure_id=r[0],
            entry_id=r[1],
            source=r[2],
            source_key=r[3],
            formula=r[4],
            method=r[5],
            provenance=r[6] or {},
            distance=float(r[7]),
        )
        for r in rows
    ]

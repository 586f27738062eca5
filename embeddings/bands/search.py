"""Nearest band structures by fingerprint: "which entries have bands like this one".

One of the searches registered in ``atlas2d.embeddings.search``. The query runs in
PostgreSQL, ordered by the L2 distance ``fingerprint <-> query``, which the HNSW index on
``band_structure.fingerprint`` answers (approximate, recall@10 measured in
``benchmarks/fingerprints.py``) without scanning every row.

Generated tight-binding band structures (constructed records, not materials) and real
ones are never each other's answers: a real material's neighbours are real materials, a
generated model's neighbours are generated models.
"""

from __future__ import annotations

from sqlalchemy import not_, select
from sqlalchemy.orm import Session

from atlas2d.embeddings.neighbour import Neighbour, SearchError
from atlas2d.embeddings.structure.amd_index import widen_search
from atlas2d.ingest.sources.base import CONSTRUCTED_MARK
from atlas2d.schema.models import BandStructure, Entry, Source


def query_band_structure(session: Session, entry_id: int, method: str | None = None) -> BandStructure:
    """The band structure of an entry (of ``method``, or the first stored), with a fingerprint."""
    statement = select(BandStructure).where(BandStructure.entry_id == entry_id).order_by(BandStructure.id)
    if method:
        statement = statement.where(BandStructure.method == method)
    row = session.execute(statement.limit(1)).scalar_one_or_none()
    if row is None:
        which = f" of method {method!r}" if method else ""
        raise SearchError(f"entry {entry_id} has no band structure{which}")
    if row.fingerprint is None:
        raise SearchError(f"band structure {row.id} of entry {entry_id} has no fingerprint yet; run 'atlas2d fingerprint'")
    return row


def similar_by_bands(
    session: Session, ref: int, k: int = 10, by_material: bool = False, method: str | None = None
) -> list[Neighbour]:
    """The ``k`` band structures nearest to the entry's (or the material's), nearest first, without the query itself.

    With ``by_material`` the query is the first entry of material ``ref`` that has a band structure.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    entry_id = ref
    if by_material:
        entry_id = session.execute(
            select(Entry.id)
            .join(BandStructure, BandStructure.entry_id == Entry.id)
            .where(Entry.material_id == ref)
            .order_by(Entry.id)
            .limit(1)
        ).scalar_one_or_none()
        if entry_id is None:
            raise SearchError(f"material {ref} has no band structure")
    query = query_band_structure(session, entry_id, method)
    constructed = Entry.raw.has_key(CONSTRUCTED_MARK)
    same_kind = constructed if session.get(Entry, query.entry_id).raw.get(CONSTRUCTED_MARK) else not_(constructed)
    widen_search(session, k)
    distance = BandStructure.fingerprint.l2_distance(query.fingerprint).label("distance")
    rows = session.execute(
        select(
            BandStructure.entry_id,
            Entry.material_id,
            Source.name,
            Entry.source_key,
            Entry.chemical_formula_reduced,
            distance,
            BandStructure.id,
            BandStructure.method,
            BandStructure.provenance,
        )
        .join(Entry, Entry.id == BandStructure.entry_id)
        .join(Source, Source.id == Entry.source_id)
        .where(BandStructure.fingerprint.is_not(None), BandStructure.id != query.id, same_kind)
        .order_by(distance)
        .limit(k)
    ).all()
    return [
        Neighbour(
            entry_id=entry,
            material_id=material,
            source=source,
            source_key=key,
            formula=formula,
            distance=float(gap),
            band_structure_id=band_structure,
            method=band_method,
            provenance=provenance or {},
        )
        for entry, material, source, key, formula, gap, band_structure, band_method, provenance in rows
    ]

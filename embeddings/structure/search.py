"""Structure search: the materials nearest to an entry by AMD distance (Å).

One of the searches registered in ``atlas2d.embeddings.search``; it answers with the shared
``Neighbour`` rows, one per other material.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from atlas2d.embeddings.neighbour import Neighbour, SearchError
from atlas2d.embeddings.structure.amd_index import amd_distance, widen_search
from atlas2d.schema.models import Entry, Source, Structure


def similar_by_structure(session: Session, ref: int, k: int = 10, by_material: bool = False) -> list[Neighbour]:
    """The ``k`` materials nearest to an entry (or to a material, with ``by_material``) by AMD.

    The query is plain pgvector SQL, ``ORDER BY amd <-> :query``, which the HNSW index on
    ``structure.amd`` serves; the nearest entry of each other material stands for it.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    query = select(Structure.amd, Entry.material_id).join(Entry, Entry.id == Structure.entry_id)
    if by_material:
        query = query.where(Entry.material_id == ref, Structure.amd.is_not(None)).order_by(Entry.id).limit(1)
    else:
        query = query.where(Structure.entry_id == ref)
    found = session.execute(query).one_or_none()
    if found is None:
        raise SearchError(f"no {'material' if by_material else 'entry'} {ref} with a structure")
    vector, own_material = found
    if vector is None:
        raise SearchError(f"entry {ref} has no invariants yet: run 'atlas2d dedup' first")
    limit = 4 * k
    widen_search(session, limit)
    while True:
        rows = session.execute(
            select(
                Entry.material_id,
                Entry.id,
                Source.name,
                Entry.source_key,
                Structure.chemical_formula_reduced,
                amd_distance(vector),
            )
            .join(Entry, Entry.id == Structure.entry_id)
            .join(Source)
            .where(Structure.amd.is_not(None), Entry.material_id.is_distinct_from(own_material))
            .order_by(amd_distance(vector))
            .limit(limit)
        ).all()
        result: dict[int | None, Neighbour] = {}
        for material, entry, source, key, formula, distance in rows:
            group = material if material is not None else -entry
            if group not in result:
                result[group] = Neighbour(entry, material, source, key, formula, float(distance))
        if len(result) >= k or len(rows) < limit:
            return list(result.values())[:k]
        limit *= 4

"""Candidate duplicate pairs and their confirmation: AMD neighbours, a cheap bound, then the PDD EMD.

Comparing every pair of structures is quadratic and slow, so a pair is only compared when
it is cheap to suspect: the two structures have the same reduced formula and one is among
the other's nearest AMD vectors in PostgreSQL (pgvector ``<->``). A lower bound of the
Earth Mover's distance from the stored AMD prefixes drops most of those pairs before the
PDDs are read; the rest are confirmed when the EMD between their PDDs is at most the
tolerance.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from sqlalchemy import ColumnElement, Integer, any_, bindparam, cast, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY, REAL
from sqlalchemy.orm import Session

from atlas2d.embeddings.structure.amd_index import widen_search
from atlas2d.embeddings.structure.invariants import K_PER_ELEMENT, PDD, emd_lower_bound, pdd_distances
from atlas2d.schema.fetch import binary_results, fetched
from atlas2d.schema.models import Structure

DEFAULT_TOLERANCE = 0.2
"""Å. PDD EMD at or below which two structures of one formula are the same material.

Measured on the labelled set (tests/dedup_labelled.py, poscar2d + MC2D): true duplicates
(supercells, permutations, rotations, vacuum, 0.01-0.05 Å noise, <0.5 % strain, all at once)
reach at most 0.14 Å; the closest true non-duplicates (MC2D's GaS polymorphs, bilayer
stackings, swapped sites) start at 0.41 Å. 0.2 Å sits between them, about a factor 2 from each.
"""

BOUND_SLACK = 1e-3
"""Å. Margin on the AMD lower bound of the EMD for float32 storage and for PDD rows merged
within the invariants' collapse tolerance (1e-4 Å), so the bound never skips a pair the EMD
would merge."""

CANDIDATE_NEIGHBOURS = 10
"""AMD nearest neighbours per structure considered as candidate duplicates."""


def nearest(session: Session, neighbours: int = CANDIDATE_NEIGHBOURS, among: Sequence[int] | None = None) -> list[tuple[int, int, float]]:
    """(structure, neighbour, AMD L2 distance): the nearest AMDs of the same formula of every structure, or of ``among``.

    The same statement serves the full run (every structure) and the incremental one (the
    new structures and the old ones whose neighbours they change), so both see the same kNN.
    """
    widen_search(session, neighbours)
    only = "AND s.entry_id = ANY(CAST(:among AS integer[]))" if among is not None else ""
    return [
        (a, b, float(distance))
        for a, b, distance in session.execute(
            text(
                f"""
                SELECT s.entry_id, n.entry_id, n.distance
                FROM structure s
                CROSS JOIN LATERAL (
                    SELECT t.entry_id, t.amd <-> s.amd AS distance
                    FROM structure t
                    WHERE t.entry_id <> s.entry_id
                      AND t.chemical_formula_reduced = s.chemical_formula_reduced
                      AND t.amd IS NOT NULL
                    ORDER BY t.amd <-> s.amd
                    LIMIT :k
                ) n
                WHERE s.amd IS NOT NULL {only}
                """
            ),
            {"k": neighbours, "among": list(among or [])} if among is not None else {"k": neighbours},
        )
    ]


def as_pairs(rows: Iterable[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """(a, b, AMD distance) with a < b, once each, sorted: the candidate pairs of ``nearest``'s rows."""
    pairs: dict[tuple[int, int], float] = {}
    for a, b, distance in rows:
        pairs[(min(a, b), max(a, b))] = distance
    return [(a, b, d) for (a, b), d in sorted(pairs.items())]


def radii(rows: Iterable[tuple[int, int, float]], neighbours: int) -> dict[int, float]:
    """Each structure's distance to its k-th nearest AMD in ``nearest``'s rows; ``inf`` where it has fewer than k.

    Only a new structure within this radius can enter a structure's candidates; a structure
    without rows (no other of its formula) is not in the result.
    """
    found: dict[int, list[float]] = {}
    for a, _, distance in rows:
        found.setdefault(a, []).append(distance)
    return {a: max(d) if len(d) >= neighbours else float("inf") for a, d in found.items()}


def candidate_pairs(session: Session, neighbours: int = CANDIDATE_NEIGHBOURS) -> list[tuple[int, int, float]]:
    """(a, b, AMD L2 distance) with a < b: each structure's nearest AMDs of the same formula."""
    return as_pairs(nearest(session, neighbours))


def _among(ids: Sequence[int]) -> ColumnElement[bool]:
    """``structure.entry_id`` is one of ``ids``, as one array parameter: an ``IN`` list sends a
    parameter per id, and PostgreSQL refuses more than 65,535 (a store of 100,000 structures)."""
    return Structure.entry_id == any_(bindparam("ids", list(ids), type_=ARRAY(Integer)))


def emd_lower_bounds(session: Session, pairs: Sequence[tuple[int, int, float]]) -> np.ndarray:
    """For each candidate pair, ``invariants.emd_lower_bound`` of their stored AMDs (Å).

    Only the AMD prefix the bound uses is read, as a float array in binary, without
    SQLAlchemy's per-item pass: parsing whole vectors from their text form took most of this
    step's time, and the per-item pass 0.55 s for 5,000 pairs.
    """
    if not pairs:
        return np.zeros(0)
    ids = sorted({i for a, b, _ in pairs for i in (a, b)})
    prefix = fetched(cast(func.subvector(Structure.amd, 1, K_PER_ELEMENT), ARRAY(REAL)))
    with binary_results(session):
        rows = session.execute(select(Structure.entry_id, prefix).where(_among(ids))).all()
    index = {entry_id: n for n, (entry_id, _) in enumerate(rows)}
    amds = np.array([amd for _, amd in rows], dtype=float)
    return emd_lower_bound(amds[[index[a] for a, _, _ in pairs]], amds[[index[b] for _, b, _ in pairs]])


def load_pdds(session: Session, entry_ids: Iterable[int]) -> dict[int, PDD]:
    """Stored PDDs by entry id."""
    ids = sorted(set(entry_ids))
    rows = session.execute(select(Structure.entry_id, Structure.pdd).where(_among(ids))).all()
    return {entry_id: PDD.from_bytes(data) for entry_id, data in rows if data is not None}


def confirm(session: Session, candidates: Sequence[tuple[int, int, float]], tolerance: float) -> list[tuple[float, int, int]]:
    """(PDD EMD, a, b) of the candidate pairs within ``tolerance``; the AMD bound spares most EMDs.

    The remaining EMDs are computed by one compiled, parallel call (``pdd_distances``).
    """
    bounds = emd_lower_bounds(session, candidates)
    plausible = [pair for pair, bound in zip(candidates, bounds, strict=True) if bound <= tolerance + BOUND_SLACK]
    pdds = load_pdds(session, (i for a, b, _ in plausible for i in (a, b)))
    index = {entry_id: n for n, entry_id in enumerate(pdds)}
    distances = pdd_distances(list(pdds.values()), [(index[a], index[b]) for a, b, _ in plausible])
    return [(float(d), a, b) for (a, b, _), d in zip(plausible, distances, strict=True) if d <= tolerance]

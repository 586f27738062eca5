"""Deduplication of entries into materials by 2D isometry invariants: ``run_dedup`` runs the steps.

The same monolayer arrives from C2DB, 2DMatPedia and MC2D in other cells, atom orders,
frames, vacuum and relaxation noise. Comparing every pair with a structure matcher is
quadratic and slow, so dedup works in cheap steps, one module each:

1. ``refresh``: every structure gets its invariants once (the AMD in the pgvector column
   ``structure.amd``, the PDD in ``structure.pdd``);
2. ``candidates``: pairs are the nearest neighbours of each AMD in PostgreSQL, among
   structures of the same reduced formula, confirmed when the Earth Mover's distance between
   the two PDDs is at most the tolerance;
3. ``clustering``: confirmed pairs and the curators' ``overrides`` are joined by union-find
   into clusters, which become materials; each union is written to ``merge_evidence``;
4. entries without a structure are linked again by ``atlas2d.ingest.linking.RULE``, since
   the materials they could join have just changed.

``explain`` and ``report`` then say why entries share a material. Every run recomputes the
clusters from the stored invariants (which are cached), so a re-run after an override or a
tolerance change is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from atlas2d.embeddings.refresh import Progress
from atlas2d.embeddings.structure import refresh
from atlas2d.embeddings.structure.candidates import CANDIDATE_NEIGHBOURS, DEFAULT_TOLERANCE, candidate_pairs, confirm
from atlas2d.embeddings.structure.clustering import assign_materials, cluster, write_evidence
from atlas2d.embeddings.structure.explain import report
from atlas2d.embeddings.structure.overrides import load_overrides
from atlas2d.ingest.linking import relink
from atlas2d.schema.database import refresh_statistics
from atlas2d.schema.models import Structure


@dataclass
class DedupSummary:
    """What one dedup run found and did."""

    structures: int = 0
    computed: int = 0
    candidates: int = 0
    confirmed: int = 0
    merges: int = 0
    refused_by_split: int = 0
    materials: int = 0
    duplicate_clusters: int = 0
    cross_source_clusters: int = 0
    linked_without_structure: int = 0
    own_without_structure: int = 0


def run_dedup(
    session: Session,
    tolerance: float = DEFAULT_TOLERANCE,
    neighbours: int = CANDIDATE_NEIGHBOURS,
    device: str = "auto",
    progress: Progress | None = None,
) -> DedupSummary:
    """Compute missing invariants, cluster all structures, assign materials, record evidence.

    ``progress`` is called after each batch of invariants computed, with its size.
    """
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be a non-negative number of Å, not {tolerance}")
    if neighbours < 1:
        raise ValueError(f"neighbours must be at least 1, not {neighbours}")
    summary = DedupSummary()
    summary.computed = refresh.refresh(session, device=device, progress=progress)
    entries = session.execute(select(Structure.entry_id).order_by(Structure.entry_id)).scalars().all()
    summary.structures = len(entries)
    candidates = candidate_pairs(session, neighbours)
    summary.candidates = len(candidates)
    confirmed = confirm(session, candidates, tolerance)
    summary.confirmed = len(confirmed)
    found = cluster(entries, confirmed, load_overrides(session), tolerance)
    summary.merges = len(found.evidence)
    summary.refused_by_split = found.refused_by_split
    assign_materials(session, found.clusters)
    links = relink(session)
    summary.linked_without_structure, summary.own_without_structure = links.linked, links.own
    write_evidence(session, found.evidence)
    refresh_statistics(session.connection())
    session.commit()
    summary.materials = len(found.clusters)
    summary.duplicate_clusters = sum(1 for c in found.clusters if len(c) > 1)
    summary.cross_source_clusters = len(report(session))
    return summary

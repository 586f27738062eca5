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

``explain`` and ``report`` then say why entries share a material. A run recomputes every
cluster from the stored invariants (which are cached) when it must: the first run, a
changed tolerance, neighbour count or override, other invariants, a structure removed or
replaced, or ``full=True``; otherwise it only adds the structures stored since the last run
(``incremental``), with the same result, in time that follows the number of new structures.
``dedup_state`` says which inputs the stored clusters were made with.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atlas2d.embeddings.refresh import Progress
from atlas2d.embeddings.structure import refresh
from atlas2d.embeddings.structure.candidates import CANDIDATE_NEIGHBOURS, DEFAULT_TOLERANCE, as_pairs, confirm, nearest, radii
from atlas2d.embeddings.structure.clustering import assign_materials, cluster, write_evidence
from atlas2d.embeddings.structure.dedup_state import Inputs, new_structures, save_full, why_full
from atlas2d.embeddings.structure.explain import duplicate_counts
from atlas2d.embeddings.structure.incremental import add_new
from atlas2d.embeddings.structure.overrides import load_overrides
from atlas2d.ingest.linking import relink
from atlas2d.schema.database import refresh_statistics
from atlas2d.schema.models import DedupState, MergeEvidence, Structure


@dataclass
class DedupSummary:
    """What one dedup run found and did.

    ``candidates``, ``confirmed`` and ``refused_by_split`` count what this run examined: every
    structure's pairs in a full run, the new structures' pairs (and the re-clustered part) in
    an incremental one; ``merges`` and the material counts are the whole store's after the run.
    """

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
    incremental: bool = False
    full_because: str | None = None
    """Why the run recomputed every cluster (``None`` for an incremental run)."""
    new_structures: int = 0
    reverse_neighbours: int = 0
    """Old structures whose k nearest a new one entered (incremental runs)."""
    dropped_pairs: int = 0
    reclustered: int = 0
    """Structures in the part of the pair graph an incremental run clustered again."""
    invariants_s: float = 0.0
    clustering_s: float = 0.0
    """Seconds computing and storing invariants, then pairing, clustering and recording (counts included)."""


def run_dedup(
    session: Session,
    tolerance: float = DEFAULT_TOLERANCE,
    neighbours: int = CANDIDATE_NEIGHBOURS,
    device: str = "auto",
    progress: Progress | None = None,
    full: bool = False,
) -> DedupSummary:
    """Compute missing invariants, cluster the structures (all, or only the new ones), assign materials, record evidence.

    ``progress`` is called after each batch of invariants computed, with its size; ``full``
    recomputes every cluster even when an incremental run would do.
    """
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be a non-negative number of Å, not {tolerance}")
    if neighbours < 1:
        raise ValueError(f"neighbours must be at least 1, not {neighbours}")
    summary = DedupSummary()
    started = time.perf_counter()
    summary.computed = refresh.refresh(session, device=device, progress=progress)
    summary.invariants_s = time.perf_counter() - started
    inputs = Inputs(tolerance, neighbours, load_overrides(session))
    summary.full_because = "asked for (--full)" if full else why_full(session, inputs)
    if summary.full_because is None:
        _incremental(session, inputs, summary)
    else:
        _full(session, inputs, summary)
    session.commit()
    summary.structures = session.execute(select(func.count()).select_from(Structure)).scalar_one()
    summary.merges = session.execute(select(func.count()).select_from(MergeEvidence)).scalar_one()
    summary.materials, summary.duplicate_clusters, summary.cross_source_clusters = duplicate_counts(session)
    summary.clustering_s = time.perf_counter() - started - summary.invariants_s
    return summary


def _full(session: Session, inputs: Inputs, summary: DedupSummary) -> None:
    """Every structure's candidates, every cluster, every link, every piece of evidence; then the record for the next run."""
    entries = session.execute(select(Structure.entry_id).order_by(Structure.entry_id)).scalars().all()
    rows = nearest(session, inputs.neighbours)
    candidates = as_pairs(rows)
    summary.candidates = len(candidates)
    confirmed = confirm(session, candidates, inputs.tolerance)
    summary.confirmed = len(confirmed)
    found = cluster(entries, confirmed, inputs.overrides, inputs.tolerance)
    summary.refused_by_split = found.refused_by_split
    assign_materials(session, found.clusters)
    links = relink(session)
    summary.linked_without_structure, summary.own_without_structure = links.linked, links.own
    write_evidence(session, found.evidence)
    save_full(session, inputs, radii(rows, inputs.neighbours), confirmed)
    refresh_statistics(session.connection())


def _incremental(session: Session, inputs: Inputs, summary: DedupSummary) -> None:
    """Only the structures stored since the last run, joined to the stored clusters (``incremental.add_new``)."""
    summary.incremental = True
    state = session.get(DedupState, 1)
    assert state is not None
    new = new_structures(session, state.last_entry_id)
    if not new:
        return
    done = add_new(session, new, state.last_entry_id, inputs)
    summary.new_structures, summary.reverse_neighbours = done.new, done.reverse
    summary.candidates, summary.confirmed, summary.dropped_pairs = done.candidates, done.confirmed, done.dropped
    summary.reclustered, summary.refused_by_split = done.component, done.clustering.refused_by_split
    summary.linked_without_structure, summary.own_without_structure = done.links.linked, done.links.own

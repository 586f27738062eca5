"""Add new structures to the stored clusters with the result a full dedup would give, touching only what they change.

A full run's candidate pairs are every structure's k nearest AMDs of its formula. New
structures change that set in exactly three ways, which this module finds without looking at
the rest of the store:

1. the new structures' own k nearest (old or new): new pairs;
2. old structures whose k nearest now include a new one: exactly those with a new structure
   of their formula within their stored radius (the distance to their k-th nearest at the
   last run, ``dedup_neighbourhood``; ``inf`` with fewer than k). Their pairs with the new
   ones are new pairs; and
3. the new structures push an old neighbour out of those structures' k nearest: a stored
   confirmed pair (a, b) with an end among them stays a candidate only if b is still among
   a's k nearest or a among b's, so those ends' kNN are asked again and the pairs that lost
   both directions are dropped. Old pairs never appear: adding points only pushes old
   neighbours out.

Old pairs that stay keep their verdict (same invariants, same tolerance). The new pairs are
confirmed by the PDD EMD as in a full run. Union-find nearest first, with splits, gives on a
connected part of the graph of confirmed pairs and joins the same clusters whether it runs
on that part or on the whole store (unions in one part never test entries of another), so
only the part reachable from the new structures, the dropped pairs and the new confirmed
pairs is clustered again; its materials are assigned, its evidence replaced, and the linking
rule re-run for its formulas. Equal to a full run as far as the kNN statement is exact (the
HNSW index is approximate, in both runs alike).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Integer, any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from atlas2d.embeddings.structure.candidates import confirm, nearest, radii
from atlas2d.embeddings.structure.clustering import Clustering, assign_materials, cluster, write_evidence
from atlas2d.embeddings.structure.dedup_state import Inputs, pairs_touching, save_incremental
from atlas2d.embeddings.structure.overrides import JOIN_ACTION
from atlas2d.ingest.linking import RelinkSummary, relink
from atlas2d.schema.models import Entry, Structure


@dataclass
class Increment:
    """What an incremental run looked at and changed."""

    new: int
    reverse: int
    candidates: int
    confirmed: int
    dropped: int
    component: int
    clustering: Clustering
    links: RelinkSummary


def reverse_neighbours(session: Session, new: Sequence[int]) -> list[int]:
    """Old structures with a new one of their formula within their stored kNN radius: their k nearest changed."""
    if not new:
        return []
    rows = session.execute(
        text(
            "SELECT DISTINCT s.entry_id FROM structure n"
            " JOIN structure s ON s.chemical_formula_reduced = n.chemical_formula_reduced AND s.entry_id <> n.entry_id"
            " JOIN dedup_neighbourhood r ON r.entry_id = s.entry_id"
            " WHERE n.entry_id = ANY(CAST(:new AS integer[])) AND s.amd <-> n.amd <= r.radius"
        ),
        {"new": list(new)},
    )
    return sorted(rows.scalars())


def add_new(session: Session, new: Sequence[int], after: int, inputs: Inputs) -> Increment:
    """Join the ``new`` structures (entry ids, all above ``after``, the last entry id the last run saw) to the stored clusters.

    The caller commits.
    """
    fresh = set(new)
    reverse = [s for s in reverse_neighbours(session, new) if s not in fresh]
    rows = nearest(session, inputs.neighbours, sorted(fresh | set(reverse)))
    knn: dict[int, set[int]] = {}
    for a, b, _ in rows:
        knn.setdefault(a, set()).add(b)
    stored = pairs_touching(session, reverse)
    others = sorted({e for _, a, b in stored for e in (a, b)} - fresh - set(reverse))
    for a, b, _ in nearest(session, inputs.neighbours, others):
        knn.setdefault(a, set()).add(b)
    dropped = [(a, b) for _, a, b in stored if b not in knn.get(a, ()) and a not in knn.get(b, ())]
    candidates: dict[tuple[int, int], float] = {}
    for a, b, distance in rows:
        if a in fresh or b in fresh:
            candidates[(min(a, b), max(a, b))] = distance
    confirmed = confirm(session, [(a, b, d) for (a, b), d in sorted(candidates.items())], inputs.tolerance)
    changed = fresh | set(reverse)
    kth = {e: float("inf") for e in fresh} | {e: r for e, r in radii(rows, inputs.neighbours).items() if e in changed}
    save_incremental(session, inputs, kth, dropped, confirmed)
    starts = fresh | {e for pair in dropped for e in pair} | {e for _, a, b in confirmed for e in (a, b)}
    members, pairs = _connected(session, starts, inputs.overrides)
    within = [(a, b, action) for a, b, action in inputs.overrides if a in members and b in members]
    found = cluster(sorted(members), pairs, within, inputs.tolerance)
    assign_materials(session, found.clusters, partial=True)
    write_evidence(session, found.evidence, among=sorted(members))
    links = relink(session, _formulas(session, members, after))
    return Increment(len(fresh), len(reverse), len(candidates), len(confirmed), len(dropped), len(members), found, links)


def _connected(
    session: Session, starts: set[int], overrides: Sequence[tuple[int, int, str]]
) -> tuple[set[int], list[tuple[float, int, int]]]:
    """The structures connected to ``starts`` by stored confirmed pairs or join overrides, and those pairs.

    Asks the pair table for the edges of each new frontier only, so the cost follows the
    size of the part, not of the store.
    """
    structured = _structured(session, {e for a, b, action in overrides if action == JOIN_ACTION for e in (a, b)})
    joins: dict[int, set[int]] = {}
    for a, b, action in overrides:
        if action == JOIN_ACTION and a in structured and b in structured:
            joins.setdefault(a, set()).add(b)
            joins.setdefault(b, set()).add(a)
    members = set(starts)
    frontier = set(starts)
    pairs: dict[tuple[int, int], float] = {}
    while frontier:
        reached: set[int] = set()
        for distance, a, b in pairs_touching(session, sorted(frontier)):
            pairs[(a, b)] = distance
            reached.update((a, b))
        for e in frontier:
            reached.update(joins.get(e, ()))
        frontier = reached - members
        members |= frontier
    return members, [(d, a, b) for (a, b), d in pairs.items()]


def _structured(session: Session, entry_ids: set[int]) -> set[int]:
    """Which of ``entry_ids`` have a structure (a join override only binds two structures)."""
    if not entry_ids:
        return set()
    ids = bindparam("ids", sorted(entry_ids), type_=ARRAY(Integer))
    return set(session.execute(select(Structure.entry_id).where(Structure.entry_id == any_(ids))).scalars())


def _formulas(session: Session, members: set[int], after: int) -> set[str]:
    """Reduced formulas whose structureless entries the linking rule must see again.

    The formulas of the re-clustered structures (their materials may have changed), and of the
    structureless entries stored since the last run (linked at ingest before this run's merges).
    """
    ids = bindparam("ids", sorted(members), type_=ARRAY(Integer))
    found = set(session.execute(select(Structure.chemical_formula_reduced).where(Structure.entry_id == any_(ids)).distinct()).scalars())
    late = (
        select(Entry.chemical_formula_reduced)
        .outerjoin(Structure, Structure.entry_id == Entry.id)
        .where(Entry.id > after, Structure.entry_id.is_(None))
        .distinct()
    )
    return found | set(session.execute(late).scalars())

